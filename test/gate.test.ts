import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { signCode } from "../src/gate/codes";
import { TicketSeller } from "../src/ticket/ticket-seller";
import { api, asAdmin, asGate, asUser, buy, createTicket, expectProblem, postJson } from "./helpers";

// Entries, their codes and the gate: each admitted person once.

interface Entry {
  id: number;
  purchase_id: number;
  code: string | null;
  status: string;
  checked_in_at: string | null;
}
interface Answer {
  result: "admitted" | "rejected";
  reason?: string;
  entry: { id: number; status: string; checked_in_gate: string | null } | null;
  ticket: { id: number; name: string; type: string } | null;
  checked_in_at: string | null;
  first_checked_in_at?: string;
  first_gate?: string | null;
  conflict?: true;
}

/** A confirmed purchase of `quantity`, with its entries and their codes. */
async function bought(quantity = 1, user = 7) {
  const ticket = await createTicket({ stock: 100, max_per_order: 20 });
  const purchase = (await buy({ user_id: user, ticket_id: ticket.id, quantity })).body as { id: number };
  const read = await api(`/purchases/${purchase.id}`, { headers: await asUser(user) });
  const { entries } = (await read.json()) as { entries: Entry[] };
  return { ticket, purchase, entries };
}

let nonces = 0;
const nonce = () => `n-${Date.now()}-${++nonces}`;
const scan = async (code: string, gate: Record<string, string>, n = nonce(), where?: string) => {
  const res = await postJson("/checkins", { code, nonce: n, ...(where ? { gate: where } : {}) }, gate);
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
};

describe("entries and their codes", () => {
  it("gives a confirmed purchase one entry per person, each with a short URL-safe code", async () => {
    const { purchase, entries } = await bought(3);
    expect(entries.map((e) => e.id)).toEqual([1, 2, 3].map((n) => purchase.id * 1000 + n));
    for (const e of entries) {
      expect(e).toMatchObject({ purchase_id: purchase.id, status: "valid", checked_in_at: null });
      expect(e.code!.length).toBeLessThanOrEqual(128);
      expect(e.code).toMatch(/^[A-Za-z0-9_-]+$/);
    }
    expect(new Set(entries.map((e) => e.code)).size).toBe(3);
    const hold = (await (
      await postJson("/tickets/hold", { user_id: 7, ticket_id: (await createTicket()).id })
    ).json()) as { id: number };
    const held = (await (await api(`/purchases/${hold.id}`, { headers: asAdmin })).json()) as { entries: Entry[] };
    expect(held.entries).toEqual([]); // codes exist only for confirmed purchases
  });

  it("verifies offline with nothing but the published public key", async () => {
    const { ticket, entries } = await bought();
    const res = await api(`/games/${ticket.game_id}/gate-keys`);
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as { keys: { kid: string; x: string; kty: string; crv: string }[] };
    // An independent reading of the format: "E1" + base64url(payload || 64-byte signature).
    const code = entries[0]!.code!;
    const bytes = Uint8Array.from(atob(code.slice(2).replaceAll("-", "+").replaceAll("_", "/")), (c) =>
      c.charCodeAt(0),
    );
    const payload = bytes.subarray(0, bytes.length - 64);
    const kid = new TextDecoder().decode(payload.subarray(1, 1 + payload[0]!));
    const jwk = keys.find((k) => k.kid === kid)!;
    const key = await crypto.subtle.importKey(
      "jwk",
      { kty: jwk.kty, crv: jwk.crv, x: jwk.x },
      { name: "Ed25519" },
      false,
      ["verify"],
    );
    expect(await crypto.subtle.verify("Ed25519", key, bytes.subarray(payload.length), payload)).toBe(true);
    expect(JSON.stringify(keys)).not.toContain('"d"'); // no private half published
  });
});

