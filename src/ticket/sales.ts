import { eq, getTableColumns } from "drizzle-orm";
import type { IdempotencyKey } from "../db/queries";
import type { EventDraft } from "../events/types";
import { cancelEntriesOf, createEntries } from "./entries";
import { entryEvent, purchaseEvent, soldOut, ticketEvent } from "./events";
import { refundUnits } from "./refunds";
import { available, type TicketPatch } from "./rules";
import { type PurchaseRow, purchases, seatRequests, type TicketRow, ticket } from "./schema";
import {
  addUnits,
  change,
  dueHolds,
  type Entity,
  insertPurchase,
  markEventHandled,
  type Store,
  takeId,
  updatePurchase,
} from "./store";

// The writes that change a ticket: each one transaction in the object's
// SQLite, outbox entries included. The caller has already decided, against
// the same synchronous state, that the change is allowed.

export interface Sale {
  user_id: number;
  quantity: number;
  idempotency?: IdempotencyKey;
  /** Hold the units for the ticket's hold_seconds instead of confirming at once. */
  hold?: boolean;
  /** A line of this order: held past the ticket's hold_seconds by `grace` seconds (its escrow). */
  line?: { order_id: string; grace: number };
  /** A seated purchase its block has taken: its id, price and end as decided before the block was asked. */
  seated?: { id: number; seats: string[]; block: string; unit_price_minor: number; expires_at: string | null };
}

/** A sale's purchase, and how many ids are left in the block its id came from. */
export interface Sold {
  purchase: PurchaseRow;
  idsLeft: number;
}

const NO_IDS = new Error("no purchase id reserved");

export const secondsAfter = (at: string, seconds: number) => new Date(Date.parse(at) + seconds * 1000).toISOString();

/** Sells (or holds) `sale` at the ticket's current price; undefined when no purchase id is reserved. */
export function recordSale(db: Store, t: TicketRow, sale: Sale, now: string): Sold | undefined {
  try {
    return change(db, (version) => {
      const { seated } = sale;
      const taken = seated ? { id: seated.id, left: Number.POSITIVE_INFINITY } : takeId(db);
      if (!taken) throw NO_IDS; // rolls the transaction back: nothing was written
      const price = seated?.unit_price_minor ?? t.price_minor;
      const ends = seated ? seated.expires_at : secondsAfter(now, t.hold_seconds + (sale.line?.grace ?? 0));
      const purchase = insertPurchase(db, {
        id: taken.id,
        user_id: sale.user_id,
        quantity: sale.quantity,
        unit_price_minor: price,
        total_price_minor: price * sale.quantity,
        currency: t.currency,
        status: sale.hold ? "held" : "confirmed",
        expires_at: sale.hold ? ends : null,
        held_until: sale.hold ? ends : null,
        order_id: sale.line?.order_id ?? null,
        confirmed_at: sale.hold ? null : now,
        created_at: now,
        version,
        idem_principal: sale.idempotency?.principal ?? null,
        idem_key: sale.idempotency?.key ?? null,
        idem_hash: sale.idempotency?.hash ?? null,
        // Its block holds (or sold) the seats as this version says: nothing to tell it.
        ...(seated ? { seats: JSON.stringify(seated.seats), block: seated.block, block_version: version } : {}),
      });
      // Its request was pending while the block was asked: the purchase takes its place.
      if (seated) db.delete(seatRequests).where(eq(seatRequests.purchase_id, seated.id)).run();
      const units = sale.hold ? { held: sale.quantity } : { sold: sale.quantity };
      addUnits(db, units, now, version);
      return {
        result: { purchase, idsLeft: taken.left },
        changed: [
          ["ticket", t.id],
          ["purchase", taken.id],
          ...(sale.hold ? [] : createEntries(db, purchase, now, version)),
        ],
        events: [purchaseEvent(sale.hold ? "purchase.held" : "purchase.confirmed", t, purchase), ...soldOut(t, units)],
      };
    });
  } catch (err) {
    if (err === NO_IDS) return undefined;
    throw err;
  }
}

/** Ends every hold whose time is up at `now`: their units go back. Idempotent. */
export function expireHolds(db: Store, t: TicketRow, now: string): PurchaseRow[] {
  return expirePurchases(db, t, dueHolds(db, now), now);
}

/** Ends holds, in one transaction: their units go back. */
export function expirePurchases(db: Store, t: TicketRow, due: PurchaseRow[], now: string): PurchaseRow[] {
  if (due.length === 0) return [];
  return change(db, (version) => {
    const expired = due.map((p) => updatePurchase(db, p.id, { status: "expired", version }));
    addUnits(db, { held: -due.reduce((n, p) => n + p.quantity, 0) }, now, version);
    return {
      result: expired,
      changed: [["ticket", t.id], ...expired.map((p): [Entity, number] => ["purchase", p.id])],
      events: expired.map((p) => purchaseEvent("purchase.expired", t, p)),
    };
  });
}

/**
 * Confirms a held purchase, or one whose hold ended (taking its units again).
 * `paid`: the Stripe payment that pays for it, and `eventId`: the payment
 * event this acts on, recorded as handled in the same transaction.
 */
