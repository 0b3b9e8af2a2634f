import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buy, createTicket, expectProblem, fieldsOf, postJson } from "./helpers";

describe("max_per_user", () => {
  it("counts a user's units across orders and answers 409 user_limit past it", async () => {
    const ticket = await createTicket({ stock: 100, max_per_user: 4 });
    expect(ticket.max_per_user).toBe(4);
    expect((await buy({ user_id: 1, ticket_id: ticket.id, quantity: 3 })).status).toBe(200);
    const res = await postJson("/tickets/buy", { user_id: 1, ticket_id: ticket.id, quantity: 2 });
    const problem = await expectProblem(res, 409, "user_limit");
    expect(problem).toMatchObject({ max_per_user: 4, bought: 3 });
    expect((await buy({ user_id: 1, ticket_id: ticket.id, quantity: 1 })).status).toBe(200);
    await expectProblem(await postJson("/tickets/buy", { user_id: 1, ticket_id: ticket.id }), 409, "user_limit");
    // Other users have their own allowance.
    expect((await buy({ user_id: 2, ticket_id: ticket.id, quantity: 4 })).status).toBe(200);
  });

  it("holds for concurrent orders of one user", async () => {
    const ticket = await createTicket({ stock: 100, max_per_user: 4 });
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => buy({ user_id: 7, ticket_id: ticket.id, quantity: 1 })),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(4);
    expect(answers.filter((a) => a.status === 409 && a.body.code === "user_limit")).toHaveLength(8);
    const row = await env.DB.prepare("SELECT sum(quantity) AS units FROM purchases WHERE ticket_id = ? AND user_id = 7")
      .bind(ticket.id)
      .first();
    expect(row).toEqual({ units: 4 });
  });

  it("survives a restart of the object, being kept in its storage", async () => {
    const ticket = await createTicket({ stock: 100, max_per_user: 3 });
    expect((await buy({ user_id: 9, ticket_id: ticket.id, quantity: 2 })).status).toBe(200);
    await evictDurableObject(env.TICKET_SELLER.getByName(String(ticket.id)));
    const over = await postJson("/tickets/buy", { user_id: 9, ticket_id: ticket.id, quantity: 2 });
    expect((await expectProblem(over, 409, "user_limit")).bought).toBe(2);
    expect((await buy({ user_id: 9, ticket_id: ticket.id, quantity: 1 })).status).toBe(200);
  });

  it("is optional, and must be at least 1", async () => {
    const unlimited = await createTicket({ stock: 100, max_per_order: 50 });
    expect(unlimited.max_per_user).toBeNull();
    expect((await buy({ user_id: 1, ticket_id: unlimited.id, quantity: 50 })).status).toBe(200);
    expect((await buy({ user_id: 1, ticket_id: unlimited.id, quantity: 50 })).status).toBe(200);
    const res = await postJson("/tickets", { game_id: 1, name: "x", price: 1, stock: 1, max_per_user: 0 });
    expect(fieldsOf(await expectProblem(res, 400, "validation_error"))).toEqual(["max_per_user"]);
  });
});
