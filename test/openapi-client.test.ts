import createClient from "openapi-fetch";
import { describe, expect, it } from "vitest";
import type { paths } from "../openapi/schema";
import { asAdmin, asUser, BASE, fetchWorker, freshGameId } from "./helpers";

// A client generated from openapi/openapi.json (openapi-typescript's types,
// openapi-fetch), as a storefront not written against this codebase would
// have one, driving the worker. When the document drifts from the routes, its
// types fail the type check or its answers fail here.
const client = createClient<paths>({ baseUrl: BASE, fetch: fetchWorker });

describe("a client generated from the OpenAPI document", () => {
  it("creates a ticket, buys it and reads the purchase", async () => {
    const created = await client.POST("/tickets", {
      body: { game_id: freshGameId(), name: "Generated Stand", price: 18.5, stock: 3 },
      headers: asAdmin,
    });
    expect(created.response.status).toBe(200);
    const ticket = created.data!;
    expect(ticket).toMatchObject({ name: "Generated Stand", available: 3, currency: "EUR" });

    const fan = await asUser(77);
    const key = `generated-${ticket.id}`;
    const bought = await client.POST("/tickets/buy", {
      body: { user_id: 77, ticket_id: ticket.id, quantity: 2 },
      params: { header: { "idempotency-key": key } },
      headers: fan,
    });
    expect(bought.response.status).toBe(200);
    const total: number = bought.data!.total_price; // typed from the document
    expect(total).toBe(37);

    const read = await client.GET("/purchases/{purchase_id}", {
      params: { path: { purchase_id: bought.data!.id } },
      headers: fan,
    });
    expect(read.data).toMatchObject({ id: bought.data!.id, status: "confirmed", quantity: 2 });
    expect(read.data!.entries.map((e) => e.status)).toEqual(["valid", "valid"]);

    // A refusal comes back as the document's problem, its code typed.
    const refused = await client.POST("/tickets/buy", {
      body: { user_id: 77, ticket_id: ticket.id, quantity: 2 },
      headers: fan,
    });
    expect(refused.response.status).toBe(409);
    const code: string | undefined = refused.error?.code;
    expect(code).toBe("sold_out");
    expect(refused.error).toMatchObject({ status: 409, available: 1 });
  });
});
