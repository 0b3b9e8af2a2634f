import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { signCode } from "../src/gate/codes";
import { d1Down, interceptD1 } from "./d1";
import { api, asAdmin, asGate, asUser, buy, createTicket, freshGameId, postJson, sellerOf } from "./helpers";

// The gate's edges, found by an adversarial review: each test failed on the
// code before its fix.

interface Answer {
  nonce?: string;
  result: string;
  reason?: string;
  conflict?: true;
  first_checked_in_at?: string;
  first_gate?: string | null;
  entry: { id: number; status: string } | null;
}
type Entry = { id: number; code: string; status: string; checked_in_at: string | null };

async function bought(quantity = 1) {
  const ticket = await createTicket({ stock: 100, max_per_order: 20 });
  const purchase = (await buy({ user_id: 7, ticket_id: ticket.id, quantity })).body as { id: number };
  return { ticket, purchase, entries: await entriesOf(purchase.id) };
}
const entriesOf = async (purchaseId: number) =>
  ((await (await api(`/purchases/${purchaseId}`, { headers: asAdmin })).json()) as { entries: Entry[] }).entries;
const scan = async (body: object, headers: Record<string, string>) =>
  (await (await postJson("/checkins", body, headers)).json()) as Answer;
const upload = (scans: object[], headers: Record<string, string>) => postJson("/checkins/batch", { scans }, headers);

describe("a scanner's nonce used for another code", () => {
  it("live: decides nothing for the second code, which still gets in once with a new nonce", async () => {
    const { ticket, purchase, entries } = await bought(2);
    const [a, b] = entries as [Entry, Entry];
    const gate = await asGate([ticket.game_id], "north-1");
    expect(await scan({ code: a.code, nonce: "n-1" }, gate)).toMatchObject({ result: "admitted", entry: { id: a.id } });
    expect(await scan({ code: b.code, nonce: "n-1" }, gate)).toMatchObject({
      result: "rejected",
      reason: "nonce_reused",
    });
    expect((await entriesOf(purchase.id)).map((e) => e.status)).toEqual(["checked_in", "valid"]);
    expect(await scan({ code: b.code, nonce: "n-2" }, gate)).toMatchObject({ result: "admitted", entry: { id: b.id } });
    expect(await scan({ code: b.code, nonce: "n-3" }, gate)).toMatchObject({ reason: "already_checked_in" });
  });

  it("offline: both admissions count (the people are in), and the same upload again answers the same", async () => {
    const { ticket, purchase, entries } = await bought(2);
    const [a, b] = entries as [Entry, Entry];
    const gate = await asGate([ticket.game_id], "south-2");
    const t = Date.now() - 120_000;
    const scans = [
      { code: a.code, nonce: "dup", scanned_at: new Date(t).toISOString() },
      { code: b.code, nonce: "dup", scanned_at: new Date(t + 5_000).toISOString() },
    ];
    const first = (await (await upload(scans, gate)).json()) as { answers: Answer[] };
    expect(first.answers.map((x) => [x.result, x.entry?.id])).toEqual([
      ["admitted", a.id],
      ["admitted", b.id],
    ]);
    expect((await entriesOf(purchase.id)).map((e) => e.status)).toEqual(["checked_in", "checked_in"]);
    expect(await (await upload(scans, gate)).json()).toEqual(first);
  });
});

