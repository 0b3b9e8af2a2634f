import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TicketSeller } from "../src/ticket/ticket-seller";
import { countD1, d1Down, interceptD1, outage } from "./d1";
import { api, asAdmin, buy, createTicket, expectProblem, freshGameId, postJson, sellerOf } from "./helpers";

// The failures of the design where D1 was the truth and the ticket's object a
// cache in front of it, one test each. They go through HTTP and the real D1
// binding (with faults injected into it), so they ran against that design too.

/** Runs the object's alarm until none is left: the read model catches up. */
async function settle(ticketId: number) {
  for (let i = 0; i < 20 && (await runDurableObjectAlarm(sellerOf(ticketId))); i++);
}

async function d1Purchases(ticketId: number) {
  const { results } = await env.DB.prepare(
    "SELECT id, user_id, quantity FROM purchases WHERE ticket_id = ? ORDER BY id",
  )
    .bind(ticketId)
    .all<{ id: number; user_id: number; quantity: number }>();
  const t = await env.DB.prepare("SELECT sold, stock FROM tickets WHERE id = ?")
    .bind(ticketId)
    .first<{ sold: number; stock: number }>();
  return { rows: results, ...t! };
}

/** A ticket written straight into D1, as one from before this design: its object has not taken it yet. */
async function legacyTicket(stock: number) {
  const now = new Date().toISOString();
  const row = await env.DB.prepare(
    "INSERT INTO tickets (game_id, name, price_minor, stock, created_at, updated_at) VALUES (?, 'Legacy', 1000, ?, ?, ?) RETURNING id",
  )
    .bind(freshGameId(), stock, now, now)
    .first<{ id: number }>();
  return row!.id;
}

const buyAs = (user_id: number, ticket_id: number, quantity = 1) => buy({ user_id, ticket_id, quantity });

