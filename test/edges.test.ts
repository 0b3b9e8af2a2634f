import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { interceptD1 } from "./d1";
import { api, asAdmin, buy, createTicket, freshGameId, postJson, sellerOf } from "./helpers";

// Edges found by an adversarial review of the ticket's object, each reproduced
// here first (they failed) and then mended.

async function settle(ticketId: number) {
  for (let i = 0; i < 20 && (await runDurableObjectAlarm(sellerOf(ticketId))); i++);
}

const nextPurchaseId = async () =>
  (await env.DB.prepare("SELECT next FROM sequences WHERE name = 'purchases'").first<{ next: number }>())!.next;

async function d1State(ticketId: number) {
  const t = await env.DB.prepare("SELECT sold, stock, version FROM tickets WHERE id = ?")
    .bind(ticketId)
    .first<{ sold: number; stock: number; version: number }>();
  const { results } = await env.DB.prepare(
    "SELECT id, user_id, quantity FROM purchases WHERE ticket_id = ? ORDER BY id",
  )
    .bind(ticketId)
    .all<{ id: number; user_id: number; quantity: number }>();
  return { ...t!, rows: results };
}

const legacyTicket = async (columns: string, values: unknown[]) => {
  const now = new Date().toISOString();
  return (await env.DB.prepare(
    `INSERT INTO tickets (game_id, name, price_minor, created_at, updated_at, ${columns}) VALUES (?, 'Old', 1000, ?, ?, ${values.map(() => "?").join(", ")}) RETURNING id`,
  )
    .bind(freshGameId(), now, now, ...values)
    .first<{ id: number }>())!.id;
};