describe("POST /checkins", () => {
  it("admits one of 50 concurrent scans of one code; the 49 others are already_checked_in, with when and where", async () => {
    const { ticket, entries } = await bought();
    const gates = await Promise.all(Array.from({ length: 50 }, (_, i) => asGate([ticket.game_id], `scanner-${i}`)));
    const answers = await Promise.all(gates.map((g, i) => scan(entries[0]!.code!, g, nonce(), `gate ${i}`)));
    const admitted = answers.filter((a) => a.result === "admitted");
    expect(admitted).toHaveLength(1);
    const others = answers.filter((a) => a.result === "rejected");
    expect(others).toHaveLength(49);
    for (const a of others) {
      expect(a).toMatchObject({
        reason: "already_checked_in",
        first_checked_in_at: admitted[0]!.checked_in_at,
        first_gate: admitted[0]!.entry!.checked_in_gate,
      });
    }
  });

  it("shows the scanner which ticket the entry is for", async () => {
    const ticket = await createTicket({ name: "Family Corner", type: "child" });
    const purchase = (await buy({ user_id: 7, ticket_id: ticket.id })).body as { id: number };
    const read = await api(`/purchases/${purchase.id}`, { headers: asAdmin });
    const { entries } = (await read.json()) as { entries: Entry[] };
    const gate = await asGate([ticket.game_id]);
    const shown = { id: ticket.id, name: "Family Corner", type: "child" };
    expect(await scan(entries[0]!.code!, gate)).toMatchObject({ result: "admitted", ticket: shown });
    expect(await scan(entries[0]!.code!, gate)).toMatchObject({ reason: "already_checked_in", ticket: shown });
    expect((await scan("not a code", gate)).ticket).toBeNull();
  });

  it("answers the same nonce with the identical answer", async () => {
    const { ticket, entries } = await bought();
    const gate = await asGate([ticket.game_id]);
    const n = nonce();
    const first = await scan(entries[0]!.code!, gate, n);
    const again = await scan(entries[0]!.code!, gate, n);
    expect(first.result).toBe("admitted");
    expect(again).toEqual(first);
    expect((await scan(entries[0]!.code!, gate)).reason).toBe("already_checked_in"); // a new nonce is a new scan
  });

  it("rejects forged, tampered, unknown-key, wrong-game, unconfirmed, cancelled and revoked codes with their reason", async () => {
    const { ticket, purchase, entries } = await bought(3);
    const gate = await asGate([ticket.game_id]);
    const code = entries[0]!.code!;
    const tampered = code.slice(0, 20) + (code[20] === "A" ? "B" : "A") + code.slice(21);
    const stranger = { kty: "OKP" as const, crv: "Ed25519" as const, kid: "k2", ...(await newKey()) }; // our kid, not our key
    const forged = await signCode(stranger, { entryId: entries[1]!.id, ticketId: ticket.id, gameId: ticket.game_id });
    const unknown = await signCode(
      { kty: "OKP", crv: "Ed25519", kid: "k9", ...(await newKey()) },
      { entryId: entries[1]!.id, ticketId: ticket.id, gameId: ticket.game_id },
    );
    for (const bad of [tampered, forged, unknown, "not a code", `E1${"A".repeat(120)}`]) {
      expect((await scan(bad, gate)).reason).toBe("invalid");
    }
    expect((await scan(code, await asGate([ticket.game_id + 1]))).reason).toBe("wrong_game");
    // A code signed with the real key for a held purchase's would-be entry: not confirmed.
    const holdTicket = await createTicket();
    const hold = (await (await postJson("/tickets/hold", { user_id: 7, ticket_id: holdTicket.id })).json()) as {
      id: number;
    };
    const key = JSON.parse(env.ENTRY_SIGNING_KEY!);
    const unconfirmed = await signCode(key, {
      entryId: hold.id * 1000 + 1,
      ticketId: holdTicket.id,
      gameId: holdTicket.game_id,
    });
    expect((await scan(unconfirmed, await asGate([holdTicket.game_id]))).reason).toBe("not_confirmed");
    // Cancelled and revoked.
    expect((await postJson(`/entries/${entries[1]!.id}/cancel`, {}, asAdmin)).status).toBe(200);
    expect((await scan(entries[1]!.code!, gate)).reason).toBe("cancelled");
    const reissued = await postJson(`/entries/${entries[2]!.id}/reissue`, {}, await asUser(7));
    expect(reissued.status).toBe(200);
    const fresh = (await reissued.json()) as Entry;
    expect(fresh.id).toBe(purchase.id * 1000 + 4);
    expect((await scan(entries[2]!.code!, gate)).reason).toBe("revoked");
    expect((await scan(fresh.code!, gate)).result).toBe("admitted");
  });

  it("keeps admitting codes of a rotated-out key while it is listed", async () => {
    const { ticket, entries } = await bought();
    const old = await signCode(env.TEST_OLD_ENTRY_KEY, {
      entryId: entries[0]!.id,
      ticketId: ticket.id,
      gameId: ticket.game_id,
    });
    expect(old).not.toBe(entries[0]!.code);
    const keys = (await (await api(`/games/${ticket.game_id}/gate-keys`)).json()) as { keys: { kid: string }[] };
    expect(keys.keys.map((k) => k.kid)).toEqual(["k2", "k1"]);
    expect((await scan(old, await asGate([ticket.game_id]))).result).toBe("admitted");
    // Once removed from ENTRY_VERIFY_KEYS, its codes are invalid.
    const { app } = await import("../src/index");
    const res = await app.fetch(
      new Request("http://tickets.test/checkins", {
        method: "POST",
        headers: { ...(await asGate([ticket.game_id])), "Content-Type": "application/json" },
        body: JSON.stringify({ code: old, nonce: nonce() }),
      }),
      { ...env, ENTRY_VERIFY_KEYS: "[]" },
    );
    expect(((await res.json()) as Answer).reason).toBe("invalid");
  });

  it("lets a gate token scan, and nothing else", async () => {
    const ticket = await createTicket();
    const gate = await asGate([ticket.game_id]);
    await expectProblem(await postJson("/tickets/buy", { user_id: 1, ticket_id: ticket.id }, gate), 403, "forbidden");
    await expectProblem(await postJson("/tickets/hold", { user_id: 1, ticket_id: ticket.id }, gate), 403, "forbidden");
    await expectProblem(await api("/tickets/user/1", { headers: gate }), 403, "forbidden");
    await expectProblem(
      await postJson("/tickets", { game_id: 1, name: "x", price: 1, stock: 1 }, gate),
      403,
      "forbidden",
    );
    await expectProblem(await api("/tickets", { headers: gate }), 403, "forbidden");
    await expectProblem(await postJson("/checkins", { code: "E1x", nonce: "n" }, await asUser(1)), 403, "forbidden");
    const bad = await userTokenWithGames("not-a-list");
    await expectProblem(await postJson("/checkins", { code: "E1x", nonce: "n" }, bad), 401, "unauthorized");
  });
});