describe("the ticket's object owns its truth", () => {
  it("1: a write whose answer was lost, with D1 changed behind the object, sells each buyer once", async () => {
    const ticket = await createTicket({ stock: 10 });
    expect((await buyAs(1, ticket.id)).status).toBe(200);
    await env.DB.prepare("UPDATE tickets SET sold = sold + 2 WHERE id = ?").bind(ticket.id).run();
    let writes = 0;
    const restore = interceptD1(async (call, forward) => {
      if (!call.writes) return forward();
      writes++;
      if (writes === 1) await scheduler.wait(100); // a slow write, so the next orders form one group
      if (writes !== 2) return forward();
      await forward();
      throw outage(); // the group's write committed, but its answer never arrives
    });
    const slow = buyAs(50, ticket.id);
    await scheduler.wait(20);
    const answers = await Promise.all([2, 3, 4].map((user) => buyAs(user, ticket.id)));
    await slow;
    restore();
    await settle(ticket.id);
    const { rows, sold } = await d1Purchases(ticket.id);
    expect(rows.map((r) => r.user_id).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 50]);
    expect(sold).toBe(5); // the object's count, not the edit made behind its back
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
  });

  it("2: a D1 failure never answers 'nothing was bought' for a purchase that was made", async () => {
    const ticket = await createTicket({ stock: 10 });
    expect((await buyAs(1, ticket.id)).status).toBe(200);
    let writes = 0;
    const restore = interceptD1(async (call, forward) => {
      if (call.writes && writes++ === 0) await forward(); // the first write commits...
      throw outage(); // ...its answer is lost, and D1 stays down
    });
    const res = await postJson("/tickets/buy", { user_id: 5, ticket_id: ticket.id });
    restore();
    await settle(ticket.id);
    const mine = (await d1Purchases(ticket.id)).rows.filter((r) => r.user_id === 5);
    expect(res.status).toBe(200);
    expect(mine).toHaveLength(1);
    expect(((await res.json()) as { id: number }).id).toBe(mine[0]!.id);
  });

  it("3: a PATCH takes effect for the very next order on a warm object", async () => {
    const ticket = await createTicket({ stock: 2, price: 10 });
    expect((await buyAs(1, ticket.id, 2)).status).toBe(200); // warm, and sold out
    const patch = (body: unknown) =>
      api(`/tickets/${ticket.id}`, {
        method: "PATCH",
        headers: { ...asAdmin, "Content-Type": "application/merge-patch+json" },
        body: JSON.stringify(body),
      });
    expect((await patch({ stock: 5, price: 12.5 })).status).toBe(200);
    const more = await buyAs(2, ticket.id);
    expect(more).toMatchObject({ status: 200, body: { unit_price: 12.5 } });
    expect((await patch({ active: false })).status).toBe(200);
    expect((await buyAs(3, ticket.id)).body.code).toBe("sales_closed");
    expect((await patch({ active: true })).status).toBe(200);
    expect((await buyAs(3, ticket.id)).status).toBe(200);
  });

  it("4: max_per_user holds while two instances of the object overlap", async () => {
    const ticket = await createTicket({ stock: 100, max_per_user: 2 });
    expect((await buyAs(99, ticket.id)).status).toBe(200); // warm
    // Slow D1 writes keep the first instance's orders in flight.
    const restore = interceptD1(async (call, forward) => {
      if (call.writes) await scheduler.wait(200);
      return forward();
    });
    const outcomes = await runInDurableObject(sellerOf(ticket.id), async (first: TicketSeller, state) => {
      // A successor instance on the same storage, as after an eviction, while the first still runs.
      const second = new TicketSeller(state, env);
      const order = { user_id: 7, quantity: 1 };
      const early = [first.buy(ticket.id, order), first.buy(ticket.id, order)];
      await scheduler.wait(20);
      return Promise.all([...early, second.buy(ticket.id, order), second.buy(ticket.id, order)]);
    });
    restore();
    await settle(ticket.id);
    const units = (await d1Purchases(ticket.id)).rows.filter((r) => r.user_id === 7).length;
    expect(outcomes.filter((o) => o.ok)).toHaveLength(2);
    expect(units).toBe(2);
  });

  it("5: a buyer's receipt is their own purchase, even when another writer stored the same units at once", async () => {
    const ticket = await createTicket({ stock: 10 });
    expect((await buyAs(1, ticket.id)).status).toBe(200);
    let foreign = 0;
    const restore = interceptD1(async (call, forward) => {
      const insert = call.statements.find((s) => /^\s*insert into "purchases"/i.test(s.sql));
      if (!insert || foreign > 0) return forward();
      foreign = 900_000_000 + ticket.id;
      // Instead of this write, another writer commits the same units at the same instant, and the answer is lost.
      const at = /"(\d{4}-\d\d-\d\dT[\d:.]+Z)"/.exec(JSON.stringify(insert.params).replaceAll('\\"', '"'))?.[1];
      await env.DB.batch([
        env.DB.prepare(
          "INSERT INTO purchases (id, user_id, ticket_id, game_id, quantity, unit_price_minor, total_price_minor, currency, created_at) VALUES (?, 666, ?, ?, 1, 2500, 2500, 'EUR', ?)",
        ).bind(foreign, ticket.id, ticket.game_id, at),
        env.DB.prepare("UPDATE tickets SET sold = sold + 1 WHERE id = ?").bind(ticket.id),
      ]);
      throw outage();
    });
    const answer = await buyAs(2, ticket.id);
    restore();
    await settle(ticket.id);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ user_id: 2, quantity: 1 });
    expect(answer.body.id).not.toBe(foreign);
  });

  it("6: failing D1 writes cost one attempt per backoff step, not a cascade, and no order fails", async () => {
    const ticket = await createTicket({ stock: 100 });
    expect((await buyAs(1, ticket.id)).status).toBe(200);
    let writes = 0;
    const restore = interceptD1(async (call, forward) => {
      if (call.writes) {
        writes++;
        throw outage();
      }
      return forward();
    });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => buyAs(10 + i, ticket.id)));
    restore();
    expect(answers.every((a) => a.status === 200)).toBe(true);
    // Attempts follow the backoff (0, 0.25, 0.75, 1.75 s...) while the buyers wait, whatever the number of orders.
    expect(writes).toBeLessThanOrEqual(6);
    await settle(ticket.id);
    expect((await d1Purchases(ticket.id)).sold).toBe(21);
  });

  it("6: a key in use on another ticket at the same moment sinks nothing here", async () => {
    const [a, b] = [await createTicket({ stock: 50 }), await createTicket({ stock: 50 })];
    await Promise.all([buyAs(1, a.id), buyAs(1, b.id)]); // warm both
    const { counts, restore } = countD1();
    const keyed = (ticket: number, user: number, key: string) =>
      postJson("/tickets/buy", { user_id: user, ticket_id: ticket }, { ...asAdmin, "Idempotency-Key": key });
    const answers = await Promise.all([
      keyed(a.id, 5, "shared-key"),
      ...Array.from({ length: 10 }, (_, i) => keyed(b.id, 20 + i, i === 3 ? "shared-key" : `own-${i}`)),
    ]);
    restore();
    expect(answers.map((r) => r.status)).toEqual(Array(11).fill(200));
    expect(counts.writes).toBeLessThanOrEqual(6); // a few group writes, no one-by-one retries
  });

  it("7: orders past the object's bound get 503 overloaded at once, and an order past its deadline is not run", async () => {
    const ticketId = await legacyTicket(10);
    const seller = sellerOf(ticketId);
    let release!: () => void;
    const stalled = new Promise<void>((r) => {
      release = r;
    });
    const restore = interceptD1(async (_call, forward) => {
      await stalled; // the object cannot load its ticket
      return forward();
    });
    const late = seller.buy(ticketId, { user_id: 1, quantity: 1, deadline: Date.now() + 50 });
    const flood = Array.from({ length: 1_100 }, (_, i) => seller.buy(ticketId, { user_id: 100 + i, quantity: 1 }));
    const refusedAtOnce = await Promise.race([
      Promise.any(flood.map((p) => p.then((o) => (!o.ok && o.code === "overloaded" ? o : Promise.reject())))),
      scheduler.wait(2_000).then(() => undefined),
    ]);
    expect(refusedAtOnce).toMatchObject({ ok: false, code: "overloaded" });
    await scheduler.wait(100);
    release();
    restore();
    expect(await late).toMatchObject({ ok: false, code: "unavailable" });
    const outcomes = await Promise.all(flood);
    const sold = outcomes.filter((o) => o.ok).length;
    expect(sold).toBe(10);
    await settle(ticketId);
    const { rows } = await d1Purchases(ticketId);
    expect(rows.map((r) => r.user_id)).not.toContain(1);
    expect(rows).toHaveLength(sold);
  });

  it("8: a D1 outage does not stop sales; reads answer 503 with Retry-After, never 500", async () => {
    const ticket = await createTicket({ stock: 5 });
    expect((await buyAs(1, ticket.id)).status).toBe(200);
    const restore = d1Down();
    let reads: Response[];
    let answers: { status: number }[];
    try {
      answers = await Promise.all(Array.from({ length: 8 }, (_, i) => buyAs(10 + i, ticket.id)));
      reads = await Promise.all([
        api(`/tickets/${ticket.id}`),
        api(`/tickets/game/${ticket.game_id}`),
        api("/tickets/user/1", { headers: asAdmin }),
        api("/tickets", { headers: asAdmin }),
      ]);
    } finally {
      restore();
    }
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 409, 409, 409, 409]);
    for (const res of reads) {
      await expectProblem(res, 503, "unavailable");
      expect(res.headers.get("Retry-After")).toMatch(/^\d+$/);
    }
    await settle(ticket.id);
    const after = (await (await api(`/tickets/${ticket.id}`)).json()) as { sold: number };
    expect(after.sold).toBe(5);
  });
});
