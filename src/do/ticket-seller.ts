import { DurableObject } from "cloudflare:workers";
import {
  commitPurchases,
  type Db,
  database,
  findPurchasesByKeys,
  getTicketWithBuyers,
  type IdempotencyKey,
  listPurchasesAt,
} from "../db/queries";
import type { PurchaseRow, TicketRow } from "../db/schema";

export interface OrderRequest {
  user_id: number;
  quantity: number;
  idempotency?: IdempotencyKey;
}

export type Rejection =
  | { ok: false; code: "not_found" }
  | { ok: false; code: "sales_closed" }
  | { ok: false; code: "sold_out"; available: number }
  | { ok: false; code: "user_limit"; max_per_user: number; bought: number }
  | { ok: false; code: "over_max_per_order"; max_per_order: number }
  | { ok: false; code: "key_reused" }
  | { ok: false; code: "unavailable" };
export type BuyOutcome = { ok: true; purchase: PurchaseRow } | Rejection;

interface Order extends OrderRequest {
  resolve: (outcome: BuyOutcome) => void;
}

// At most this many purchases share one D1 batch (one transaction).
export const MAX_GROUP = 100;

const UNAVAILABLE: Rejection = { ok: false, code: "unavailable" };

const keyOf = (k: { principal: string; key: string }) => `${k.principal}\u0000${k.key}`;

/** Why an order cannot be sold, given the units still free and the user's units so far, or null. */
function refusal(ticket: TicketRow, remaining: number, bought: number, quantity: number): Rejection | null {
  if (quantity > ticket.max_per_order) {
    return { ok: false, code: "over_max_per_order", max_per_order: ticket.max_per_order };
  }
  if (!ticket.active) return { ok: false, code: "sales_closed" };
  if (quantity > remaining) return { ok: false, code: "sold_out", available: remaining };
  if (ticket.max_per_user !== null && bought + quantity > ticket.max_per_user) {
    return { ok: false, code: "user_limit", max_per_user: ticket.max_per_user, bought };
  }
  return null;
}

/** The answer for an order whose key already bought `stored`. */
const replay = (order: OrderRequest, stored: PurchaseRow): BuyOutcome =>
  stored.idem_hash === order.idempotency?.hash ? { ok: true, purchase: stored } : { ok: false, code: "key_reused" };

/**
 * One object per ticket, the only writer of that ticket's sales.
 *
 * Awaiting D1 lets other calls into the object, so orders go through an
 * explicit queue drained by one loop at a time. While one D1 batch is in
 * flight, new orders wait; the next group is decided in memory against the
 * remaining stock and per-user limits and written in a single batch (group
 * commit). D1 stays the source of truth: the cached state is loaded on first
 * use (so again after a restart) and re-read whenever a write fails.
 */
export class TicketSeller extends DurableObject<Env> {
  // Replaceable so tests can inject D1 faults into the real database.
  db: Db = database(this.env.DB);
  #ticketId = 0;
  #ticket: TicketRow | undefined;
  #bought = new Map<number, number>(); // units per user, kept only when the ticket has max_per_user
  #queue: Order[] = [];
  #inFlight = new Map<string, { hash: string; outcome: Promise<BuyOutcome> }>();
  #draining = false;
  #lastStamp = 0;

