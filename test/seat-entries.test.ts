import { describe, expect, it } from "vitest";
import { api, asAdmin, asGate, asUser, postJson } from "./helpers";
import { buySeats, gridBlock, seatedGame, seatsIn } from "./seating-helpers";

// A seated purchase's entries: one per seat, each carrying its seat, which the
// gate's answer shows the steward with the ticket's name and type.

interface Entry {
  id: number;
  code: string | null;
  status: string;
  seat?: { block: string; row: string; seat: string };
}

async function boughtSeats(seats: string[]) {
  const { game, ticket } = await seatedGame([gridBlock("N1", 2, 6)], { name: "North", type: "child" });
  const bought = await buySeats({ user_id: 7, ticket_id: ticket.id, seats });
  expect(bought.status).toBe(200);
  const read = await api(`/purchases/${bought.body.id}`, { headers: await asUser(7) });
  const { entries } = (await read.json()) as { entries: Entry[] };
  return { game, ticket, purchase: bought.body, entries };
}

describe("entries of seated purchases", () => {
  it("are one per seat, in the order of the purchase's seats, each with its seat", async () => {
    const { entries, purchase } = await boughtSeats(["N1-B-5", "N1-B-6"]);
    expect(purchase.seats).toEqual(["N1-B-5", "N1-B-6"]);
    expect(entries.map((e) => e.seat)).toEqual([
      { block: "N1", row: "B", seat: "5" },
      { block: "N1", row: "B", seat: "6" },
    ]);
  });

  it("are scanned with the seat in the answer, beside the ticket's name and type", async () => {
    const { entries, ticket } = await boughtSeats(["N1-A-1", "N1-A-2"]);
    const res = await postJson(
      "/checkins",
      { code: entries[1]!.code, nonce: "seat-scan-1", gate: "North 3" },
      await asGate([ticket.game_id]),
    );
    expect(await res.json()).toMatchObject({
      result: "admitted",
      entry: { id: entries[1]!.id, status: "checked_in", seat: { block: "N1", row: "A", seat: "2" } },
      ticket: { id: ticket.id, name: "North", type: "child" },
    });
  });

  it("keep their seat through a reissue, and give it back to the block when cancelled", async () => {
    const { entries, game } = await boughtSeats(["N1-A-3", "N1-A-4"]);
    const reissued = await api(`/entries/${entries[0]!.id}/reissue`, { method: "POST", headers: asAdmin });
    expect(await reissued.json()).toMatchObject({ seat: { block: "N1", row: "A", seat: "3" } });
    const cancelled = await api(`/entries/${entries[1]!.id}/cancel`, { method: "POST", headers: asAdmin });
    expect(await cancelled.json()).toMatchObject({ status: "cancelled", seat: { seat: "4" } });
    const seats = Object.fromEntries((await seatsIn(game, "N1")).map((s) => [s.id, s.state]));
    expect(seats).toMatchObject({ "N1-A-3": "sold", "N1-A-4": "free" });
  });
});