describe("DELETE /checkins/{entry_id}", () => {
  it("undoes a check-in, after which the entry is admitted again", async () => {
    const { ticket, entries } = await bought();
    const gate = await asGate([ticket.game_id]);
    expect((await scan(entries[0]!.code!, gate)).result).toBe("admitted");
    const undo = await api(`/checkins/${entries[0]!.id}`, { method: "DELETE", headers: asAdmin });
    expect(undo.status).toBe(200);
    expect(await undo.json()).toMatchObject({ id: entries[0]!.id, status: "valid", checked_in_at: null });
    expect((await scan(entries[0]!.code!, gate)).result).toBe("admitted");
    await expectProblem(
      await api(`/checkins/${entries[0]!.id}`, { method: "DELETE", headers: gate }),
      403,
      "forbidden",
    );
    const again = await api(`/checkins/${entries[0]!.id}`, { method: "DELETE", headers: asAdmin });
    expect(again.status).toBe(200);
    await expectProblem(
      await api(`/checkins/${entries[0]!.id}`, { method: "DELETE", headers: asAdmin }),
      409,
      "invalid_state",
    );
  });
});

describe("POST /entries/{entry_id}/cancel", () => {
  it("gives back exactly one unit; the purchase is cancelled with its last entry; not after check-in", async () => {
    const { ticket, purchase, entries } = await bought(2);
    const sold = async () => ((await (await api(`/tickets/${ticket.id}`)).json()) as { sold: number }).sold;
    expect(await sold()).toBe(2);
    expect((await postJson(`/entries/${entries[0]!.id}/cancel`, {}, await asUser(8))).status).toBe(403);
    // Its owner too: confirmed units go back through the box office (as a purchase's do).
    await expectProblem(await postJson(`/entries/${entries[0]!.id}/cancel`, {}, await asUser(7)), 403, "forbidden");
    const one = await postJson(`/entries/${entries[0]!.id}/cancel`, {}, asAdmin);
    expect(await one.json()).toMatchObject({ id: entries[0]!.id, status: "cancelled", code: null });
    expect(await sold()).toBe(1);
    const still = (await (await api(`/purchases/${purchase.id}`, { headers: asAdmin })).json()) as { status: string };
    expect(still.status).toBe("confirmed");
    expect((await scan(entries[1]!.code!, await asGate([ticket.game_id]))).result).toBe("admitted");
    await expectProblem(await postJson(`/entries/${entries[1]!.id}/cancel`, {}, asAdmin), 409, "checked_in");
    await api(`/checkins/${entries[1]!.id}`, { method: "DELETE", headers: asAdmin });
    expect((await postJson(`/entries/${entries[1]!.id}/cancel`, {}, asAdmin)).status).toBe(200);
    expect(await sold()).toBe(0);
    const gone = (await (await api(`/purchases/${purchase.id}`, { headers: asAdmin })).json()) as { status: string };
    expect(gone.status).toBe("cancelled");
  });

  it("answers a repeated cancel with the cancelled entry, as its retry advice says", async () => {
    const { entries } = await bought(2);
    const original = TicketSeller.prototype.cancelEntry;
    // The object cancels the entry, and its answer breaks on the way back (a reset, a deploy).
    TicketSeller.prototype.cancelEntry = async function (this: TicketSeller, ...args: Parameters<typeof original>) {
      await original.apply(this, args);
      throw new Error("Durable Object reset because its code was updated.");
    };
    let first: Response;
    try {
      first = await postJson(`/entries/${entries[0]!.id}/cancel`, {}, asAdmin);
    } finally {
      TicketSeller.prototype.cancelEntry = original;
    }
    const problem = await expectProblem(first, 503, "outcome_unknown");
    expect(problem.detail).toMatch(/Cancelling again answers the cancelled entry/);
    const retry = await postJson(`/entries/${entries[0]!.id}/cancel`, {}, asAdmin);
    expect(retry.status).toBe(200);
    expect(await retry.json()).toMatchObject({ id: entries[0]!.id, status: "cancelled" });
  });

  it("counts only the entries still held against max_per_user, and refuses cancelling a purchase someone entered on", async () => {
    const ticket = await createTicket({ stock: 10, max_per_user: 2 });
    const p = (await buy({ user_id: 9, ticket_id: ticket.id, quantity: 2 })).body as { id: number };
    await postJson(`/entries/${p.id * 1000 + 1}/cancel`, {}, asAdmin);
    expect((await buy({ user_id: 9, ticket_id: ticket.id })).status).toBe(200); // one unit was given back
    const { entries } = (await (await api(`/purchases/${p.id}`, { headers: asAdmin })).json()) as { entries: Entry[] };
    await scan(entries[1]!.code!, await asGate([ticket.game_id]));
    await expectProblem(await postJson(`/purchases/${p.id}/cancel`, {}, asAdmin), 409, "checked_in");
  });
});

