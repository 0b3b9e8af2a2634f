import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buy, createTicket, expectProblem, fieldsOf, postJson } from "./helpers";

describe("POST /tickets/buy", () => {
  it("sells and returns the purchase with prices from the ticket", async () => {
    const ticket = await createTicket({ price: 19.99, currency: "GBP", stock: 10 });
    const { status, body } = await buy({ user_id: 7, ticket_id: ticket.id, quantity: 3 });
    expect(status).toBe(200);
    expect(body).toEqual({
      id: expect.any(Number),
      user_id: 7,
      ticket_id: ticket.id,
      game_id: ticket.game_id,
      quantity: 3,
      unit_price: 19.99,
      total_price: 59.97,
      currency: "GBP",
      status: "confirmed",
      expires_at: null,
      confirmed_at: body.created_at,
      cancelled_at: null,
      created_at: expect.stringMatching(/Z$/),
    });
    const after = await (await postJson("/tickets/buy", { user_id: 8, ticket_id: ticket.id })).json();
    expect(after).toMatchObject({ quantity: 1 }); // default quantity
    const row = await env.DB.prepare("SELECT sold FROM tickets WHERE id = ?").bind(ticket.id).first();
    expect(row).toEqual({ sold: 4 });
  });

  it("answers 404 for an unknown ticket", async () => {
    await expectProblem(await postJson("/tickets/buy", { user_id: 1, ticket_id: 987_654 }), 404, "not_found");
  });

  it("sells a ticket created after an earlier 404 for its id", async () => {
    const before = await createTicket();
    const nextId = before.id + 1;
    expect((await buy({ user_id: 1, ticket_id: nextId })).status).toBe(404);
    const ticket = await createTicket();
    expect(ticket.id).toBe(nextId);
    expect((await buy({ user_id: 1, ticket_id: nextId })).status).toBe(200);
  });

  it("answers 409 sold_out with the units left when fewer than asked remain", async () => {
    const ticket = await createTicket({ stock: 3 });
    expect((await buy({ user_id: 1, ticket_id: ticket.id, quantity: 2 })).status).toBe(200);
    const res = await postJson("/tickets/buy", { user_id: 2, ticket_id: ticket.id, quantity: 2 });
    const problem = await expectProblem(res, 409, "sold_out");
    expect(problem.available).toBe(1);
    expect((await buy({ user_id: 2, ticket_id: ticket.id, quantity: 1 })).status).toBe(200);
    const gone = await expectProblem(
      await postJson("/tickets/buy", { user_id: 3, ticket_id: ticket.id }),
      409,
      "sold_out",
    );
    expect(gone.available).toBe(0);
  });

  it("answers 409 sold_out for a ticket created with no stock", async () => {
    const ticket = await createTicket({ stock: 0 });
    await expectProblem(await postJson("/tickets/buy", { user_id: 1, ticket_id: ticket.id }), 409, "sold_out");
  });

  it("answers 409 sales_closed for an inactive ticket", async () => {
    const ticket = await createTicket({ active: false });
    await expectProblem(await postJson("/tickets/buy", { user_id: 1, ticket_id: ticket.id }), 409, "sales_closed");
  });

  it("answers 400 when the quantity passes the ticket's max_per_order", async () => {
    const ticket = await createTicket({ max_per_order: 4 });
    expect((await buy({ user_id: 1, ticket_id: ticket.id, quantity: 4 })).status).toBe(200);
    const res = await postJson("/tickets/buy", { user_id: 1, ticket_id: ticket.id, quantity: 5 });
    const problem = await expectProblem(res, 400, "validation_error");
    expect(fieldsOf(problem)).toEqual(["quantity"]);
  });

  const invalidCases: [string, Record<string, unknown>, string][] = [
    ["user_id missing", { user_id: undefined }, "user_id"],
    ["user_id 0", { user_id: 0 }, "user_id"],
    ["user_id as a string", { user_id: "1" }, "user_id"],
    ["ticket_id missing", { ticket_id: undefined }, "ticket_id"],
    ["ticket_id negative", { ticket_id: -1 }, "ticket_id"],
    ["ticket_id fractional", { ticket_id: 1.5 }, "ticket_id"],
    ["quantity 0", { quantity: 0 }, "quantity"],
    ["quantity negative", { quantity: -2 }, "quantity"],
    ["quantity fractional", { quantity: 1.5 }, "quantity"],
    ["quantity over 100", { quantity: 101 }, "quantity"],
    ["an unknown field", { price: 0 }, "price"],
  ];

  it.each(invalidCases)("refuses %s with 400 and buys nothing", async (_label, patch, field) => {
    const ticket = await createTicket({ stock: 5 });
    const res = await postJson("/tickets/buy", { user_id: 1, ticket_id: ticket.id, quantity: 1, ...patch });
    const problem = await expectProblem(res, 400, "validation_error");
    expect(fieldsOf(problem)).toContain(field);
    const row = await env.DB.prepare("SELECT sold FROM tickets WHERE id = ?").bind(ticket.id).first();
    expect(row).toEqual({ sold: 0 });
  });

  it("refuses malformed JSON with 400", async () => {
    await expectProblem(await postJson("/tickets/buy", "{user_id: 1}"), 400, "validation_error");
  });
});
