import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { allocatePurchaseIds, database } from "../src/db/queries";
import { recordSale } from "../src/ticket/sales";
import * as store from "../src/ticket/store";
import { countD1, d1Down, EVENTS_WORK, interceptD1 } from "./d1";
import { api, asAdmin, buy, createTicket, expectProblem, freshGameId, postJson, sellerOf } from "./helpers";

// The ticket's Durable Object: its own storage is the truth, D1 a projection of it.

async function inD1(ticketId: number) {
  const t = await env.DB.prepare("SELECT sold, stock FROM tickets WHERE id = ?")
    .bind(ticketId)
    .first<{ sold: number; stock: number }>();
  const { results } = await env.DB.prepare(
    "SELECT id, user_id, quantity FROM purchases WHERE ticket_id = ? ORDER BY id",
  )
    .bind(ticketId)
    .all<{ id: number; user_id: number; quantity: number }>();
  return { ...t!, rows: results };
}

/** Runs the object's alarm until none is left. */
async function settle(ticketId: number) {
  for (let i = 0; i < 20 && (await runDurableObjectAlarm(sellerOf(ticketId))); i++);
}

/** The object's own tables, read in place. */
const inObject = (ticketId: number) =>
  runInDurableObject(sellerOf(ticketId), (_, state) => {
    const db = store.openStore(state.storage);
    return {
      ticket: store.readTicket(db)!,
      purchases: store.purchasesAfter(db, 0, 10_000),
      pending: store.pendingChanges(db, 10_000).length,
      reserved: store.reservedIds(db),
    };
  });

const resync = (ticketId: number) => api(`/tickets/${ticketId}/resync`, { method: "POST", headers: asAdmin });