describe("POST /checkins/batch (offline scans)", () => {
  it("records an entry two gates admitted offline once, at the earliest scan, and reports the conflict", async () => {
    const { ticket, entries } = await bought(2);
    const gate = await asGate([ticket.game_id], "north-3");
    const t0 = Date.now() - 60_000;
    const at = (s: number) => new Date(t0 + s * 1000).toISOString();
    const scans = [
      { code: entries[0]!.code!, nonce: nonce(), scanned_at: at(20), gate: "south" },
      { code: entries[0]!.code!, nonce: nonce(), scanned_at: at(10), gate: "north" },
      { code: entries[1]!.code!, nonce: nonce(), scanned_at: at(15) },
      { code: "forged", nonce: nonce(), scanned_at: at(16) },
    ];
    const res = await postJson("/checkins/batch", { scans }, gate);
    expect(res.status).toBe(200);
    const { answers } = (await res.json()) as { answers: (Answer & { nonce: string })[] };
    expect(answers.map((a) => a.nonce)).toEqual(scans.map((s) => s.nonce));
    expect(answers[1]).toMatchObject({ result: "admitted", checked_in_at: at(10), ticket: { id: ticket.id } });
    expect(answers[0]).toMatchObject({
      result: "rejected",
      reason: "already_checked_in",
      conflict: true,
      first_checked_in_at: at(10),
      first_gate: "north",
    });
    expect(answers[2]).toMatchObject({ result: "admitted", checked_in_at: at(15) });
    expect(answers[3]).toMatchObject({ result: "rejected", reason: "invalid", ticket: null });
    // The same upload again answers the same (nonces).
    const again = (await (await postJson("/checkins/batch", { scans }, gate)).json()) as { answers: Answer[] };
    expect(again.answers).toEqual(answers);
  });

  it("refuses more than 500 scans, and scan times in the future", async () => {
    const ticket = await createTicket();
    const gate = await asGate([ticket.game_id]);
    const one = { code: "E1x", nonce: "n", scanned_at: new Date().toISOString() };
    await expectProblem(
      await postJson("/checkins/batch", { scans: Array(501).fill(one) }, gate),
      400,
      "validation_error",
    );
    const future = { ...one, scanned_at: new Date(Date.now() + 3_600_000).toISOString() };
    await expectProblem(await postJson("/checkins/batch", { scans: [future] }, gate), 400, "validation_error");
  });
});

