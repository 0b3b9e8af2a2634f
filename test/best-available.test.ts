import { describe, expect, it } from "vitest";
import { effectiveRanks, FREE, HELD, pick, type SeatModel } from "../src/seating/pick";
import { api, asAdmin, expectProblem } from "./helpers";
import { gridBlock, holdSeats, seatedGame, seatsIn } from "./seating-helpers";

// Best available: the best free seats, side by side when a group exists,
// never leaving a single empty seat beside the group when a group without
// one exists. One call into one block's object.

/** A model of rows of seats from strings: "." free, "x" taken; ranks default (front, then middle). */
function model(rows: string[], ranks?: (number | null)[]): SeatModel {
  const state: number[] = [];
  const spans: { start: number; end: number }[] = [];
  for (const r of rows) {
    spans.push({ start: state.length, end: state.length + r.length });
    for (const ch of r) state.push(ch === "." ? FREE : HELD);
  }
  return {
    state: Uint8Array.from(state),
    category: new Uint16Array(state.length),
    categories: ["standard"],
    rank: effectiveRanks(spans, ranks ?? state.map(() => null)),
    accessible: new Uint8Array(state.length),
    rows: spans,
  };
}
const ask = (quantity: number, together = true) => ({ quantity, categories: null, together });

describe("pick (the block's best available)", () => {
  it("takes the front row first, then the middle of the row", () => {
    const m = model(["........", "........"]);
    expect(pick(m, ask(2))!.seats).toEqual([3, 4]);
    expect(pick(m, ask(3))!.seats).toEqual([2, 3, 4]); // 2.5 from the middle either way: the lower id
  });

  it("follows the club's rank where given (lower is better)", () => {
    const ranks = [9, 9, 9, 9, 1, 2, 2, 9];
    expect(pick(model(["....", "...."], ranks), ask(2))!.seats).toEqual([4, 5]);
  });

  it("never leaves a single empty seat beside the group when a group without one exists", () => {
    // Row A: 5 free (the better row); row B: exactly 4 free. Four seats in A would strand one.
    const m = model([".....xxxx", "xxxxx...."]);
    const p = pick(m, ask(4))!;
    expect(p.seats).toEqual([14, 15, 16, 17]);
    expect(p).toMatchObject({ lone: false, alternative: true });
    // Naive first fit strands it.
    expect(pick(m, ask(4), "first_fit")).toMatchObject({ seats: [0, 1, 2, 3], lone: true, alternative: true });
    // With no other group, the lone seat is left (and said so).
    expect(pick(model([".....xxxx"]), ask(4))).toMatchObject({ lone: true, alternative: false });
  });

  it("prefers a group that fills a gap exactly, or leaves two or more seats", () => {
    // Five of six: every group strands one, so the best of them (said so).
    expect(pick(model(["x......x"]), ask(5))).toMatchObject({ seats: [1, 2, 3, 4, 5], lone: true, alternative: false });
    // Four of six: at either end, two left together, not in the middle (one each side).
    expect(pick(model(["x......x"]), ask(4))).toMatchObject({ seats: [1, 2, 3, 4], lone: false });
  });

  it("splits into as few groups as can be when no row has the group, and answers null when too few are free", () => {
    const m = model(["..x..x.", "...xx.."]);
    const p = pick(m, ask(5))!;
    expect(p.seats.length).toBe(5);
    expect(p.seats).toEqual(expect.arrayContaining([7, 8, 9])); // the group of three, then a pair
    expect(pick(m, ask(11))).toBeNull();
    expect([...m.state].filter((s) => s === FREE).length).toBe(10); // the search put its marks back
  });

  it("gives accessible seats only to those who ask for them, and others them last", () => {
    const m = model(["....", "...."]);
    m.accessible[1] = 1;
    m.accessible[2] = 1;
    expect(pick(m, { ...ask(2), accessible: true })!.seats).toEqual([1, 2]);
    expect(pick(m, ask(2))!.seats).toEqual([4, 5]); // row B, not stranding a seat
  });
});

describe("POST /tickets/hold with best_available", () => {
  it("holds the best seats together in one call, says so in Server-Timing, and is the seated default", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 3, 10)]);
    const res = await holdSeats({ user_id: 1, ticket_id: ticket.id, quantity: 4, best_available: { together: true } });
    expect(res.status).toBe(201);
    expect(res.body.seats).toEqual(["N1-A-4", "N1-A-5", "N1-A-6", "N1-A-7"]);
    expect(res.res.headers.get("Server-Timing")).toMatch(/seat-pick;dur=[\d.]+;desc="lone=0 alternative=1"/);
    const plain = await holdSeats({ user_id: 2, ticket_id: ticket.id, quantity: 2 });
    // Any pair left in row A (three free each side) strands a seat: row B's middle instead.
    expect(plain.body.seats).toEqual(["N1-B-5", "N1-B-6"]);
    const held = (await seatsIn(game, "N1")).filter((s) => s.state === "held").length;
    expect(held).toBe(6);
  });

  it("moves to the next block of the map when one is full, or stays in the block asked for; 409 sold_out says how many", async () => {
    const { ticket } = await seatedGame([gridBlock("N1", 1, 4), gridBlock("N2", 1, 6)], { max_per_order: 10 });
    expect((await holdSeats({ user_id: 1, ticket_id: ticket.id, quantity: 4 })).body.seats).toEqual([
      "N1-A-1",
      "N1-A-2",
      "N1-A-3",
      "N1-A-4",
    ]);
    expect((await holdSeats({ user_id: 2, ticket_id: ticket.id, quantity: 2 })).body.seats).toEqual([
      "N2-A-3",
      "N2-A-4",
    ]);
    const inN1 = await holdSeats({ user_id: 3, ticket_id: ticket.id, quantity: 1, best_available: { block: "N1" } });
    expect(await expectProblem(inN1.res, 409, "sold_out")).toMatchObject({ available: 0 });
    const tooMany = await holdSeats({ user_id: 3, ticket_id: ticket.id, quantity: 5 });
    expect(await expectProblem(tooMany.res, 409, "sold_out")).toMatchObject({ available: 4 });
  });

  it("holds accessible seats for those who ask, and sells a category's seats only to its tickets", async () => {
    const block = gridBlock("N1", 2, 4, (r) => (r === 0 ? "premium" : "standard"));
    block.rows[1]!.seats[0]!.accessible = true;
    const { ticket } = await seatedGame([block]);
    const wheelchair = await holdSeats({
      user_id: 1,
      ticket_id: ticket.id,
      quantity: 1,
      best_available: { accessible: true },
    });
    expect(wheelchair.body.seats).toEqual(["N1-B-1"]);
    const others = await holdSeats({ user_id: 2, ticket_id: ticket.id, quantity: 3 });
    expect(others.body.seats).toEqual(["N1-B-2", "N1-B-3", "N1-B-4"]);
    const premium = await holdSeats({ user_id: 3, ticket_id: ticket.id, seats: ["N1-A-1"] });
    expect((await expectProblem(premium.res, 400, "validation_error")).detail).toMatch(
      /not of this ticket's categories/,
    );
    const none = await api(`/tickets/${ticket.id}`, { headers: asAdmin });
    expect(await none.json()).toMatchObject({ stock: 4, held: 4, available: 0 });
  });
});
