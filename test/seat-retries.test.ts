import { runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SeatBlock } from "../src/seating/seat-block";
import { asUser, sellerOf } from "./helpers";
import { gridBlock, holdSeats, seatedGame, seatsIn } from "./seating-helpers";

// Retries of seated holds: the same key twice at once, and a take whose answer was lost after the block acted.

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("the same Idempotency-Key twice at once", () => {
  it("best available without a block: one purchase, both answered with it (no 5xx, no second hold)", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 2, 6), gridBlock("N2", 2, 6)]);
    const fan = { ...(await asUser(9)), "Idempotency-Key": `twice-${ticket.id}` };
    const body = { ticket_id: ticket.id, quantity: 2, best_available: { together: true } };
    // The ticket's first seated sale reads its game's blocks from D1: both requests wait there.
    const [a, b] = await Promise.all([holdSeats(body, fan), holdSeats(body, fan)]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.body.id).toBe(a.body.id);
    const held = [...(await seatsIn(game, "N1")), ...(await seatsIn(game, "N2"))].filter((s) => s.state !== "free");
    expect(held.length).toBe(2);
  });
});

describe("a block's answer to a take is lost after it acted", () => {
  const loseTakes = (n: number) => {
    const take = SeatBlock.prototype.take;
    let lost = n;
    vi.spyOn(SeatBlock.prototype, "take").mockImplementation(async function (
      this: SeatBlock,
      req: Parameters<SeatBlock["take"]>[0],
    ) {
      const answer = await take.call(this, req);
      if (lost > 0) {
        lost--;
        throw new Error("injected: the block's answer was lost");
      }
      return answer;
    });
  };

  it("503s outcome_unknown, and a retry with the same key gets the one hold the block made", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 6)], { max_per_user: 4 });
    const fan = { ...(await asUser(11)), "Idempotency-Key": `lost-${ticket.id}` };
    loseTakes(1);
    const body = { ticket_id: ticket.id, quantity: 2, best_available: { together: true } };
    const first = await holdSeats(body, fan);
    expect([first.status, first.body.code]).toEqual([503, "outcome_unknown"]);
    const again = await holdSeats(body, fan);
    expect(again.status).toBe(201);
    const held = (await seatsIn(game, "N1")).filter((s) => s.state !== "free");
    expect(held.map((s) => s.holder)).toEqual([again.body.id, again.body.id]);
    expect(again.body.seats).toEqual(held.map((s) => s.id));
    // The user's units: 2 of 4.
    expect((await holdSeats({ ticket_id: ticket.id, quantity: 3 }, await asUser(11))).status).toBe(409);
    expect((await holdSeats({ ticket_id: ticket.id, quantity: 2 }, await asUser(11))).status).toBe(201);
  });

  it("without a retry, the alarm gives the seats and the units back", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 4)], { max_per_user: 2 });
    loseTakes(1);
    const first = await holdSeats({ ticket_id: ticket.id, seats: ["N1-A-1", "N1-A-2"] }, await asUser(12));
    expect([first.status, first.body.code]).toEqual([503, "outcome_unknown"]);
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 40_000 });
    for (let i = 0; i < 3; i++) await runDurableObjectAlarm(sellerOf(ticket.id));
    expect((await seatsIn(game, "N1")).filter((s) => s.state !== "free")).toEqual([]);
    const again = await holdSeats({ ticket_id: ticket.id, seats: ["N1-A-1", "N1-A-2"] }, await asUser(12));
    expect(again.status).toBe(201);
  });
});