describe("GET /entries/{entry_id}/qr.svg", () => {
  it("draws the entry's code for its owner and the admin only; a cancelled entry has none", async () => {
    const { entries } = await bought(2);
    const image = await api(`/entries/${entries[0]!.id}/qr.svg`, { headers: await asUser(7) });
    expect(image.status).toBe(200);
    expect(image.headers.get("Content-Type")).toBe("image/svg+xml");
    expect(image.headers.get("Cache-Control")).toBe("private, no-store");
    const svg = await image.text();
    expect(svg).toMatch(/^<svg [^>]*viewBox="-4 -4 \d+ \d+"[^>]*><rect [^>]*fill="#fff"><\/rect><path d="M/); // e2e decodes it
    const byAdmin = await api(`/entries/${entries[0]!.id}/qr.svg`, { headers: asAdmin });
    expect(await byAdmin.text()).toBe(svg); // one code, one image
    await expectProblem(await api(`/entries/${entries[0]!.id}/qr.svg`, { headers: await asUser(8) }), 403, "forbidden");
    await expectProblem(await api(`/entries/${entries[0]!.id}/qr.svg`), 401, "unauthorized");
    await expectProblem(await api(`/entries/${entries[0]!.id + 7}/qr.svg`, { headers: asAdmin }), 404, "not_found");
    await expectProblem(await api("/entries/abc/qr.svg", { headers: asAdmin }), 400, "validation_error");
    await postJson(`/entries/${entries[1]!.id}/cancel`, {}, asAdmin);
    const cancelled = await api(`/entries/${entries[1]!.id}/qr.svg`, { headers: asAdmin });
    expect(await expectProblem(cancelled, 409, "invalid_state")).toMatchObject({ entry_status: "cancelled" });
  });
});

describe("GET /games/{game_id}/gate-sync", () => {
  it("feeds the game's check-ins, cancellations and revocations since a cursor", async () => {
    const { ticket, entries } = await bought(3);
    const gate = await asGate([ticket.game_id]);
    const sync = async (since: string) => {
      const res = await api(`/games/${ticket.game_id}/gate-sync?since=${since}`, { headers: gate });
      expect(res.status).toBe(200);
      return (await res.json()) as { changes: { entry_id: number; status: string }[]; cursor: string; more: boolean };
    };
    const start = await sync("0");
    await scan(entries[0]!.code!, gate);
    await postJson(`/entries/${entries[1]!.id}/cancel`, {}, asAdmin);
    await postJson(`/entries/${entries[2]!.id}/reissue`, {}, asAdmin);
    const next = await sync(start.cursor);
    expect(next.changes.map((c) => [c.entry_id, c.status])).toEqual([
      [entries[0]!.id, "checked_in"],
      [entries[1]!.id, "cancelled"],
      [entries[2]!.id, "revoked"],
    ]);
    expect((await sync(next.cursor)).changes).toEqual([]);
    const asAdminToo = await api(`/games/${ticket.game_id}/gate-sync?since=${start.cursor}`, { headers: asAdmin });
    expect(((await asAdminToo.json()) as { changes: unknown[] }).changes).toEqual(next.changes);
    await expectProblem(
      await api(`/games/${ticket.game_id}/gate-sync`, { headers: await asUser(7) }),
      403,
      "forbidden",
    );
    await expectProblem(
      await api(`/games/${ticket.game_id}/gate-sync`, { headers: await asGate([ticket.game_id + 1]) }),
      403,
      "forbidden",
    );
  });
});

async function newKey() {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const jwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
  return { x: jwk.x!, d: jwk.d! };
}

async function userTokenWithGames(games: unknown) {
  const { userToken } = await import("./helpers");
  return { Authorization: `Bearer ${await userToken("scanner-x", { role: "gate", games })}` };
}
