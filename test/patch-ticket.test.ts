import { describe, expect, it } from "vitest";
import {
  api,
  asAdmin,
  asUser,
  buy,
  createTicket,
  expectProblem,
  fieldsOf,
  freshGameId,
  postJson,
  type Ticket,
} from "./helpers";

const patch = (
  id: number,
  body: unknown,
  headers: Record<string, string> = asAdmin,
  type = "application/merge-patch+json",
) =>
  api(`/tickets/${id}`, {
    method: "PATCH",
    headers: { ...headers, "Content-Type": type },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

const hoursFromNow = (h: number) => new Date(Date.now() + h * 3600_000).toISOString();

describe("PATCH /tickets/{ticket_id}", () => {
  it("changes the given fields and answers the ticket as its object now holds it; the next read sees it", async () => {
    const ticket = await createTicket({ stock: 10, price: 10 });
    await buy({ user_id: 1, ticket_id: ticket.id, quantity: 2 });
    const res = await patch(ticket.id, {
      name: "South Stand",
      description: "Behind the goal",
      type: "socio",
      price: 12.5,
      stock: 20,
      max_per_order: 4,
      max_per_user: 6,
    });
    expect(res.status).toBe(200);
    const changed = (await res.json()) as Ticket;
    expect(changed).toMatchObject({
      id: ticket.id,
      game_id: ticket.game_id,
      name: "South Stand",
      description: "Behind the goal",
      type: "socio",
      price: 12.5,
      stock: 20,
      sold: 2,
      available: 18,
      max_per_order: 4,
      max_per_user: 6,
      created_at: ticket.created_at,
    });
    expect(changed.updated_at > ticket.updated_at).toBe(true);
    expect(await (await api(`/tickets/${ticket.id}`)).json()).toEqual(changed);
  });

  it("takes plain application/json too, and an empty patch changes nothing", async () => {
    const ticket = await createTicket();
    const res = await patch(ticket.id, { active: false }, asAdmin, "application/json");
    expect(((await res.json()) as Ticket).active).toBe(false);
    const same = await patch(ticket.id, {});
    expect(same.status).toBe(200);
    expect(((await same.json()) as Ticket).updated_at).toBe(
      ((await (await api(`/tickets/${ticket.id}`)).json()) as Ticket).updated_at,
    );
  });

  it("applies a new price to new purchases only", async () => {
    const ticket = await createTicket({ price: 10 });
    const before = (await buy({ user_id: 2, ticket_id: ticket.id })).body;
    await patch(ticket.id, { price: 15 });
    const after = (await buy({ user_id: 2, ticket_id: ticket.id })).body;
    expect([before.unit_price, after.unit_price]).toEqual([10, 15]);
    const mine = (await (await api("/tickets/user/2", { headers: asAdmin })).json()) as {
      id: number;
      unit_price: number;
    }[];
    expect(mine.find((p) => p.id === before.id)?.unit_price).toBe(10);
  });

  it("lowers limits without touching existing purchases", async () => {
    const ticket = await createTicket({ stock: 50, max_per_user: 5 });
    expect((await buy({ user_id: 3, ticket_id: ticket.id, quantity: 4 })).status).toBe(200);
    expect((await patch(ticket.id, { max_per_user: 2, max_per_order: 1 })).status).toBe(200);
    const over = await postJson("/tickets/buy", { user_id: 3, ticket_id: ticket.id });
    expect(await expectProblem(over, 409, "user_limit")).toMatchObject({ max_per_user: 2, bought: 4 });
    expect((await buy({ user_id: 4, ticket_id: ticket.id, quantity: 2 })).status).toBe(400); // over max_per_order
    expect((await patch(ticket.id, { max_per_user: null })).status).toBe(200);
    expect((await buy({ user_id: 3, ticket_id: ticket.id })).status).toBe(200);
  });

  it("refuses stock below the units sold with 409 stock_below_sold, and takes it down to exactly that", async () => {
    const ticket = await createTicket({ stock: 10 });
    await buy({ user_id: 5, ticket_id: ticket.id, quantity: 3 });
    const problem = await expectProblem(await patch(ticket.id, { stock: 2 }), 409, "stock_below_sold");
    expect(problem.sold).toBe(3);
    const exact = (await (await patch(ticket.id, { stock: 3 })).json()) as Ticket;
    expect(exact).toMatchObject({ stock: 3, available: 0 });
    expect((await buy({ user_id: 6, ticket_id: ticket.id })).body.code).toBe("sold_out");
  });

  it("changes the currency only while nothing is sold (409 currency_locked)", async () => {
    const ticket = await createTicket();
    expect(((await (await patch(ticket.id, { currency: "USD" })).json()) as Ticket).currency).toBe("USD");
    await buy({ user_id: 7, ticket_id: ticket.id });
    const problem = await expectProblem(await patch(ticket.id, { currency: "GBP" }), 409, "currency_locked");
    expect(problem.sold).toBe(1);
    expect((await patch(ticket.id, { currency: "USD", price: 30 })).status).toBe(200); // unchanged currency is fine
  });

  it("sells only inside the sales window; null opens it again", async () => {
    const ticket = await createTicket();
    const start = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3600_000).toISOString(); // whole seconds
    const opened = (await (await patch(ticket.id, { sales_start: start.replace(".000Z", "Z") })).json()) as Ticket;
    expect(opened.sales_start).toBe(start); // stored in one normal form
    const early = await postJson("/tickets/buy", { user_id: 8, ticket_id: ticket.id });
    expect(await expectProblem(early, 409, "sales_closed")).toMatchObject({ sales_start: opened.sales_start });
    await patch(ticket.id, { sales_start: hoursFromNow(-2), sales_end: hoursFromNow(-1) });
    await expectProblem(await postJson("/tickets/buy", { user_id: 8, ticket_id: ticket.id }), 409, "sales_closed");
    await patch(ticket.id, { sales_end: null });
    expect((await buy({ user_id: 8, ticket_id: ticket.id })).status).toBe(200);
  });

  it("refuses a sales_end that is not after sales_start, given now or already held", async () => {
    const ticket = await createTicket();
    const both = await patch(ticket.id, { sales_start: hoursFromNow(2), sales_end: hoursFromNow(1) });
    expect(fieldsOf(await expectProblem(both, 400, "validation_error"))).toEqual(["sales_end"]);
    await patch(ticket.id, { sales_start: hoursFromNow(2) });
    const end = await patch(ticket.id, { sales_end: hoursFromNow(1) });
    expect(fieldsOf(await expectProblem(end, 400, "validation_error"))).toEqual(["sales_end"]);
  });

  it.each([
    [{ game_id: 2 }, "game_id"],
    [{ stock: -1 }, "stock"],
    [{ price: 1.234 }, "price"],
    [{ name: "" }, "name"],
    [{ name: null }, "name"],
    [{ active: "yes" }, "active"],
    [{ sales_start: "tomorrow" }, "sales_start"],
    [{ sales_start: "2026-02-30T10:00:00Z" }, "sales_start"],
    [{ sales_end: "2026-12-01T10:00:00+02:00" }, "sales_end"],
    [{ colour: "red" }, "colour"],
  ])("refuses %j with 400 naming %s", async (body, field) => {
    const ticket = await createTicket();
    expect(fieldsOf(await expectProblem(await patch(ticket.id, body), 400, "validation_error"))).toEqual([field]);
  });

  it("answers 404 for an unknown ticket, and 401/403 to anyone but the admin", async () => {
    await expectProblem(await patch(987_654_321, { price: 1 }), 404, "not_found");
    const ticket = await createTicket();
    await expectProblem(await patch(ticket.id, { price: 1 }, {}), 401, "unauthorized");
    await expectProblem(await patch(ticket.id, { price: 1 }, await asUser(1)), 403, "forbidden");
  });
});

describe("POST /tickets with a sales window", () => {
  it("takes sales_start and sales_end, and refuses an end before the start", async () => {
    const start = hoursFromNow(24);
    const ticket = await createTicket({ sales_start: start, sales_end: hoursFromNow(48) });
    expect(ticket.sales_start).toBe(start);
    await expectProblem(await postJson("/tickets/buy", { user_id: 1, ticket_id: ticket.id }), 409, "sales_closed");
    const bad = await postJson("/tickets", {
      game_id: freshGameId(),
      name: "x",
      price: 1,
      stock: 1,
      sales_start: hoursFromNow(2),
      sales_end: hoursFromNow(1),
    });
    expect(fieldsOf(await expectProblem(bad, 400, "validation_error"))).toEqual(["sales_end"]);
  });
});
