import { exports } from "cloudflare:workers";
import { hc } from "hono/client";
import { describe, expect, it } from "vitest";
import type { AppType } from "../src/index";
import { asAdmin, asUser, BASE, freshGameId } from "./helpers";

// The typed client a TypeScript consumer gets from `hc<AppType>()`, driving the worker.
const client = hc<AppType>(BASE, {
  fetch: (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(input, init)),
});

describe("typed client", () => {
  it("creates, buys and reads with end-to-end types", async () => {
    const created = await client.tickets.$post(
      { json: { game_id: freshGameId(), name: "Typed Stand", price: 12.5, stock: 3 }, header: {} },
      { headers: asAdmin },
    );
    expect(created.status).toBe(200);
    const ticket = await created.json();
    if (!("id" in ticket)) throw new Error("expected a ticket");

    const bought = await client.tickets.buy.$post(
      { json: { user_id: 5, ticket_id: ticket.id, quantity: 2 }, header: { "idempotency-key": `typed-${ticket.id}` } },
      { headers: await asUser(5) },
    );
    expect(bought.ok).toBe(true);
    if (!bought.ok) return;
    const purchase = await bought.json();
    const total: number = purchase.total_price; // typed from the route's response schema
    expect(total).toBe(25);
    expect(purchase).toMatchObject({ ticket_id: ticket.id, quantity: 2 });

    const read = await client.tickets[":ticket_id"].$get({ param: { ticket_id: String(ticket.id) } });
    expect(await read.json()).toMatchObject({ id: ticket.id, sold: 2, available: 1 });

    const mine = await client.tickets.user[":user_id"].$get(
      { param: { user_id: "5" }, query: { status: "confirmed" } },
      { headers: await asUser(5) },
    );
    expect(mine.status).toBe(200);
    if (mine.ok) expect((await mine.json())[0]?.status).toBe("confirmed"); // typed: the purchase's state
  });
});
