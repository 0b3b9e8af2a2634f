import { runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Desired, SeatBlock } from "../src/seating/seat-block";
import { api, asAdmin, sellerOf } from "./helpers";
import { blockOf, gridBlock, holdSeats, seatedGame, seatsIn } from "./seating-helpers";

// A confirmed seated purchase whose block has not heard of the confirmation when its escrow ends (found in review).

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("a confirmation its block has not heard of", () => {
  it("is not told to the buyer as confirmed; once the seats went to another, it is cancelled and refunded", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 4)], { hold_seconds: 60 });
    const a = await holdSeats({ user_id: 1, ticket_id: ticket.id, seats: ["N1-A-1", "N1-A-2"] });
    expect(a.status).toBe(201);
    // The block does not answer the ticket for a while (an outage, a deploy).
    const settle = SeatBlock.prototype.settle;
    let down = true;
    vi.spyOn(SeatBlock.prototype, "settle").mockImplementation(async function (
      this: SeatBlock,
      key: number,
      ticketId: number,
      want: Desired,
    ) {
      if (down && key === a.body.id) throw new Error("injected: the block did not answer");
      return settle.call(this, key, ticketId, want);
    });
    // Confirmed by the box office just before the hold's end: not confirmed to anyone while the block has not sold.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse(a.body.expires_at!) - 5_000 });
    const confirmed = await api(`/purchases/${a.body.id}/confirm`, { method: "POST", headers: asAdmin });
    expect(confirmed.status).toBe(503);
    expect(await confirmed.json()).toMatchObject({ code: "outcome_unknown" });
    // The block's own escrow ends (hold's end + grace) before it hears of the confirmation: the seats are free.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse(a.body.expires_at!) + 61_000 });
    await runDurableObjectAlarm(blockOf(game, "N1"));
    const b = await holdSeats({ user_id: 2, ticket_id: ticket.id, seats: ["N1-A-1", "N1-A-2"] });
    expect(b.status).toBe(201);
    // The block comes back; the ticket tells it: the seats are gone, so A's purchase is cancelled.
    down = false;
    for (let i = 0; i < 3; i++) await runDurableObjectAlarm(sellerOf(ticket.id));
    const seats = await seatsIn(game, "N1");
    expect(seats.slice(0, 2).map((s) => [s.id, s.state, s.holder])).toEqual([
      ["N1-A-1", "held", b.body.id],
      ["N1-A-2", "held", b.body.id],
    ]);
    const again = await api(`/purchases/${a.body.id}/confirm`, { method: "POST", headers: asAdmin });
    expect(again.status).toBe(409);
    const read = await api(`/purchases/${a.body.id}`, { headers: asAdmin });
    expect(await read.json()).toMatchObject({ status: "cancelled" });
  });

  it("is confirmed once its block sold the seats, and the block shows them sold", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 4)], { hold_seconds: 60 });
    const a = await holdSeats({ user_id: 1, ticket_id: ticket.id, seats: ["N1-A-3", "N1-A-4"] });
    const confirmed = await api(`/purchases/${a.body.id}/confirm`, { method: "POST", headers: asAdmin });
    expect(confirmed.status).toBe(200);
    const seats = await seatsIn(game, "N1");
    expect(seats.slice(2, 4).map((s) => [s.state, s.holder])).toEqual([
      ["sold", a.body.id],
      ["sold", a.body.id],
    ]);
  });
});
