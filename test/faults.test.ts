import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TicketSeller } from "../src/ticket/ticket-seller";
import { interceptD1 } from "./d1";
import { asAdmin, createTicket, expectProblem, postJson, sellerOf } from "./helpers";

const buyKeyed = (body: Record<string, unknown>, key: string) =>
  postJson("/tickets/buy", body, { ...asAdmin, "Idempotency-Key": key });

async function rowsOf(ticketId: number) {
  const { results } = await env.DB.prepare("SELECT id, user_id, quantity, idem_key FROM purchases WHERE ticket_id = ?")
    .bind(ticketId)
    .all<{ id: number; user_id: number; quantity: number; idem_key: string }>();
  const t = await env.DB.prepare("SELECT sold, stock FROM tickets WHERE id = ?")
    .bind(ticketId)
    .first<{ sold: number; stock: number }>();
  return { rows: results, ...t! };
}

/** Makes D1 writes (the object's projections) slow, so answers are caught in flight. */
const slowWrites = (ms: number) =>
  interceptD1(async (call, forward) => {
    if (call.writes) await scheduler.wait(ms);
    return forward();
  });

describe("faults", () => {
  /**
   * A rush of keyed buyers on a 30-unit ticket whose D1 writes are slow;
   * `interrupt` strikes while answers wait for the projection of purchases
   * already committed. Clients retry every 503 with the same key.
   */
  async function rushWith(interrupt: (ticketId: number, buyers: () => Promise<void>) => Promise<void>) {
    const ticket = await createTicket({ stock: 30 });
    await sellerOf(ticket.id).buy(ticket.id, { user_id: 1, quantity: 1 }); // load it
    const restore = slowWrites(100);
    const buyers = Array.from({ length: 120 }, (_, i) => ({
      key: `rush-${ticket.id}-${i}`,
      body: { user_id: 500 + i, ticket_id: ticket.id, quantity: (i % 2) + 1 },
    }));
    const answers = new Map<string, { status: number; body: { id?: number } }>();
    const attempt = async (b: (typeof buyers)[number]) => {
      const res = await buyKeyed(b.body, b.key);
      answers.set(b.key, { status: res.status, body: (await res.json()) as { id?: number } });
    };
    const waves = [buyers.slice(0, 60), buyers.slice(60)];
    const first = Promise.all(waves[0]!.map(attempt));
    await scheduler.wait(150); // purchases are committed, their answers wait for a slow projection
    await interrupt(ticket.id, () => Promise.all(waves[1]!.map(attempt)).then(() => {}));
    await first;
    restore();
    const interrupted = [...answers.values()].filter((a) => a.status === 503).length;
    for (let round = 0; round < 5; round++) {
      const retry = buyers.filter((b) => answers.get(b.key)!.status === 503);
      if (retry.length === 0) break;
      await Promise.all(retry.map(attempt));
    }

    for (let i = 0; i < 10 && (await runDurableObjectAlarm(sellerOf(ticket.id))); i++); // the read model catches up
    const final = [...answers.values()];
    expect(final.every((a) => a.status === 200 || a.status === 409)).toBe(true);
    const { rows, sold, stock } = await rowsOf(ticket.id);
    const wins = final.filter((a) => a.status === 200);
    expect(sold).toBe(stock); // sold out exactly, never over
    expect(rows.reduce((s, r) => s + r.quantity, 0)).toBe(sold); // no count without its rows
    expect(new Set(rows.map((r) => r.idem_key)).size).toBe(rows.length); // no key bought twice
    const rushRows = rows.filter((r) => r.idem_key !== null);
    expect(rushRows.map((r) => r.id).sort()).toEqual(wins.map((w) => w.body.id).sort()); // each row answered 200
    return { interrupted };
  }

  it("loses and duplicates nothing when the ticket's object is evicted mid-rush", async () => {
    // A new instance takes the next wave from the same storage, while the old one's answers are in flight.
    await rushWith(async (ticketId, nextWave) => {
      await evictDurableObject(sellerOf(ticketId));
      await nextWave();
    });
  });

  it("loses and duplicates nothing when the ticket's object is reset mid-rush", async () => {
    const { interrupted } = await rushWith(async (ticketId, nextWave) => {
      await runInDurableObject(sellerOf(ticketId), (_instance, state) => state.abort("reset mid-rush")).catch(() => {});
      await nextWave();
    });
    expect(interrupted).toBeGreaterThan(0); // the reset did cut orders off, and their retries settled them
  });

  it("gives a client that timed out and retried with its key exactly one purchase", async () => {
    const ticket = await createTicket({ stock: 5 });
    await sellerOf(ticket.id).buy(ticket.id, { user_id: 1, quantity: 1 });
    // D1 is slow: the first attempt is still in flight when the client gives up.
    const restore = slowWrites(200);
    const body = { user_id: 9, ticket_id: ticket.id, quantity: 2 };
    const abandoned = buyKeyed(body, "timeout-retry");
    const timedOut = await Promise.race([abandoned.then(() => false), scheduler.wait(50).then(() => true)]);
    expect(timedOut).toBe(true);
    const retry = await buyKeyed(body, "timeout-retry");
    expect(retry.status).toBe(200);
    const first = await abandoned;
    restore();
    expect(((await retry.json()) as { id: number }).id).toBe(((await first.json()) as { id: number }).id);
    const { rows } = await rowsOf(ticket.id);
    expect(rows.filter((r) => r.user_id === 9)).toHaveLength(1);
  });

  /** Makes every call to the ticket's object fail with `error`, for one request. */
  async function failingObject(error: Error, run: () => Promise<Response>) {
    let calls = 0;
    // RPC dispatches through the class, so the fault goes on its prototype for this one call.
    const original = TicketSeller.prototype.buy;
    TicketSeller.prototype.buy = async () => {
      calls++;
      throw error;
    };
    try {
      return { res: await run(), calls };
    } finally {
      TicketSeller.prototype.buy = original;
    }
  }

  it("turns an overloaded Durable Object into 503 overloaded (nothing done), without retrying", async () => {
    const ticket = await createTicket({ stock: 5 });
    const overloaded = Object.assign(new Error("Durable Object is overloaded. Too many requests queued."), {
      overloaded: true,
    });
    const { res, calls } = await failingObject(overloaded, () =>
      postJson("/tickets/buy", { user_id: 1, ticket_id: ticket.id }),
    );
    const problem = await expectProblem(res, 503, "overloaded");
    expect(problem.detail).toMatch(/nothing was done/);
    expect(res.headers.get("Retry-After")).toBe("1");
    expect(calls).toBe(1);
    expect((await rowsOf(ticket.id)).sold).toBe(0);
  });

  it("says the outcome is unknown when the call to the object broke, and a keyed retry settles it", async () => {
    const ticket = await createTicket({ stock: 5 });
    const body = { user_id: 3, ticket_id: ticket.id };
    const reset = new Error("Durable Object reset because its code was updated.");
    const { res } = await failingObject(reset, () => buyKeyed(body, "unknown-outcome"));
    const problem = await expectProblem(res, 503, "outcome_unknown");
    expect(problem.detail).toMatch(/may or may not.*same Idempotency-Key/);
    const retry = await buyKeyed(body, "unknown-outcome");
    expect(retry.status).toBe(200);
    expect((await rowsOf(ticket.id)).rows.filter((r) => r.user_id === 3)).toHaveLength(1);
  });
});