describe("edges of the ticket's object", () => {
  it("keeps a purchase the previous Worker sold during a deploy: block ids start far above D1's own", async () => {
    // The previous Worker, still deployed while the migrations run, sells the way it always did.
    const game = freshGameId();
    const legacy = await legacyTicket("stock, sold", [10, 1]);
    const told = (await env.DB.prepare(
      "INSERT INTO purchases (user_id, ticket_id, game_id, quantity, unit_price_minor, total_price_minor, currency, created_at) VALUES (41, ?, ?, 1, 1000, 1000, 'EUR', ?) RETURNING id",
    )
      .bind(legacy, game, new Date().toISOString())
      .first<{ id: number }>())!.id;
    const fresh = await createTicket({ stock: 10 });
    const sale = await buy({ user_id: 42, ticket_id: fresh.id });
    await settle(fresh.id);
    expect(sale.body.id).toBeGreaterThan(told + 900_000_000);
    const row = await env.DB.prepare("SELECT ticket_id, user_id FROM purchases WHERE id = ?").bind(told).first();
    expect(row).toEqual({ ticket_id: legacy, user_id: 41 });
  });

  it("never lets a projection take over another ticket's row with the same id", async () => {
    const a = await createTicket({ stock: 10 });
    const sale = await buy({ user_id: 1, ticket_id: a.id });
    const b = await createTicket({ stock: 10 });
    // A row of ticket b that somehow holds the id of a's purchase (the guard under the unique ids).
    await env.DB.prepare("UPDATE purchases SET ticket_id = ?, user_id = 99 WHERE id = ?")
      .bind(b.id, sale.body.id)
      .run();
    await api(`/tickets/${a.id}`, {
      method: "PATCH",
      headers: { ...asAdmin, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Renamed" }),
    });
    await runInDurableObject(sellerOf(a.id), (_, state) => {
      state.storage.sql.exec("UPDATE purchases SET version = version + 100 WHERE id = ?", sale.body.id);
      state.storage.sql.exec(
        "INSERT INTO outbox (entity, entity_id, since, version) VALUES ('purchase', ?, 1, 1000) ON CONFLICT DO UPDATE SET version = 1000",
        sale.body.id,
      );
    });
    await settle(a.id);
    expect(
      await env.DB.prepare("SELECT ticket_id, user_id FROM purchases WHERE id = ?").bind(sale.body.id).first(),
    ).toEqual({
      ticket_id: b.id,
      user_id: 99,
    });
  });

  it("does not run an order that waited for a purchase-id refill past its deadline", async () => {
    const ticket = await createTicket({ stock: 10 });
    const seller = sellerOf(ticket.id);
    expect(await seller.buy(ticket.id, { user_id: 1, quantity: 1 })).toMatchObject({ ok: true });
    await runInDurableObject(seller, (_, state) => {
      state.storage.sql.exec("DELETE FROM id_blocks");
    });
    const restore = interceptD1(async (call, forward) => {
      if (call.statements.some((s) => /update "sequences"/i.test(s.sql))) await scheduler.wait(300);
      return forward();
    });
    const deadline = Date.now() + 100;
    const outcome = await seller.buy(ticket.id, { user_id: 2, quantity: 1, deadline });
    restore();
    expect(outcome).toMatchObject({ ok: false, code: "unavailable" });
    expect((await seller.ticket(ticket.id)) as { sold: number }).toMatchObject({ sold: 1 });
  });

  it("says the outcome is unknown, not 'nothing was done', when a resync's D1 batch lost its answer", async () => {
    const ticket = await createTicket({ stock: 10 });
    expect((await buy({ user_id: 1, ticket_id: ticket.id })).status).toBe(200);
    const stray = 970_000_000 + ticket.id;
    await env.DB.prepare(
      "INSERT INTO purchases (id, user_id, ticket_id, game_id, quantity, unit_price_minor, total_price_minor, currency, created_at) VALUES (?, 66, ?, ?, 1, 1, 1, 'EUR', '2026-01-01T00:00:00.000Z')",
    )
      .bind(stray, ticket.id, ticket.game_id)
      .run();
    const restore = interceptD1(async (call, forward) => {
      if (!call.statements.some((s) => /delete from "purchases"/i.test(s.sql))) return forward();
      await forward();
      throw new Error("D1_ERROR: injected: Network connection lost.");
    });
    const res = await api(`/tickets/${ticket.id}/resync`, { method: "POST", headers: asAdmin });
    restore();
    expect(res.status).toBe(503);
    expect(((await res.json()) as { code: string }).code).toBe("outcome_unknown");
    expect((await d1State(ticket.id)).rows.map((r) => r.id)).not.toContain(stray); // it was done
  });

  it("rebuilds D1 exactly by resync even where D1's versions ran ahead of the object's; then projects again", async () => {
    const ticket = await createTicket({ stock: 10 });
    const first = await buy({ user_id: 1, ticket_id: ticket.id, quantity: 2 });
    await env.DB.batch([
      env.DB.prepare("UPDATE tickets SET sold = 0, stock = 999, version = version + 1000 WHERE id = ?").bind(ticket.id),
      env.DB.prepare("UPDATE purchases SET quantity = 7, version = version + 1000 WHERE id = ?").bind(first.body.id),
    ]);
    expect((await buy({ user_id: 2, ticket_id: ticket.id, quantity: 3 })).status).toBe(200);
    expect((await api(`/tickets/${ticket.id}/resync`, { method: "POST", headers: asAdmin })).status).toBe(200);
    let d1 = await d1State(ticket.id);
    expect({ sold: d1.sold, stock: d1.stock }).toEqual({ sold: 5, stock: 10 });
    expect(d1.rows.map((r) => [r.user_id, r.quantity])).toEqual([
      [1, 2],
      [2, 3],
    ]);
    expect((await buy({ user_id: 3, ticket_id: ticket.id })).status).toBe(200); // the normal projection works again
    d1 = await d1State(ticket.id);
    expect(d1.sold).toBe(6);
  });

  it("does not stop projecting when a resync's D1 call never answers", { timeout: 20_000 }, async () => {
    const ticket = await createTicket({ stock: 10 });
    expect((await buy({ user_id: 1, ticket_id: ticket.id })).status).toBe(200);
    let release!: () => void;
    const hung = new Promise<void>((r) => {
      release = r;
    });
    const restore = interceptD1(async (call, forward) => {
      if (call.statements.some((s) => /delete from "purchases"/i.test(s.sql))) await hung;
      return forward();
    });
    const resync = api(`/tickets/${ticket.id}/resync`, { method: "POST", headers: asAdmin });
    await scheduler.wait(50);
    const sale = await buy({ user_id: 2, ticket_id: ticket.id });
    expect(sale.status).toBe(200);
    expect((await resync).status).toBe(503); // the resync gave up after 5 s
    await settle(ticket.id);
    const row = await env.DB.prepare("SELECT id FROM purchases WHERE id = ?").bind(sale.body.id).first();
    release();
    restore();
    expect(row).not.toBeNull();
  });

  it("keeps what later flushes wrote when a resync's D1 batch lands after them", { timeout: 30_000 }, async () => {
    const ticket = await createTicket({ stock: 10 });
    expect((await buy({ user_id: 1, ticket_id: ticket.id })).status).toBe(200);
    let release!: () => void;
    const hung = new Promise<void>((r) => {
      release = r;
    });
    let landed!: () => void;
    const lateLanded = new Promise<void>((r) => {
      landed = r;
    });
    // D1 takes the resync's batch but runs it late: after the object gave up on it (5 s) and flushed a sale.
    const restore = interceptD1(async (call, forward) => {
      if (!call.statements.some((s) => /delete from "purchases"/i.test(s.sql))) return forward();
      await hung;
      try {
        return await forward();
      } finally {
        landed();
      }
    });
    let saleId = 0;
    try {
      const resync = api(`/tickets/${ticket.id}/resync`, { method: "POST", headers: asAdmin });
      await scheduler.wait(50);
      const sale = await buy({ user_id: 2, ticket_id: ticket.id });
      expect(sale.status).toBe(200);
      saleId = sale.body.id as number;
      expect((await resync).status).toBe(503);
      await settle(ticket.id);
      release();
      await lateLanded;
    } finally {
      release();
      restore();
    }
    await settle(ticket.id);
    // The older ticket row is not put back, and the sale D1 got from the later flush is not deleted.
    const d1 = await d1State(ticket.id);
    expect({ sold: d1.sold, ids: d1.rows.map((r) => r.id).includes(saleId) }).toEqual({ sold: 2, ids: true });
  });

  it("takes over a D1 ticket whose sales window the object's CHECK would refuse, by dropping its end", async () => {
    const ticketId = await legacyTicket("stock, sales_start, sales_end", [
      10,
      "2020-06-01T00:00:00.000Z",
      "2020-01-01T00:00:00.000Z",
    ]);
    const before = await nextPurchaseId();
    expect((await buy({ user_id: 1, ticket_id: ticketId })).status).toBe(200);
    const owned = (await sellerOf(ticketId).ticket(ticketId)) as { sales_start: string; sales_end: string | null };
    expect(owned).toMatchObject({ sales_start: "2020-06-01T00:00:00.000Z", sales_end: null });
    expect((await nextPurchaseId()) - before).toBe(4_096); // one block, taken once the ticket was owned
  });

  it("takes over a D1 ticket with 130,000 purchases", { timeout: 60_000 }, async () => {
    const n = 130_000;
    const ticketId = await legacyTicket("stock, sold", [n + 10, n]);
    const game = (await env.DB.prepare("SELECT game_id FROM tickets WHERE id = ?")
      .bind(ticketId)
      .first<{ game_id: number }>())!.game_id;
    await env.DB.prepare(
      `WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < ? - 1)
       INSERT INTO purchases (id, user_id, ticket_id, game_id, quantity, unit_price_minor, total_price_minor, currency, created_at)
       SELECT ? + x, 1 + x % 5000, ?, ?, 1, 1000, 1000, 'EUR', '2026-01-01T00:00:00.000Z' FROM c`,
    )
      .bind(n, 500_000_000, ticketId, game)
      .run();
    const outcome = await sellerOf(ticketId).buy(ticketId, { user_id: 7, quantity: 1 });
    expect(outcome).toMatchObject({ ok: true });
    expect((await sellerOf(ticketId).ticket(ticketId)) as { sold: number }).toMatchObject({ sold: n + 1 });
  });

  it("projects one change that touches more rows than a flush carries: 250 holds ending in one transaction", {
    timeout: 60_000,
  }, async () => {
    const ticket = await createTicket({ stock: 300, hold_seconds: 60, max_per_order: 1 });
    for (let i = 0; i < 250; i += 25) {
      const answers = await Promise.all(
        Array.from({ length: 25 }, (_, j) =>
          postJson("/tickets/hold", { user_id: 50_000 + i + j, ticket_id: ticket.id }),
        ),
      );
      expect(answers.every((r) => r.status === 201)).toBe(true);
    }
    const heldInD1 = async () =>
      (await env.DB.prepare("SELECT count(*) AS n FROM purchases WHERE ticket_id = ? AND status = 'held'")
        .bind(ticket.id)
        .first<{ n: number }>())!.n;
    expect(await heldInD1()).toBe(250);
    // The alarm is late (the object was evicted, the runtime busy): every hold is due when it rings.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 120_000 });
    try {
      await runDurableObjectAlarm(sellerOf(ticket.id));
    } finally {
      vi.useRealTimers();
    }
    expect(await heldInD1()).toBe(0);
    const d1 = await env.DB.prepare("SELECT held FROM tickets WHERE id = ?").bind(ticket.id).first<{ held: number }>();
    expect(d1).toEqual({ held: 0 });
  });

  it("keeps projecting when every row a flush carried changed again while D1 wrote them", async () => {
    const ticket = await createTicket({ stock: 10 });
    const hold = (await (await postJson("/tickets/hold", { user_id: 5, ticket_id: ticket.id })).json()) as {
      id: number;
    };
    let slowed = false;
    const restore = interceptD1(async (call, forward) => {
      if (!slowed && call.writes && call.statements.some((s) => /insert into "tickets"/i.test(s.sql))) {
        slowed = true;
        await scheduler.wait(300); // D1 is slow to take this flush
      }
      return forward();
    });
    let confirmed: Response;
    try {
      const patch = api(`/tickets/${ticket.id}`, {
        method: "PATCH",
        headers: { ...asAdmin, "Content-Type": "application/json" },
        body: JSON.stringify({ price: 30 }),
      });
      await scheduler.wait(100); // its flush has read the ticket's row and is being written
      // A change of the same rows meanwhile: the flush that carried the PATCH no longer covers them whole.
      confirmed = await postJson(`/purchases/${hold.id}/confirm`, {}, asAdmin);
      expect((await patch).status).toBe(200);
    } finally {
      restore();
    }
    expect(confirmed.status).toBe(200);
    // Answered once D1 holds it: the read model shows the confirmation at once, not after the alarm.
    const d1 = await env.DB.prepare(
      "SELECT p.status, t.sold, t.held, t.price_minor FROM purchases p JOIN tickets t ON t.id = p.ticket_id WHERE p.id = ?",
    )
      .bind(hold.id)
      .first();
    expect(d1).toEqual({ status: "confirmed", sold: 1, held: 0, price_minor: 3000 });
  });

  it("keeps projecting when every row a flush carried of one change of more than 200 rows changed again", {
    timeout: 60_000,
  }, async () => {
    const ticket = await createTicket({ stock: 600, hold_seconds: 60, max_per_order: 1 });
    const holds: number[] = [];
    for (let i = 0; i < 250; i += 25) {
      const answers = await Promise.all(
        Array.from({ length: 25 }, (_, j) =>
          postJson("/tickets/hold", { user_id: 70_000 + i + j, ticket_id: ticket.id }),
        ),
      );
      for (const r of answers) holds.push(((await r.json()) as { id: number }).id);
    }
    let slowed = false;
    const restore = interceptD1(async (call, forward) => {
      if (!slowed && call.writes && call.statements.some((s) => /insert into "tickets"/i.test(s.sql))) {
        slowed = true;
        await scheduler.wait(800); // D1 is slow to take the first 200 rows of the expiry
      }
      return forward();
    });
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 120_000 });
    let inD1: (string | undefined)[];
    try {
      // The alarm rings late: all 250 holds end in one change of 251 rows; its flush carries 200 of them.
      const alarm = runDurableObjectAlarm(sellerOf(ticket.id));
      await scheduler.wait(100);
      // Meanwhile every ended hold is confirmed after all (each changes the ticket and its purchase).
      inD1 = await Promise.all(
        holds.map(async (id) => {
          expect(await sellerOf(ticket.id).confirm(ticket.id, id)).toMatchObject({ ok: true });
          const row = await env.DB.prepare("SELECT status FROM purchases WHERE id = ?")
            .bind(id)
            .first<{ status: string }>();
          return row?.status;
        }),
      );
      await alarm;
    } finally {
      vi.useRealTimers();
      restore();
    }
    // Each was answered once D1 held it (D1 was slow, never down: no answer needed the 2 s bound).
    expect(inD1.filter((status) => status !== "confirmed")).toEqual([]);
  });
});
