import { describe, expect, it } from "vitest";
import { api, asAdmin, asUser, expectProblem, postJson } from "./helpers";
import { gridBlock, holdSeats, seatedGame, seatsIn } from "./seating-helpers";

// A basket of seats in several blocks is an order: each block's seats a line
// (a purchase of the ticket, held in that block), all held or none.

interface Order {
  id: string;
  status: string;
  total_price: number;
  lines: { ticket_id: number; seats?: string[]; status: string; purchase_id: number; entries?: { seat?: unknown }[] }[];
}

const place = (body: unknown, headers: Record<string, string> = asAdmin) => postJson("/orders", body, headers);
const states = async (game: number, block: string) =>
  Object.fromEntries((await seatsIn(game, block)).map((s) => [s.id, s.state]));

describe("orders of seats", () => {
  it("hold seats of one ticket in two blocks, confirm them all, with entries per seat", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 4), gridBlock("N2", 1, 4)], { price: 30 });
    const res = await place(
      {
        lines: [
          { ticket_id: ticket.id, seats: ["N1-A-1", "N1-A-2"] },
          { ticket_id: ticket.id, quantity: 2, best_available: { block: "N2" } },
        ],
      },
      { ...(await asUser(5)), "Idempotency-Key": `seats-basket-${ticket.id}` },
    );
    expect(res.status).toBe(201);
    const order = (await res.json()) as Order;
    expect(order).toMatchObject({ status: "held", total_price: 120 });
    expect(order.lines.map((l) => l.seats)).toEqual([
      ["N1-A-1", "N1-A-2"],
      ["N2-A-1", "N2-A-2"],
    ]);
    expect(await states(game, "N2")).toMatchObject({ "N2-A-1": "held", "N2-A-2": "held", "N2-A-3": "free" });
    const confirmed = await api(`/orders/${order.id}/confirm`, { method: "POST", headers: asAdmin });
    expect(confirmed.status).toBe(200);
    expect(await states(game, "N1")).toMatchObject({ "N1-A-1": "sold", "N1-A-2": "sold" });
    expect(await states(game, "N2")).toMatchObject({ "N2-A-1": "sold", "N2-A-2": "sold" });
    const read = (await (await api(`/orders/${order.id}`, { headers: asAdmin })).json()) as Order;
    expect(read.lines.map((l) => l.entries?.map((e) => e.seat))).toEqual([
      [
        { block: "N1", row: "A", seat: "1" },
        { block: "N1", row: "A", seat: "2" },
      ],
      [
        { block: "N2", row: "A", seat: "1" },
        { block: "N2", row: "A", seat: "2" },
      ],
    ]);
  });

  it("hold none when a block refuses: 409 order_refused names the taken seats, the other block's seats go back", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 4), gridBlock("N2", 1, 4)]);
    await holdSeats({ user_id: 1, ticket_id: ticket.id, seats: ["N2-A-3"] });
    const res = await place({
      user_id: 2,
      lines: [
        { ticket_id: ticket.id, seats: ["N1-A-1", "N1-A-2"] },
        { ticket_id: ticket.id, seats: ["N2-A-3", "N2-A-4"] },
      ],
    });
    const problem = await expectProblem(res, 409, "order_refused");
    expect(problem).toMatchObject({ lines: [{ ticket_id: ticket.id, code: "seat_taken", seats: ["N2-A-3"] }] });
    expect(await states(game, "N1")).toMatchObject({ "N1-A-1": "free", "N1-A-2": "free" });
    expect(await states(game, "N2")).toMatchObject({ "N2-A-3": "held", "N2-A-4": "free" });
  });

  it("count every line's seats against max_per_user, and cancel them all back", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 4), gridBlock("N2", 1, 4)], { max_per_user: 3 });
    const over = await place({
      user_id: 3,
      lines: [
        { ticket_id: ticket.id, seats: ["N1-A-1", "N1-A-2"] },
        { ticket_id: ticket.id, seats: ["N2-A-1", "N2-A-2"] },
      ],
    });
    expect(((await expectProblem(over, 409, "order_refused")) as { lines?: unknown[] }).lines).toEqual([
      expect.objectContaining({ code: "user_limit", max_per_user: 3 }),
    ]);
    expect(await states(game, "N1")).toMatchObject({ "N1-A-1": "free", "N1-A-2": "free" });
    const ok = await place({
      user_id: 3,
      lines: [
        { ticket_id: ticket.id, seats: ["N1-A-1", "N1-A-2"] },
        { ticket_id: ticket.id, seats: ["N2-A-1"] },
      ],
    });
    const order = (await ok.json()) as Order;
    expect(order.status).toBe("held");
    expect((await api(`/orders/${order.id}/cancel`, { method: "POST", headers: asAdmin })).status).toBe(200);
    expect(Object.values(await states(game, "N1")).every((s) => s === "free")).toBe(true);
    expect(Object.values(await states(game, "N2")).every((s) => s === "free")).toBe(true);
  });

  it("refuse the same ticket and block twice, and seats of two blocks in one line", async () => {
    const { ticket } = await seatedGame([gridBlock("N1", 1, 4), gridBlock("N2", 1, 4)]);
    const twice = await place({
      user_id: 3,
      lines: [
        { ticket_id: ticket.id, seats: ["N1-A-1"] },
        { ticket_id: ticket.id, seats: ["N1-A-2"] },
      ],
    });
    expect((await expectProblem(twice, 400, "validation_error")).detail).toMatch(/once per block/);
    const mixed = await place({ user_id: 3, lines: [{ ticket_id: ticket.id, seats: ["N1-A-1", "N2-A-2"] }] });
    expect((await expectProblem(mixed, 400, "validation_error")).detail).toMatch(/one block/);
  });
});
