import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

// The order's object's own SQLite: one order (a basket over several tickets)
// and its lines. Each line is a purchase in its ticket's object (its truth:
// units, entries); the order owns the decision that every line follows.
// Money is integer hundredths; timestamps ISO 8601 UTC.

/** What an order shows: held → confirmed → cancelled / refunded; held → expired / cancelled. */
export const ORDER_STATUSES = ["held", "confirmed", "cancelled", "expired", "refunded"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * The decision the order is in: its status, or `placing` (its lines are being
 * held), `refused` (a line could not be held: every other is released) and
 * `confirming` (its lines are being confirmed, or taken again after their
 * holds ended; if one cannot be, the others are released).
 */
export const ORDER_STATES = ["placing", "refused", "confirming", ...ORDER_STATUSES] as const;
export type OrderState = (typeof ORDER_STATES)[number];

export const order = sqliteTable("order", {
  id: text().primaryKey(), // ord_...
  user_id: integer().notNull(),
  state: text({ enum: ORDER_STATES }).notNull(),
  currency: text(), // the lines' (one currency), once held
  total_minor: integer().notNull().default(0),
  refunded_minor: integer().notNull().default(0), // given back of its payment as a whole (its lines count their own)
  created_at: text().notNull(),
  expires_at: text(), // while held: the decision's deadline (the shortest hold of its tickets)
  confirmed_at: text(),
  cancelled_at: text(),
  // The request that placed it: the same key and body again answer it.
  idem_principal: text(),
  idem_hash: text().notNull(),
  // Each placing is an attempt: its lines are held under the key `{id}/{attempt}` (a refused order placed
  // again, with the same Idempotency-Key, is a new attempt).
  attempt: integer().notNull().default(1),
  // Payment with one Stripe Checkout Session for the whole order (as a purchase's, see src/ticket/schema.ts).
  checkout_session_id: text(),
  checkout_url: text(),
  checkout_expires_at: text(),
  checkout_params: text(),
  held_until: text(), // the deadline before a checkout lengthened it
  payment_intent: text(),
  paid_session_id: text(),
  // Changes count up; `projected` is the latest one D1 holds.
  version: integer().notNull().default(0),
  projected: integer().notNull().default(0),
});

/**
 * Where each line stands: `asked` while its hold is asked for, then what its
 * ticket answered (`held`, or `refused` with the refusal); `unknown` when its
 * ticket did not answer. `settled` is the order state the line has acted on:
 * the decision is delivered until every line has.
 */
export const lines = sqliteTable("lines", {
  position: integer().primaryKey(), // as asked
  ticket_id: integer().notNull(), // a ticket is one line, but a seated ticket's seats in several blocks several
  quantity: integer().notNull(),
  answer: text({ enum: ["asked", "held", "refused", "unknown"] }).notNull(),
  refusal: text(), // JSON: why its ticket refused it
  game_id: integer(),
  name: text(),
  type: text(),
  unit_price_minor: integer(),
  currency: text(),
  purchase_id: integer(),
  hold_ends: text(), // when its ticket ends the hold by itself (the escrow's end)
  settled: text({ enum: ORDER_STATES }),
  kept: integer({ mode: "boolean" }).notNull().default(false), // a cancel found someone checked in: it stays
  refunded_minor: integer().notNull().default(0), // given back of this line's units (its ticket's refunds)
  ask: text(), // JSON: a seated line's seats asked for ({seats}) or best available ({best})
  seats: text(), // JSON: the seats its ticket holds for it
});

export { type EventRow, events } from "../events/schema";
export { paymentEvents, type RefundRow, refunds } from "../payments/schema";

export type OrderRow = typeof order.$inferSelect;
export type LineRow = typeof lines.$inferSelect;
