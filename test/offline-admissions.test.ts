import { describe, expect, it } from "vitest";
import { api, asAdmin, asGate, buy, createTicket, freshGameId, postJson } from "./helpers";

// Offline gates: a person let in offline is in, whatever happened to the
// entry after the scan. Each such admission is recorded and reported, never lost.

type Entry = { id: number; code: string | null; status: string; checked_in_at: string | null };
interface Answer {
  result: string;
  reason?: string;
  conflict?: true;
  checked_in_at: string | null;
  first_checked_in_at?: string;
  entry: { id: number; status: string; checked_in_at: string | null } | null;
}

const entriesOf = async (purchaseId: number) =>
  ((await (await api(`/purchases/${purchaseId}`, { headers: asAdmin })).json()) as { entries: Entry[] }).entries;
const scan = async (code: string, nonce: string, gate: Record<string, string>) =>
  (await (await postJson("/checkins", { code, nonce }, gate)).json()) as Answer;
async function upload(scans: object[], gate: Record<string, string>) {
  const res = await postJson("/checkins/batch", { scans }, gate);
  expect(res.status).toBe(200);
  return ((await res.json()) as { answers: Answer[] }).answers;
}
const minuteAgo = () => new Date(Date.now() - 60_000).toISOString();

async function soldOne() {
  const ticket = await createTicket({ stock: 1 });
  const p = (await buy({ user_id: 7, ticket_id: ticket.id })).body as { id: number };
  const [entry] = await entriesOf(p.id);
  return { ticket, purchaseId: p.id, entry: entry! };
}

describe("an offline admission made before the entry changed", () => {
  it("before a reissue: is recorded with the conflict, and the new code admits nobody more", async () => {
    const { ticket, purchaseId, entry } = await soldOne();
    const scannedAt = minuteAgo(); // the offline gate let the holder in a minute ago...
    const reissued = await postJson(`/entries/${entry.id}/reissue`, {}, asAdmin); // ...then the code was reissued
    const fresh = (await reissued.json()) as Entry;
    const [answer] = await upload(
      [{ code: entry.code, nonce: "off-g2", scanned_at: scannedAt, gate: "East" }],
      await asGate([ticket.game_id], "east"),
    );
    expect(answer).toMatchObject({ result: "admitted", reason: "revoked", conflict: true, checked_in_at: scannedAt });
    // The unit admitted its holder: the code that replaced it is refused.
    const live = await scan(fresh.code!, "live-g2", await asGate([ticket.game_id], "west"));
    expect(live).toMatchObject({ result: "rejected", reason: "already_checked_in", first_checked_in_at: scannedAt });
    const after = await entriesOf(purchaseId);
    expect(after.map((e) => [e.id, e.status, e.checked_in_at])).toEqual([
      [entry.id, "revoked", scannedAt],
      [fresh.id, "checked_in", scannedAt],
    ]);
    // The gates hear of both.
    const sync = (await (
      await api(`/games/${ticket.game_id}/gate-sync?since=0`, { headers: await asGate([ticket.game_id]) })
    ).json()) as { changes: { entry_id: number; status: string; checked_in_at: string | null }[] };
    expect(sync.changes.at(-1)).toMatchObject({ entry_id: fresh.id, status: "checked_in" });
    expect(sync.changes.some((c) => c.entry_id === entry.id && c.checked_in_at === scannedAt)).toBe(true);
  });

  it("before a cancel: is recorded with the conflict, even once the unit was sold again", async () => {
    const { ticket, entry } = await soldOne();
    const scannedAt = minuteAgo();
    expect((await postJson(`/entries/${entry.id}/cancel`, {}, asAdmin)).status).toBe(200);
    expect((await buy({ user_id: 9, ticket_id: ticket.id })).status).toBe(200); // the unit went back and was sold
    const gate = await asGate([ticket.game_id], "east");
    const [answer] = await upload([{ code: entry.code, nonce: "off-g3", scanned_at: scannedAt }], gate);
    expect(answer).toMatchObject({ result: "admitted", reason: "cancelled", conflict: true, checked_in_at: scannedAt });
    expect(answer!.entry).toMatchObject({ id: entry.id, status: "cancelled", checked_in_at: scannedAt });
    // The same upload again answers the same; another gate's later offline scan of it is a second admission.
    expect((await upload([{ code: entry.code, nonce: "off-g3", scanned_at: scannedAt }], gate))[0]).toEqual(answer);
    const [second] = await upload(
      [{ code: entry.code, nonce: "off-g3b", scanned_at: new Date().toISOString() }],
      await asGate([ticket.game_id], "north"),
    );
    expect(second).toMatchObject({ result: "rejected", reason: "already_checked_in", conflict: true });
  });

  it("after the change is refused as before: the code was already cancelled or revoked", async () => {
    const { ticket, entry } = await soldOne();
    expect((await postJson(`/entries/${entry.id}/reissue`, {}, asAdmin)).status).toBe(200);
    const [answer] = await upload(
      [{ code: entry.code, nonce: "off-late", scanned_at: new Date().toISOString() }],
      await asGate([ticket.game_id], "east"),
    );
    expect(answer).toMatchObject({ result: "rejected", reason: "revoked" });
    expect(answer!.conflict).toBeUndefined();
  });
});

describe("the scope of a scan's nonce", () => {
  it("is the scanner and the code's ticket, as documented: another ticket's code with the same nonce is its own scan", async () => {
    const game = freshGameId();
    const north = await createTicket({ game_id: game, name: "North" });
    const south = await createTicket({ game_id: game, name: "South" });
    const [a] = await entriesOf(((await buy({ user_id: 7, ticket_id: north.id })).body as { id: number }).id);
    const [b] = await entriesOf(((await buy({ user_id: 8, ticket_id: south.id })).body as { id: number }).id);
    const [c] = await entriesOf(((await buy({ user_id: 9, ticket_id: north.id })).body as { id: number }).id);
    const gate = await asGate([game], "north-1");
    expect(await scan(a!.code!, "same-nonce", gate)).toMatchObject({ result: "admitted", entry: { id: a!.id } });
    expect(await scan(b!.code!, "same-nonce", gate)).toMatchObject({ result: "admitted", entry: { id: b!.id } });
    expect(await scan(c!.code!, "same-nonce", gate)).toMatchObject({ result: "rejected", reason: "nonce_reused" });
    const doc = (await (await api("/openapi.json")).json()) as {
      components: { schemas: { Scan: { properties: { nonce: { description: string } } } } };
    };
    expect(doc.components.schemas.Scan.properties.nonce.description).toMatch(/per scanner and ticket/);
  });
});
