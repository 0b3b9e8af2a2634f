import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { commitPurchases, database, PURCHASE_COLUMNS } from "../src/db/queries";
import { MAX_GROUP, type TicketSeller } from "../src/do/ticket-seller";
import { createTicket, expectProblem, postJson, type Query, sellerOf, wrapBatch } from "./helpers";

const paramsOf = (queries: Query[]) => queries.map((query) => query.toSQL().params.length);

/** Purchases in a batch, counted from the values its inserts bind. */
const ordersIn = (queries: Query[]) => paramsOf(queries.slice(1)).reduce((a, b) => a + b, 0) / PURCHASE_COLUMNS;

async function soldInD1(ticketId: number) {
  const t = await env.DB.prepare("SELECT sold FROM tickets WHERE id = ?").bind(ticketId).first<{ sold: number }>();
  const p = await env.DB.prepare(
    "SELECT count(*) AS rows, coalesce(sum(quantity), 0) AS units FROM purchases WHERE ticket_id = ?",
  )
    .bind(ticketId)
    .first<{ rows: number; units: number }>();
  return { sold: t!.sold, rows: p!.rows, units: p!.units };
}

describe("TicketSeller", () => {
  it("re-derives its state from D1 after a restart", async () => {
    const ticket = await createTicket({ stock: 5 });
    const seller = sellerOf(ticket.id);
    expect(await seller.buy(ticket.id, { user_id: 1, quantity: 3 })).toMatchObject({ ok: true });
    await evictDurableObject(seller);
    // Change the truth behind the object's back: the new instance must read it.
    await env.DB.prepare("UPDATE tickets SET sold = 4 WHERE id = ?").bind(ticket.id).run();
    expect(await seller.buy(ticket.id, { user_id: 2, quantity: 2 })).toEqual({
      ok: false,
      code: "sold_out",
      available: 1,
    });
    expect(await seller.buy(ticket.id, { user_id: 2, quantity: 1 })).toMatchObject({ ok: true });
  });

  it("groups concurrent orders into few D1 batches, within D1's limits", async () => {
    const ticket = await createTicket({ stock: 1000 });
    await sellerOf(ticket.id).buy(ticket.id, { user_id: 1, quantity: 1 }); // load the ticket first
    const batches: { orders: number; params: number[] }[] = [];
    await wrapBatch(ticket.id, (real) => async (queries) => {
      const results = await real(queries);
      batches.push({ orders: results.slice(1).flat().length, params: paramsOf(queries) });
      return results;
    });

    const orders = 250;
    const outcomes = await Promise.all(
      Array.from({ length: orders }, (_, i) => sellerOf(ticket.id).buy(ticket.id, { user_id: 100 + i, quantity: 1 })),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(batches.reduce((sum, b) => sum + b.orders, 0)).toBe(orders);
    // Orders that arrive while a batch is in flight share the next one.
    expect(batches.length).toBeLessThan(orders / 5);
    for (const batch of batches) {
      expect(batch.orders).toBeLessThanOrEqual(MAX_GROUP);
      for (const params of batch.params) expect(params).toBeLessThanOrEqual(100);
    }
    expect(await soldInD1(ticket.id)).toEqual({ sold: 251, rows: 251, units: 251 });
  });

  it("answers sold-out orders from memory without touching D1", async () => {
    const ticket = await createTicket({ stock: 2 });
    expect(await sellerOf(ticket.id).buy(ticket.id, { user_id: 1, quantity: 2 })).toMatchObject({ ok: true });
    await runInDurableObject(sellerOf(ticket.id), (instance: TicketSeller) => {
      instance.db = new Proxy(instance.db, {
        get: () => {
          throw new Error("D1 must not be used once sold out");
        },
      });
    });
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => sellerOf(ticket.id).buy(ticket.id, { user_id: i, quantity: 1 })),
    );
    expect(outcomes.every((o) => !o.ok && o.code === "sold_out")).toBe(true);
  });

  it("answers 503 when D1 fails, writes nothing, and sells again afterwards", async () => {
    const ticket = await createTicket({ stock: 3 });
    await sellerOf(ticket.id).buy(ticket.id, { user_id: 1, quantity: 1 });
    let failures = 1;
    await wrapBatch(ticket.id, (real) => async (queries) => {
      if (failures-- > 0) throw new Error("D1_ERROR: injected failure");
      return real(queries);
    });

    const res = await postJson("/tickets/buy", { user_id: 2, ticket_id: ticket.id, quantity: 2 });
    await expectProblem(res, 503, "unavailable");
    expect(res.headers.get("Retry-After")).toBe("1");
    expect(await soldInD1(ticket.id)).toEqual({ sold: 1, rows: 1, units: 1 });

    // The in-memory count was not corrupted: exactly the 2 remaining units sell.
    expect(await sellerOf(ticket.id).buy(ticket.id, { user_id: 2, quantity: 2 })).toMatchObject({ ok: true });
    expect(await sellerOf(ticket.id).buy(ticket.id, { user_id: 3, quantity: 1 })).toEqual({
      ok: false,
      code: "sold_out",
      available: 0,
    });
    expect(await soldInD1(ticket.id)).toEqual({ sold: 3, rows: 2, units: 3 });
  });

  it("settles a failed group one by one, so the other orders still sell", async () => {
    const ticket = await createTicket({ stock: 10 });
    await sellerOf(ticket.id).buy(ticket.id, { user_id: 1, quantity: 1 });
    let calls = 0;
    let failedGroup = 0;
    await wrapBatch(ticket.id, (real) => async (queries) => {
      calls++;
      // Hold the first batch so the other orders queue up behind it...
      if (calls === 1) await scheduler.wait(100);
      // ...then fail the group they form.
      if (calls === 2) {
        failedGroup = ordersIn(queries);
        throw new Error("D1_ERROR: injected failure");
      }
      return real(queries);
    });
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, (_, i) => sellerOf(ticket.id).buy(ticket.id, { user_id: 10 + i, quantity: 1 })),
    );
    expect(failedGroup).toBe(4);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(await soldInD1(ticket.id)).toEqual({ sold: 6, rows: 6, units: 6 });
  });

  it("answers 200 with the stored purchase when a batch committed but its answer was lost", async () => {
    const ticket = await createTicket({ stock: 5 });
    await sellerOf(ticket.id).buy(ticket.id, { user_id: 1, quantity: 1 });
    let failures = 1;
    await wrapBatch(ticket.id, (real) => async (queries) => {
      const results = await real(queries);
      if (failures-- > 0) throw new Error("Network connection lost");
      return results;
    });
    const outcome = await sellerOf(ticket.id).buy(ticket.id, { user_id: 42, quantity: 2 });
    expect(outcome).toMatchObject({ ok: true, purchase: { user_id: 42, quantity: 2, ticket_id: ticket.id } });
    expect(await soldInD1(ticket.id)).toEqual({ sold: 3, rows: 2, units: 3 });
    // Its cached count is right: exactly 2 more units sell.
    expect(await sellerOf(ticket.id).buy(ticket.id, { user_id: 43, quantity: 3 })).toEqual({
      ok: false,
      code: "sold_out",
      available: 2,
    });
  });

  it("never oversells when its cached count is stale: the D1 guard fails the batch", async () => {
    const ticket = await createTicket({ stock: 10 });
    await sellerOf(ticket.id).buy(ticket.id, { user_id: 1, quantity: 1 });
    // Someone sold 8 more units behind the object's back; it still believes 9 are left.
    await env.DB.prepare("UPDATE tickets SET sold = 9 WHERE id = ?").bind(ticket.id).run();
    const outcomes = await Promise.all(
      Array.from({ length: 4 }, (_, i) => sellerOf(ticket.id).buy(ticket.id, { user_id: 20 + i, quantity: 1 })),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
    expect(outcomes.filter((o) => !o.ok && o.code === "sold_out")).toHaveLength(3);
    const row = await env.DB.prepare("SELECT sold FROM tickets WHERE id = ?").bind(ticket.id).first();
    expect(row).toEqual({ sold: 10 });
  });

  it("rolls back the whole batch when the guard fails: no purchase without its count", async () => {
    const ticket = await createTicket({ stock: 2 });
    const db = database(env.DB);
    const row = (user_id: number) => ({
      user_id,
      ticket_id: ticket.id,
      game_id: ticket.game_id,
      quantity: 1,
      unit_price_minor: 100,
      total_price_minor: 100,
      currency: "EUR",
      created_at: new Date().toISOString(),
    });
    await expect(commitPurchases(db, ticket.id, [row(1), row(2), row(3)])).rejects.toThrow();
    expect(await soldInD1(ticket.id)).toEqual({ sold: 0, rows: 0, units: 0 });
    await expect(commitPurchases(db, ticket.id, [row(1), row(2)])).resolves.toHaveLength(2);
    expect(await soldInD1(ticket.id)).toEqual({ sold: 2, rows: 2, units: 2 });
  });
});
