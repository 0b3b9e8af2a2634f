import { DurableObject } from "cloudflare:workers";
import { commitPurchases, type Db, database, getTicket, listPurchasesAt } from "../db/queries";
import type { PurchaseRow, TicketRow } from "../db/schema";

export type Rejection =
  | { ok: false; code: "not_found" }
  | { ok: false; code: "sales_closed" }
  | { ok: false; code: "sold_out"; available: number }
  | { ok: false; code: "over_max_per_order"; max_per_order: number }
  | { ok: false; code: "unavailable" };
export type BuyOutcome = { ok: true; purchase: PurchaseRow } | Rejection;

interface Order {
  user_id: number;
  quantity: number;
  resolve: (outcome: BuyOutcome) => void;
}

// At most this many purchases share one D1 batch (one transaction).
export const MAX_GROUP = 100;

const UNAVAILABLE: Rejection = { ok: false, code: "unavailable" };

/** Why an order cannot be sold, given the ticket and its units still free, or null. */
function refusal(ticket: TicketRow, remaining: number, quantity: number): Rejection | null {
  if (quantity > ticket.max_per_order) {
    return { ok: false, code: "over_max_per_order", max_per_order: ticket.max_per_order };
  }
  if (!ticket.active) return { ok: false, code: "sales_closed" };
  if (quantity > remaining) return { ok: false, code: "sold_out", available: remaining };
  return null;
}

/**
 * One object per ticket, the only writer of that ticket's sales.
 *
 * Awaiting D1 lets other calls into the object, so orders go through an
 * explicit queue drained by one loop at a time. While one D1 batch is in
 * flight, new orders wait; the next group is decided in memory against the
 * remaining stock and written in a single batch (group commit). D1 stays the
 * source of truth: the cached row is loaded on first use (and so again after
 * a restart) and re-read whenever a write fails.
 */
export class TicketSeller extends DurableObject<Env> {
  // Replaceable so tests can inject D1 faults into the real database.
  db: Db = database(this.env.DB);
  #ticketId = 0;
  #ticket: TicketRow | undefined;
  #queue: Order[] = [];
  #draining = false;
  #lastStamp = 0;

  async buy(ticketId: number, userId: number, quantity: number): Promise<BuyOutcome> {
    this.#ticketId = ticketId;
    // Refusals against committed state are final (pending writes only take
    // more units), so answer them from memory without waiting in line.
    const ticket = this.#ticket;
    const early = ticket && refusal(ticket, ticket.stock - ticket.sold, quantity);
    if (early) return early;
    return new Promise<BuyOutcome>((resolve) => {
      this.#queue.push({ user_id: userId, quantity, resolve });
      if (!this.#draining) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#queue.length > 0) {
        const ticket = this.#ticket ?? (await this.#reload());
        if (ticket === null) {
          this.#settleAll(this.#queue.splice(0), UNAVAILABLE);
          continue;
        }
        if (ticket === undefined) {
          // Not cached: the ticket may be created later.
          this.#settleAll(this.#queue.splice(0), { ok: false, code: "not_found" });
          continue;
        }
        const group: Order[] = [];
        let remaining = ticket.stock - ticket.sold;
        while (this.#queue.length > 0 && group.length < MAX_GROUP) {
          const order = this.#queue.shift()!;
          const refused = refusal(ticket, remaining, order.quantity);
          if (refused) {
            order.resolve(refused);
          } else {
            group.push(order);
            remaining -= order.quantity;
          }
        }
        if (group.length > 0) await this.#commit(ticket, group);
      }
    } finally {
      this.#draining = false;
    }
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
    }));
    const units = rows.reduce((sum, row) => sum + row.quantity, 0);
    try {
      const stored = await commitPurchases(this.db, ticket.id, rows);
      ticket.sold += units;
      group.forEach((order, i) => order.resolve({ ok: true, purchase: stored[i]! }));
      return;
    } catch (err) {
      console.error(JSON.stringify({ level: "error", message: "purchase batch failed", ticket_id: ticket.id, orders: group.length, error: String(err) }));
    }
    // The batch failed, or its answer was lost. Settle against the truth.
    const fresh = await this.#reload();
    if (!fresh) return this.#settleAll(group, UNAVAILABLE);
    if (fresh.sold === ticket.sold + units) {
      // It committed after all: answer with what was stored.
      const stored = await listPurchasesAt(this.db, ticket.id, createdAt).catch(() => []);
      if (stored.length !== group.length) return this.#settleAll(group, UNAVAILABLE);
      return group.forEach((order, i) => order.resolve({ ok: true, purchase: stored[i]! }));
    }
    if (group.length === 1) {
      const order = group[0]!;
      return order.resolve(refusal(fresh, fresh.stock - fresh.sold, order.quantity) ?? UNAVAILABLE);
    }
    // One by one, so a single bad order cannot sink the others.
    for (const order of group) {
      const current = this.#ticket;
      if (!current) {
        order.resolve(UNAVAILABLE);
        continue;
      }
      const refused = refusal(current, current.stock - current.sold, order.quantity);
      if (refused) order.resolve(refused);
      else await this.#commit(current, [order]);
    }
  }

  /** Re-reads the ticket from D1: the row, undefined if absent, null if D1 failed. */
  async #reload(): Promise<TicketRow | undefined | null> {
    try {
      this.#ticket = await getTicket(this.db, this.#ticketId);
      return this.#ticket;
    } catch (err) {
      this.#ticket = undefined;
      console.error(JSON.stringify({ level: "error", message: "ticket read failed", ticket_id: this.#ticketId, error: String(err) }));
      return null;
    }
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