describe("TicketSeller", () => {
  it("keeps its truth across a restart, whatever D1 says; a resync rebuilds D1 from it", async () => {
    const ticket = await createTicket({ stock: 5 });
    const seller = sellerOf(ticket.id);
    const sold = await seller.buy(ticket.id, { user_id: 1, quantity: 3 });
    expect(sold).toMatchObject({ ok: true });
    await evictDurableObject(seller);
    // D1 is changed behind the object's back: it must not believe any of it.
    await env.DB.batch([
      env.DB.prepare("UPDATE tickets SET sold = 0, stock = 100 WHERE id = ?").bind(ticket.id),
      env.DB.prepare("DELETE FROM purchases WHERE ticket_id = ?").bind(ticket.id),
      env.DB.prepare(
        "INSERT INTO purchases (id, user_id, ticket_id, game_id, quantity, unit_price_minor, total_price_minor, currency, created_at) VALUES (?, 77, ?, ?, 1, 1, 1, 'EUR', '2026-01-01T00:00:00.000Z')",
      ).bind(990_000_000 + ticket.id, ticket.id, ticket.game_id),
    ]);
    expect(await seller.buy(ticket.id, { user_id: 2, quantity: 3 })).toEqual({
      ok: false,
      code: "sold_out",
      available: 2,
    });

    const res = await resync(ticket.id);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ticket_id: ticket.id, purchases: 1 });
    const d1 = await inD1(ticket.id);
    expect(d1).toMatchObject({ sold: 3, stock: 5 });
    expect(d1.rows).toEqual([{ id: sold.ok ? sold.purchase.id : -1, user_id: 1, quantity: 3 }]);
  });

  it("answers 404 to a resync of a ticket that does not exist", async () => {
    await expectProblem(await resync(987_654_321), 404, "not_found");
  });

  it("groups concurrent orders into few D1 writes, each within D1's 100 parameters", async () => {
    const ticket = await createTicket({ stock: 1_000 });
    await sellerOf(ticket.id).buy(ticket.id, { user_id: 1, quantity: 1 });
    const writes: number[][] = [];
    const restore = interceptD1((call, forward) => {
      if (call.writes) writes.push(call.statements.map((s) => s.params.length));
      return forward();
    });
    const orders = 250;
    const outcomes = await Promise.all(
      Array.from({ length: orders }, (_, i) => sellerOf(ticket.id).buy(ticket.id, { user_id: 100 + i, quantity: 1 })),
    );
    restore();
    expect(outcomes.every((o) => o.ok)).toBe(true);
    // Changes made during one D1 round trip share the next one.
    expect(writes.length).toBeLessThan(orders / 5);
    for (const params of writes.flat()) expect(params).toBeLessThanOrEqual(100);
    const d1 = await inD1(ticket.id);
    expect(d1.sold).toBe(orders + 1);
    expect(d1.rows).toHaveLength(orders + 1);
  });

  it("answers sold-out orders without touching D1", async () => {
    const ticket = await createTicket({ stock: 2 });
    expect(await sellerOf(ticket.id).buy(ticket.id, { user_id: 1, quantity: 2 })).toMatchObject({ ok: true });
    const { counts, restore } = countD1(EVENTS_WORK); // the events of that sale are delivered meanwhile
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => sellerOf(ticket.id).buy(ticket.id, { user_id: i, quantity: 1 })),
    );
    restore();
    expect(outcomes.every((o) => !o.ok && o.code === "sold_out")).toBe(true);
    expect(counts.calls).toBe(0);
  });

  it("refuses a sale that would oversell with the CHECK in its own storage, and rolls it back whole", async () => {
    const ticket = await createTicket({ stock: 2 });
    expect(await sellerOf(ticket.id).buy(ticket.id, { user_id: 1, quantity: 2 })).toMatchObject({ ok: true });
    const before = await inObject(ticket.id);
    // Past the object's own checks, straight to the write: the database must refuse it.
    await runInDurableObject(sellerOf(ticket.id), (_, state) => {
      const db = store.openStore(state.storage);
      expect(() => recordSale(db, before.ticket, { user_id: 2, quantity: 1 }, new Date().toISOString())).toThrow(
        /CHECK constraint failed/,
      );
    });
    expect(await inObject(ticket.id)).toEqual(before); // no purchase, no id taken, no version, no outbox entry
  });

  it("takes over a ticket from before: its purchases, their keys and the units each user holds", async () => {
    const game = freshGameId();
    const now = new Date().toISOString();
    const { id: ticketId } = (await env.DB.prepare(
      "INSERT INTO tickets (game_id, name, price_minor, stock, sold, max_per_user, created_at, updated_at) VALUES (?, 'Old', 500, 5, 2, 2, ?, ?) RETURNING id",
    )
      .bind(game, now, now)
      .first<{ id: number }>())!;
    const body = { user_id: 7, ticket_id: ticketId, quantity: 2 };
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify(body))),
    );
    const hash = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
    const oldId = 980_000_000 + ticketId;
    await env.DB.prepare(
      "INSERT INTO purchases (id, user_id, ticket_id, game_id, quantity, unit_price_minor, total_price_minor, currency, created_at, idem_principal, idem_key, idem_hash) VALUES (?, 7, ?, ?, 2, 500, 1000, 'EUR', ?, 'admin', 'before', ?)",
    )
      .bind(oldId, ticketId, game, now, hash)
      .run();

    const replay = await postJson("/tickets/buy", body, { ...asAdmin, "Idempotency-Key": "before" });
    expect(replay.status).toBe(200);
    expect(((await replay.json()) as { id: number }).id).toBe(oldId);
    const over = await postJson("/tickets/buy", { user_id: 7, ticket_id: ticketId }, asAdmin);
    expect(await expectProblem(over, 409, "user_limit")).toMatchObject({ bought: 2 });
    expect((await buy({ user_id: 8, ticket_id: ticketId, quantity: 2 })).status).toBe(200);
    expect((await buy({ user_id: 9, ticket_id: ticketId, quantity: 2 })).body).toMatchObject({ available: 1 });
  });

  it("hands out purchase ids unique across tickets, from blocks reserved in D1", async () => {
    const [a, b] = [await createTicket({ stock: 50 }), await createTicket({ stock: 50 })];
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        sellerOf(i % 2 ? a.id : b.id).buy(i % 2 ? a.id : b.id, { user_id: i, quantity: 1 }),
      ),
    );
    const ids = outcomes.map((o) => (o.ok ? o.purchase.id : 0));
    expect(ids.every((id) => Number.isSafeInteger(id) && id > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("sells through a D1 outage until its id reserve is spent, then 503 with nothing bought; sells again after", async () => {
    const ticket = await createTicket({ stock: 100 });
    expect((await buy({ user_id: 1, ticket_id: ticket.id })).status).toBe(200);
    // Leave the object three ids, as if it had sold the rest of its reserve.
    const block = await allocatePurchaseIds(database(env.DB), 3, ticket.id);
    await runInDurableObject(sellerOf(ticket.id), (_, state) => {
      state.storage.sql.exec("DELETE FROM id_blocks");
      state.storage.sql.exec(
        "INSERT INTO id_blocks (start, next, end) VALUES (?, ?, ?)",
        block.start,
        block.start,
        block.end,
      );
    });
    const restore = d1Down();
    const during = [];
    for (let user = 2; user <= 5; user++)
      during.push(await postJson("/tickets/buy", { user_id: user, ticket_id: ticket.id }));
    restore();
    expect(during.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
    const problem = await expectProblem(during[3]!, 503, "unavailable");
    expect(problem.detail).toMatch(/Nothing was done/);
    expect((await inObject(ticket.id)).ticket.sold).toBe(4); // the refused order bought nothing

    await scheduler.wait(600); // the id requests' backoff
    expect((await buy({ user_id: 5, ticket_id: ticket.id })).status).toBe(200);
    await settle(ticket.id);
    const d1 = await inD1(ticket.id);
    expect(d1.rows.map((r) => r.user_id)).toEqual([1, 2, 3, 4, 5]);
    expect(d1.sold).toBe(5);
  });

  it("reserves the next block of ids ahead of need", async () => {
    const ticket = await createTicket({ stock: 100 });
    expect((await buy({ user_id: 1, ticket_id: ticket.id })).status).toBe(200);
    const block = await allocatePurchaseIds(database(env.DB), 10, ticket.id);
    await runInDurableObject(sellerOf(ticket.id), (_, state) => {
      state.storage.sql.exec("DELETE FROM id_blocks");
      state.storage.sql.exec(
        "INSERT INTO id_blocks (start, next, end) VALUES (?, ?, ?)",
        block.start,
        block.start,
        block.end,
      );
    });
    expect((await buy({ user_id: 2, ticket_id: ticket.id })).status).toBe(200);
    await scheduler.wait(50);
    expect((await inObject(ticket.id)).reserved).toBeGreaterThanOrEqual(9 + 4_096);
  });

  it("projects changes a restart left pending, on its own, by its alarm", async () => {
    const ticket = await createTicket({ stock: 10 });
    const restore = d1Down();
    const answers = [await buy({ user_id: 1, ticket_id: ticket.id }), await buy({ user_id: 2, ticket_id: ticket.id })];
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    await evictDurableObject(sellerOf(ticket.id));
    restore();
    expect((await inD1(ticket.id)).rows).toEqual([]);
    expect(await runDurableObjectAlarm(sellerOf(ticket.id))).toBe(true);
    await settle(ticket.id);
    expect((await inD1(ticket.id)).rows.map((r) => r.user_id)).toEqual([1, 2]);
    expect((await inObject(ticket.id)).pending).toBe(0);
  });
});