  async buy(ticketId: number, request: OrderRequest): Promise<BuyOutcome> {
    this.#ticketId = ticketId;
    const idem = request.idempotency;
    if (idem) {
      // A repeat of an order still in flight waits for the same answer.
      const running = this.#inFlight.get(keyOf(idem));
      if (running) return running.hash === idem.hash ? running.outcome : { ok: false, code: "key_reused" };
    } else {
      // Refusals against committed state are final (pending writes only take
      // more units), so answer them from memory without waiting in line.
      // Keyed orders wait: a retry of a past purchase must replay it.
      const ticket = this.#ticket;
      const early =
        ticket && refusal(ticket, ticket.stock - ticket.sold, this.#bought.get(request.user_id) ?? 0, request.quantity);
      if (early) return early;
    }
    const outcome = new Promise<BuyOutcome>((resolve) => {
      this.#queue.push({ ...request, resolve });
      if (!this.#draining) void this.#drain();
    });
    if (idem) {
      this.#inFlight.set(keyOf(idem), { hash: idem.hash, outcome });
      void outcome.then(() => this.#inFlight.delete(keyOf(idem)));
    }
    return outcome;
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#queue.length > 0) {
        const ticket = this.#ticket ?? (await this.#reload());
        if (!ticket) {
          // Not cached when absent: the ticket may be created later.
          this.#settleAll(this.#queue.splice(0), ticket === null ? UNAVAILABLE : { ok: false, code: "not_found" });
          continue;
        }
        const candidates = await this.#withoutReplays(this.#queue.splice(0, MAX_GROUP));
        const group: Order[] = [];
        let remaining = ticket.stock - ticket.sold;
        const pending = new Map<number, number>();
        for (const order of candidates) {
          const bought = (this.#bought.get(order.user_id) ?? 0) + (pending.get(order.user_id) ?? 0);
          const refused = refusal(ticket, remaining, bought, order.quantity);
          if (refused) {
            order.resolve(refused);
          } else {
            group.push(order);
            remaining -= order.quantity;
            pending.set(order.user_id, (pending.get(order.user_id) ?? 0) + order.quantity);
          }
        }
        if (group.length > 0) await this.#commit(ticket, group);
      }
    } finally {
      this.#draining = false;
    }
  }

  /** Answers orders whose idempotency key already bought; returns the others. */
  async #withoutReplays(orders: Order[]): Promise<Order[]> {
    const keyed = orders.filter((o) => o.idempotency);
    if (keyed.length === 0) return orders;
    let stored: PurchaseRow[];
    try {
      stored = await findPurchasesByKeys(
        this.db,
        keyed.map((o) => o.idempotency!),
      );
    } catch {
      this.#settleAll(keyed, UNAVAILABLE);
      return orders.filter((o) => !o.idempotency);
    }
    const byKey = new Map(stored.map((row) => [keyOf({ principal: row.idem_principal!, key: row.idem_key! }), row]));
    return orders.filter((order) => {
      const row = order.idempotency && byKey.get(keyOf(order.idempotency));
      if (row) order.resolve(replay(order, row));
      return !row;
    });
  }

  async #commit(ticket: TicketRow, group: Order[]): Promise<void> {
    const createdAt = this.#stamp();
    const rows = group.map((order) => ({
      user_id: order.user_id,
      ticket_id: ticket.id,
      game_id: ticket.game_id,
      quantity: order.quantity,
      unit_price_minor: ticket.price_minor,
      total_price_minor: ticket.price_minor * order.quantity,
      currency: ticket.currency,
      created_at: createdAt,
      idem: order.idempotency,
    }));
    const units = rows.reduce((sum, row) => sum + row.quantity, 0);
    try {
      const stored = await commitPurchases(this.db, ticket.id, rows);
      ticket.sold += units;
      if (ticket.max_per_user !== null) {
        for (const row of rows) this.#bought.set(row.user_id, (this.#bought.get(row.user_id) ?? 0) + row.quantity);
      }
      this.#answerStored(group, stored);
      return;
    } catch (err) {
      console.error(
        JSON.stringify({
          level: "error",
          message: "purchase batch failed",
          ticket_id: ticket.id,
          orders: group.length,
          error: String(err),
        }),
      );
    }
    // The batch failed, or its answer was lost. Settle against the truth.
    const fresh = await this.#reload();
    if (!fresh) return this.#settleAll(group, UNAVAILABLE);
    if (fresh.sold === ticket.sold + units) {
      // It committed after all: answer with what was stored.
      const stored = await listPurchasesAt(this.db, ticket.id, createdAt).catch(() => []);
      if (stored.length !== group.length) return this.#settleAll(group, UNAVAILABLE);
      return this.#answerStored(group, stored);
    }
    if (group.length === 1) {
      // Alone, it failed on the stock guard, on its key being used meanwhile, or on D1 itself.
      const [order] = (await this.#withoutReplays(group)) as [Order?];
      if (!order) return;
      const refused = refusal(fresh, fresh.stock - fresh.sold, this.#bought.get(order.user_id) ?? 0, order.quantity);
      return order.resolve(refused ?? UNAVAILABLE);
    }
    // One by one, so a single bad order cannot sink the others.
    for (const order of group) {
      const current = this.#ticket;
      if (!current) {
        order.resolve(UNAVAILABLE);
        continue;
      }
      const refused = refusal(
        current,
        current.stock - current.sold,
        this.#bought.get(order.user_id) ?? 0,
        order.quantity,
      );
      if (refused) order.resolve(refused);
      else await this.#commit(current, [order]);
    }
  }

  /** Re-reads the ticket (and its buyers' units) from D1: the row, undefined if absent, null if D1 failed. */
  async #reload(): Promise<TicketRow | undefined | null> {
    try {
      const { ticket, buyers } = await getTicketWithBuyers(this.db, this.#ticketId);
      this.#ticket = ticket;
      this.#bought = buyers;
      return ticket;
    } catch (err) {
      this.#ticket = undefined;
      console.error(
        JSON.stringify({
          level: "error",
          message: "ticket read failed",
          ticket_id: this.#ticketId,
          error: String(err),
        }),
      );
      return null;
    }
  }

  /** Answers each order with its stored row, in order. */
  #answerStored(orders: Order[], stored: PurchaseRow[]): void {
    orders.forEach((order, i) => {
      order.resolve({ ok: true, purchase: stored[i]! });
    });
  }

  #settleAll(orders: Order[], outcome: BuyOutcome): void {
    for (const order of orders) order.resolve(outcome);
  }

  /** A creation time unique to each group of this object, so a group can be found again. */
  #stamp(): string {
    this.#lastStamp = Math.max(Date.now(), this.#lastStamp + 1);
    return new Date(this.#lastStamp).toISOString();
  }
}