export function confirmPurchase(
  db: Store,
  t: TicketRow,
  p: PurchaseRow,
  now: string,
  paid?: { intent: string | null; session: string },
  eventId?: string,
) {
  const units = p.status === "held" ? { held: -p.quantity, sold: p.quantity } : { sold: p.quantity };
  const fields = { status: "confirmed" as const, confirmed_at: now, cancelled_at: null, expires_at: null };
  return transition(
    db,
    t,
    p,
    now,
    units,
    paid ? { ...fields, payment_intent: paid.intent, paid_session_id: paid.session } : fields,
    eventId,
    (row, version) => ({
      entries: createEntries(db, row, now, version),
      events: [purchaseEvent("purchase.confirmed", t, row), ...soldOut(t, units)],
    }),
  );
}

/**
 * Cancels a held or confirmed purchase: its units (those not given back one
 * by one already) go back to the ticket, its entries are cancelled, and what
 * was paid through Stripe for those units is to be refunded, all in the same
 * transaction.
 */
export function cancelPurchase(
  db: Store,
  t: TicketRow,
  p: PurchaseRow,
  now: string,
  eventId?: string,
  ends: "cancelled" | "expired" = "cancelled",
) {
  const units = p.status === "held" ? { held: -p.quantity } : { sold: -(p.quantity - p.returned) };
  const fields = ends === "cancelled" ? { status: ends, cancelled_at: now } : { status: ends, confirmed_at: null };
  return transition(db, t, p, now, units, fields, eventId, (row, version) => {
    const cancelled = cancelEntriesOf(db, row, now, version);
    if (p.status === "confirmed") refundUnits(db, p, p.quantity - p.returned, "cancelled", now);
    return {
      entries: cancelled.map((e): [Entity, number] => ["entry", e.id]),
      events: [
        purchaseEvent(`purchase.${ends}`, t, row),
        ...cancelled.map((e) => entryEvent("entry.cancelled", t, e, p.user_id)),
      ],
    };
  });
}

/** Changes a purchase and moves its units, as one change of the ticket. */
function transition(
  db: Store,
  t: TicketRow,
  p: PurchaseRow,
  now: string,
  units: { sold?: number; held?: number },
  fields: Partial<PurchaseRow>,
  eventId: string | undefined,
  follow: (row: PurchaseRow, version: number) => { entries: [Entity, number][]; events: EventDraft[] },
): PurchaseRow {
  return change(db, (version) => {
    const row = updatePurchase(db, p.id, { ...fields, version });
    addUnits(db, units, now, version);
    if (eventId) markEventHandled(db, eventId, now);
    const { entries, events } = follow(row, version);
    return { result: row, changed: [["ticket", t.id], ["purchase", p.id], ...entries], events };
  });
}

/**
 * Changes a purchase without moving units (payment details); a change of its
 * `expires_at` is told as `purchase.updated`.
 */
export function amendPurchase(db: Store, t: TicketRow, p: PurchaseRow, fields: Partial<PurchaseRow>): PurchaseRow {
  return change(db, (version) => {
    const row = updatePurchase(db, p.id, { ...fields, version });
    const told = row.expires_at !== p.expires_at ? [purchaseEvent("purchase.updated", t, row)] : [];
    return { result: row, changed: [["purchase", p.id]], events: told };
  });
}

/** Applies an admin's change to the ticket's fields. */
export function applyPatch(db: Store, t: TicketRow, patch: TicketPatch, now: string): TicketRow {
  return change(db, (version) => {
    const row = db
      .update(ticket)
      .set({ ...patch, updated_at: now, version, clock: version })
      .returning()
      .get()!;
    // A smaller stock can take the last free units too.
    const soldOutNow = available(t) > 0 && available(row) <= 0 ? [ticketEvent("ticket.sold_out", row)] : [];
    return { result: row, changed: [["ticket", t.id]], events: [ticketEvent("ticket.updated", row), ...soldOutNow] };
  });
}

const pick = <T extends object>(row: Record<string, unknown>, columns: T) =>
  Object.fromEntries(Object.keys(columns).map((k) => [k, row[k]])) as { [K in keyof T]: unknown };

/**
 * Takes ownership of a ticket as D1 holds it: the row, and the purchases made
 * before objects owned their tickets (with their idempotency keys). From here
 * on the object's copy wins.
 */
export function adoptTicket(
  db: Store,
  row: Record<string, unknown> & { version: number },
  earlier: (Record<string, unknown> & { version: number })[],
): void {
  const { clock: _, ...ticketColumns } = getTableColumns(ticket);
  const purchaseColumns = getTableColumns(purchases);
  // New versions must pass every version D1 already holds, or the projection would skip them.
  // (And past D1's projected_clock: what it has seen of an earlier life of this object, if any.)
  const clock = earlier.reduce(
    (max, p) => Math.max(max, p.version),
    Math.max(row.version, Number(row.projected_clock ?? 0)),
  );
  const adopted = pick(row, ticketColumns) as TicketRow;
  // D1 has no CHECK on the sales window; the object does. A window that ends before it opens never sells.
  if (adopted.sales_start && adopted.sales_end && adopted.sales_end <= adopted.sales_start) adopted.sales_end = null;
  db.transaction(() => {
    db.insert(ticket)
      .values({ ...adopted, clock })
      .run();
    // The object's SQLite binds at most 100 parameters per statement.
    const perStatement = Math.floor(100 / Object.keys(purchaseColumns).length);
    for (let i = 0; i < earlier.length; i += perStatement) {
      const rows = earlier.slice(i, i + perStatement).map((p) => pick(p, purchaseColumns) as PurchaseRow);
      db.insert(purchases).values(rows).run();
      for (const p of rows)
        if (p.status === "confirmed") createEntries(db, p, p.confirmed_at ?? p.created_at, p.version);
    }
  });
}
