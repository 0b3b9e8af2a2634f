import { sql } from "drizzle-orm";
import { check, index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

// What an object that takes payments keeps of them in its own SQLite (a
// ticket's object for its purchases, an order's object for its order).

export const REFUND_REASONS = ["late_payment", "second_payment", "cancelled", "entry_cancelled"] as const;
export type RefundReason = (typeof REFUND_REASONS)[number];

/**
 * Money to give back through Stripe, decided in the transaction of the change
 * that gives it back (a payment too late, a cancel by the box office), before
 * Stripe is asked, and asked until Stripe has made it. `attempt` names the
 * Stripe idempotency key: it changes only after Stripe answered with an error
 * (nothing was made), so a retry after a lost answer asks for the same refund.
 */
export const refunds = sqliteTable(
  "refunds",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    purchase_id: integer().notNull(), // what it gives money back for; in an order's object 0: the order
    reason: text({ enum: REFUND_REASONS }).notNull(),
    // The payment: its intent, or (until it is known) the Checkout Session that took it.
    payment_intent: text(),
    session_id: text(),
    amount_minor: integer().notNull(),
    currency: text().notNull(),
    status: text({ enum: ["pending", "succeeded"] })
      .notNull()
      .default("pending"),
    attempt: integer().notNull().default(0),
    failures: integer().notNull().default(0), // in a row: the backoff of the next try
    retry_at: text(), // not before then (after a failure)
    stripe_refund_id: text(),
    last_error: text(),
    created_at: text().notNull(),
    refunded_at: text(),
  },
  (t) => [
    index("refunds_pending_idx").on(t.status, t.id),
    index("refunds_purchase_idx").on(t.purchase_id),
    check("refunds_amount_positive", sql`${t.amount_minor} > 0`),
  ],
);

/** Payment events already handled (Stripe's event ids): each is acted on once. */
export const paymentEvents = sqliteTable("payment_events", { id: text().primaryKey(), handled_at: text().notNull() });

export type RefundRow = typeof refunds.$inferSelect;
