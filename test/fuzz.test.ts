import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import * as store from "../src/ticket/store";
import { interceptD1 } from "./d1";
import { api, asAdmin, createTicket, postJson, sellerOf } from "./helpers";

// Randomised interleavings over HTTP: buys (keyed and not), PATCHes, resyncs,
// alarms and evictions, on a D1 that is slow, fails, and loses answers after
// committing. Each order has its own user, so every answer can be checked
// against the object's truth afterwards. (Written by an adversarial review.)

let seed = 1;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};

const STOCK = 400;
const MAX_PER_USER = 3;

it.each([11, 22])(
  "seed %i: answers match the object's truth, and D1 converges to it",
  { timeout: 40_000 },
  async (s0) => {
    seed = s0;
    const ticket = await createTicket({ stock: STOCK, max_per_user: MAX_PER_USER, price: 10 });
    const restore = interceptD1(async (_call, forward) => {
      const r = rand();
      if (r < 0.15) await scheduler.wait(Math.floor(rand() * 400));
      if (r > 0.85) throw new Error("D1_ERROR: injected: Network connection lost.");
      if (r > 0.75) {
        await forward();
        throw new Error("D1_ERROR: injected: answer lost");
      }
      return forward();
    });
    type Answer = { user: number; quantity: number; status: number; code?: string; id?: number; keyed: boolean };
    const answers: Answer[] = [];
    const others: Promise<unknown>[] = [];
    const orders: Promise<void>[] = [];
    for (let i = 0; i < 260; i++) {
      const user = 10_000 + i;
      const quantity = 1 + Math.floor(rand() * 4); // 4 is over max_per_user: some user_limit refusals
      const keyed = rand() < 0.5;
      orders.push(
        (async () => {
          await scheduler.wait(Math.floor(rand() * 3_000));
          for (let attempt = 0; ; attempt++) {
            const res = await postJson(
              "/tickets/buy",
              { user_id: user, ticket_id: ticket.id, quantity },
              keyed ? { ...asAdmin, "Idempotency-Key": `fuzz-${user}` } : asAdmin,
            );
            const body = (await res.json()) as { code?: string; id?: number };
            if (keyed && res.status === 503 && attempt < 6) {
              await scheduler.wait(300);
              continue;
            }
            answers.push({ user, quantity, status: res.status, code: body.code, id: body.id, keyed });
            return;
          }
        })(),
      );
    }
    for (let i = 0; i < 24; i++) {
      others.push(
        (async () => {
          await scheduler.wait(Math.floor(rand() * 3_000));
          const r = rand();
          if (r < 0.35)
            return api(`/tickets/${ticket.id}`, {
              method: "PATCH",
              headers: { ...asAdmin, "Content-Type": "application/merge-patch+json" },
              body: JSON.stringify({ price: 10 + Math.floor(rand() * 5), stock: STOCK + Math.floor(rand() * 3) }),
            });
          if (r < 0.55) return api(`/tickets/${ticket.id}/resync`, { method: "POST", headers: asAdmin });
          if (r < 0.8) return runDurableObjectAlarm(sellerOf(ticket.id));
          return evictDurableObject(sellerOf(ticket.id));
        })(),
      );
    }
    const side = await Promise.all([...others.map((p) => p.catch((e) => String(e)))]);
    await Promise.all(orders);
    const sideStatuses = side.map((r) => (r instanceof Response ? r.status : String(r)));
    expect(sideStatuses).not.toContain(500);
    restore();
    for (let i = 0; i < 20 && (await runDurableObjectAlarm(sellerOf(ticket.id))); i++);
    await runInDurableObject(sellerOf(ticket.id), (s) => s.alarm());

    const truth = await runInDurableObject(sellerOf(ticket.id), (_, state) => {
      const db = store.openStore(state.storage);
      return {
        ticket: store.readTicket(db)!,
        purchases: store.purchasesAfter(db, 0, 100_000),
        pending: store.pendingChanges(db, 100_000).length,
      };
    });
    const statuses: Record<string, number> = {};
    for (const a of answers)
      statuses[`${a.status} ${a.code ?? ""}`] = (statuses[`${a.status} ${a.code ?? ""}`] ?? 0) + 1;
    expect(Object.keys(statuses).length).toBeGreaterThan(1); // the faults did bite: not every order went the same way

    // 1, 6: never oversold; sold is the sum of the purchases; max_per_user held.
    expect(truth.ticket.sold).toBeLessThanOrEqual(truth.ticket.stock);
    expect(truth.purchases.reduce((s, p) => s + p.quantity, 0)).toBe(truth.ticket.sold);
    const byUser = new Map<number, typeof truth.purchases>();
    for (const p of truth.purchases) byUser.set(p.user_id, [...(byUser.get(p.user_id) ?? []), p]);
    for (const [, ps] of byUser) expect(ps.reduce((s, p) => s + p.quantity, 0)).toBeLessThanOrEqual(MAX_PER_USER);
    // 2, 3, 4: each answer tells the truth about its order.
    for (const a of answers) {
      const held = byUser.get(a.user) ?? [];
      if (a.status === 200) expect(held.map((p) => p.id)).toEqual([a.id]);
      else if (a.code === "outcome_unknown") expect(held.length).toBeLessThanOrEqual(1);
      else expect(held, `${a.status} ${a.code} for user ${a.user}`).toEqual([]);
      if (a.keyed) expect(held.length).toBeLessThanOrEqual(1);
      expect(a.status).not.toBe(500);
    }
    // 5: D1 converged without a resync.
    expect(truth.pending).toBe(0);
    const d1 = await env.DB.prepare("SELECT sold, stock, price_minor, version FROM tickets WHERE id = ?")
      .bind(ticket.id)
      .first();
    expect(d1).toEqual({
      sold: truth.ticket.sold,
      stock: truth.ticket.stock,
      price_minor: truth.ticket.price_minor,
      version: truth.ticket.version,
    });
    const { results } = await env.DB.prepare(
      "SELECT id, user_id, quantity, version FROM purchases WHERE ticket_id = ? ORDER BY id",
    )
      .bind(ticket.id)
      .all();
    expect(results).toEqual(
      truth.purchases.map(({ id, user_id, quantity, version }) => ({ id, user_id, quantity, version })),
    );
  },
);