it("records the earliest of two offline admissions, whichever gate uploads first", async () => {
  const { ticket, purchase, entries } = await bought(1);
  const code = entries[0]!.code;
  const t0 = Date.now() - 10 * 60_000;
  const [first, second] = [new Date(t0).toISOString(), new Date(t0 + 5 * 60_000).toISOString()];
  const east = await upload(
    [{ code, nonce: "east-1", scanned_at: second, gate: "East" }],
    await asGate([ticket.game_id], "east"),
  );
  expect(((await east.json()) as { answers: Answer[] }).answers[0]).toMatchObject({ result: "admitted" });
  const west = await upload(
    [{ code, nonce: "west-1", scanned_at: first, gate: "West" }],
    await asGate([ticket.game_id], "west"),
  );
  // West admitted it earlier, and East did too.
  expect(((await west.json()) as { answers: Answer[] }).answers[0]).toMatchObject({
    result: "admitted",
    conflict: true,
  });
  expect((await entriesOf(purchase.id))[0]!.checked_in_at).toBe(first);
  const probe = await scan({ code, nonce: "probe" }, await asGate([ticket.game_id], "audit"));
  expect(probe).toMatchObject({ reason: "already_checked_in", first_checked_in_at: first, first_gate: "West" });
  // The correction reaches the gate's feed as the entry's newest state.
  await runDurableObjectAlarm(sellerOf(ticket.id));
  const sync = (await (
    await api(`/games/${ticket.game_id}/gate-sync?since=0`, { headers: await asGate([ticket.game_id]) })
  ).json()) as { changes: { checked_in_gate: string; version: number }[] };
  expect(sync.changes.at(-1)).toMatchObject({ checked_in_gate: "West" });
});

it("never lets a late-landing flush put an older state of an entry after a newer one in the gate feed", {
  timeout: 20_000,
}, async () => {
  const { ticket, entries } = await bought(1);
  const entry = entries[0]!;
  const gate = await asGate([ticket.game_id], "north");
  expect((await scan({ code: entry.code, nonce: "s-1" }, gate)).result).toBe("admitted");
  // The undo's flush to D1 hangs past its timeout, and lands after the next check-in's flush.
  let release!: () => void;
  const late = new Promise<void>((r) => {
    release = r;
  });
  let hung: Promise<unknown> | undefined;
  let healed = false;
  const restore = interceptD1(async (call, forward) => {
    if (!call.writes) return forward();
    if (!hung && call.statements.some((s) => s.sql.includes('"entry_changes"'))) {
      hung = late.then(forward);
      return hung as Promise<Response>;
    }
    if (!healed) throw new Error("D1_ERROR: injected: Network connection lost.");
    return forward();
  });
  try {
    expect((await api(`/checkins/${entry.id}`, { method: "DELETE", headers: asAdmin })).status).toBe(200);
    await scheduler.wait(5_300);
    expect((await scan({ code: entry.code, nonce: "s-2" }, gate)).result).toBe("admitted");
    healed = true;
    for (let i = 0; i < 5 && (await runDurableObjectAlarm(sellerOf(ticket.id))); i++);
    release();
    await hung;
  } finally {
    restore();
  }
  const sync = (await (await api(`/games/${ticket.game_id}/gate-sync?since=0`, { headers: gate })).json()) as {
    changes: { entry_id: number; status: string; version: number }[];
  };
  const seen = sync.changes.filter((c) => c.entry_id === entry.id);
  expect(seen.at(-1)!.status).toBe("checked_in");
  const versions = seen.map((c) => c.version);
  expect(versions).toEqual([...versions].sort((x, y) => x - y));
});

it("refuses a reissue once a purchase has no entry id left: a definite 409, not a 503", async () => {
  const { ticket, purchase } = await bought(1);
  // The state 998 reissues of a one-person purchase leave (n = 1..998 revoked, 999 valid), written directly.
  await runInDurableObject(sellerOf(ticket.id), (_, state) => {
    const sql = state.storage.sql;
    sql.exec("UPDATE entries SET status = 'revoked' WHERE purchase_id = ?", purchase.id);
    sql.exec(
      `WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
       INSERT INTO entries (id, purchase_id, status, created_at, updated_at, version)
       SELECT ? * 1000 + i, ?, CASE WHEN i = 999 THEN 'valid' ELSE 'revoked' END, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 0 FROM n`,
      purchase.id,
      purchase.id,
    );
  });
  const last = purchase.id * 1000 + 999;
  for (let i = 0; i < 2; i++) {
    const res = await postJson(`/entries/${last}/reissue`, {}, await asUser(7));
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ code: "reissue_limit" });
  }
});

describe("an offline batch that fails in part", () => {
  /** A ticket in D1 whose object has not taken it over yet: with D1 down, its object can decide nothing. */
  async function unreachable() {
    const now = new Date().toISOString();
    const gameId = freshGameId();
    const row = await env.DB.prepare(
      "INSERT INTO tickets (game_id, name, price_minor, stock, created_at, updated_at) VALUES (?, 'Legacy', 1000, 5, ?, ?) RETURNING id",
    )
      .bind(gameId, now, now)
      .first<{ id: number }>();
    const code = await signCode(env.TEST_OLD_ENTRY_KEY, { entryId: 1_000_000_001_001, ticketId: row!.id, gameId });
    return { gameId, code };
  }

  it("says the outcome is unknown when other tickets' scans were recorded, and nothing was done when none were", async () => {
    const calm = await bought(1);
    const down = await unreachable();
    const gate = await asGate([calm.ticket.game_id, down.gameId], "west-4");
    const at = new Date(Date.now() - 60_000).toISOString();
    const restore = d1Down();
    let mixed: Response;
    let alone: Response;
    try {
      mixed = await upload(
        [
          { code: calm.entries[0]!.code, nonce: "b-1", scanned_at: at },
          { code: down.code, nonce: "b-2", scanned_at: at },
        ],
        gate,
      );
      alone = await upload([{ code: down.code, nonce: "b-3", scanned_at: at }], gate);
    } finally {
      restore();
    }
    expect(mixed.status).toBe(503);
    expect(await mixed.json()).toMatchObject({ code: "outcome_unknown" });
    expect(alone.status).toBe(503);
    expect(await alone.json()).toMatchObject({ code: "unavailable" });
    // The calm ticket's scan was recorded: the batch again answers it as before.
    expect(await scan({ code: calm.entries[0]!.code, nonce: "check" }, gate)).toMatchObject({
      reason: "already_checked_in",
    });
  });
});

describe("codes", () => {
  const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

  it("refuses a code whose text was changed in the unused low bits of its last character", async () => {
    const { ticket, entries } = await bought(1);
    const code = entries[0]!.code;
    expect((code.length - 2) % 4).not.toBe(0); // the last character carries unused bits
    const altered = code.slice(0, -1) + ALPHABET[ALPHABET.indexOf(code.at(-1)!) ^ 1];
    expect(await scan({ code: altered, nonce: "altered-1" }, await asGate([ticket.game_id]))).toMatchObject({
      result: "rejected",
      reason: "invalid",
    });
  });

  it("binds a code's claims to its ticket: another game is invalid, an unknown ticket is invalid (200)", async () => {
    const { ticket, entries } = await bought(1);
    const other = await createTicket();
    const gate = await asGate([other.game_id], "other-game");
    // Signed with a published key (as a leaked key could), naming a game the entry's ticket is not for.
    const otherGame = await signCode(env.TEST_OLD_ENTRY_KEY, {
      entryId: entries[0]!.id,
      ticketId: ticket.id,
      gameId: other.game_id,
    });
    expect(await scan({ code: otherGame, nonce: "bind-1" }, gate)).toMatchObject({
      result: "rejected",
      reason: "invalid",
    });
    const ghost = await signCode(env.TEST_OLD_ENTRY_KEY, {
      entryId: 123_456_789_001,
      ticketId: 987_654,
      gameId: other.game_id,
    });
    const single = await postJson("/checkins", { code: ghost, nonce: "bind-2" }, gate);
    expect(single.status).toBe(200);
    expect(await single.json()).toMatchObject({ result: "rejected", reason: "invalid" });
    const now = new Date().toISOString();
    const batch = await upload(
      [
        { code: ghost, nonce: "bind-3", scanned_at: now },
        { code: "E1nonsense", nonce: "bind-4", scanned_at: now },
      ],
      gate,
    );
    expect(batch.status).toBe(200);
    expect(((await batch.json()) as { answers: Answer[] }).answers.map((a) => a.reason)).toEqual([
      "invalid",
      "invalid",
    ]);
  });
});
