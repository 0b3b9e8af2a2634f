import { sql } from "drizzle-orm";
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// The ticket object's own SQLite: the truth about one ticket. D1's tables
// (src/db/schema.ts) are projections of these and reuse their fields.
// Money is integer hundredths of the currency unit; timestamps are ISO 8601 UTC.

/** A ticket's fields, as the object keeps them and D1 shows them. */
export const ticketFields = () => ({
  game_id: integer().notNull(),
  name: text().notNull(),
  description: text().notNull().default(""),
  type: text().notNull().default("general"),
  price_minor: integer().notNull(),
  currency: text().notNull().default("EUR"),
  stock: integer().notNull(),
  sold: integer().notNull().default(0), // units confirmed
  held: integer().notNull().default(0), // units in live holds
  hold_seconds: integer().notNull().default(900), // how long a hold lasts
  max_per_order: integer().notNull().default(10),
  max_per_user: integer(), // units one user may buy across all orders; null: no limit
  active: integer({ mode: "boolean" }).notNull().default(true),
  sales_start: text(), // null: on sale from creation
  sales_end: text(), // null: until sold out or closed
  // JSON {"categories": [...]}: sells seats of these categories of its game's seat map (src/seating); null: unseated.
  seating: text(),
  created_at: text().notNull(),
  updated_at: text().notNull(),
  // The object's change counter when this row last changed: the projection
  // to D1 only ever replaces a row with a newer version of it.
  version: integer().notNull().default(0),
});

/**
 * held → confirmed → (cancelled), or held → expired / cancelled. `refunded`:
 * paid after its hold ended, when the units were gone.
 */
export const PURCHASE_STATUSES = ["held", "confirmed", "cancelled", "expired", "refunded"] as const;
export type PurchaseStatus = (typeof PURCHASE_STATUSES)[number];

/** A purchase's fields, as the object keeps them and D1 shows them. */
export const purchaseFields = () => ({
  user_id: integer().notNull(),
  quantity: integer().notNull(),
  unit_price_minor: integer().notNull(),
  total_price_minor: integer().notNull(),
  currency: text().notNull(),
  status: text({ enum: PURCHASE_STATUSES }).notNull().default("confirmed"),
  expires_at: text(), // a hold's end; null otherwise
  confirmed_at: text(),
  cancelled_at: text(),
  created_at: text().notNull(),
  version: integer().notNull().default(0),
  // Money given back through Stripe for this purchase (its own payment, not a duplicate one).
  refunded_minor: integer().notNull().default(0),
  // A line of an order (a basket): held, confirmed, cancelled or expired only as its order decides, but
  // at its escrow's end (expires_at), when it is released by itself if no decision came.
  order_id: text(),
  // A seated purchase: JSON array of its seats' ids (block-row-seat), one per unit, all of one block.
  seats: text(),
});

// The rules that hold for a ticket wherever it is stored.
type TicketColumns = ReturnType<typeof ticketFields>;
export const ticketChecks = (name: string, t: { [K in keyof TicketColumns]: unknown }) => [
  // The last line of defence against overselling: a write that would oversell fails.
  check(`${name}_sold_within_stock`, sql`${t.sold} >= 0 AND ${t.sold} <= ${t.stock}`),
  check(`${name}_held_within_stock`, sql`${t.held} >= 0 AND ${t.sold} + ${t.held} <= ${t.stock}`),
  check(`${name}_hold_seconds_range`, sql`${t.hold_seconds} BETWEEN 60 AND 3600`),
  check(`${name}_price_not_negative`, sql`${t.price_minor} >= 0`),
  check(`${name}_max_per_order_range`, sql`${t.max_per_order} BETWEEN 1 AND 100`),
  check(`${name}_max_per_user_positive`, sql`${t.max_per_user} IS NULL OR ${t.max_per_user} >= 1`),
];

/** The one ticket this object owns: a single row. */
export const ticket = sqliteTable(
  "ticket",
  {
    id: integer().primaryKey(),
    ...ticketFields(),
    // The object's change counter: each transaction takes the next number as
    // the version of every row it changes. Never projected.
    clock: integer().notNull().default(0),
  },
  (t) => [
    ...ticketChecks("ticket", t),
    check(
      "ticket_sales_window",
      sql`${t.sales_start} IS NULL OR ${t.sales_end} IS NULL OR ${t.sales_end} > ${t.sales_start}`,
    ),
  ],
);

export const purchases = sqliteTable(
  "purchases",
  {
    id: integer().primaryKey(), // from an id block allocated in D1: unique across all tickets
    ...purchaseFields(),
    // An Idempotency-Key is stored on the purchase it made, in the same
    // transaction; keys are scoped to the caller (and, being here, the ticket).
    idem_principal: text(),
    idem_key: text(),
    idem_hash: text(), // SHA-256 of the request body the key was first used with
    // Payment with Stripe Checkout, for a hold.
    checkout_session_id: text(),
    checkout_url: text(),
    // Chosen before the session is asked for, so a retry asks for the very same one (same key, same parameters).
    checkout_expires_at: text(),
    checkout_params: text(), // JSON: the return URLs of the session asked for
    payment_intent: text(),
    // The Checkout Session that paid it: its payment's identity until (and after) Stripe names the intent.
    paid_session_id: text(),
    refund_id: text(), // the latest refund Stripe made for it
    held_until: text(), // a hold's own end, before a checkout lengthened it to its session's
    returned: integer().notNull().default(0), // units given back by cancelling single entries
    // A seated purchase's block, and the purchase's version the block has acted on: a newer one is told to it.
    block: text(),
    block_version: integer().notNull().default(0),
  },
  (t) => [
    check("purchases_quantity_positive", sql`${t.quantity} >= 1`),
    index("purchases_user_idx").on(t.user_id), // a user's units, for max_per_user
    // Partial where most rows have nothing to index: a sale writes fewer pages (each one goes to the WAL).
    index("purchases_holds_idx").on(t.expires_at).where(sql`${t.status} = 'held'`), // the next hold to expire
    uniqueIndex("purchases_idempotency_idx").on(t.idem_principal, t.idem_key).where(sql`${t.idem_key} IS NOT NULL`),
    index("purchases_order_idx").on(t.order_id).where(sql`${t.order_id} IS NOT NULL`),
    index("purchases_block_due_idx").on(t.id).where(sql`${t.block} IS NOT NULL AND ${t.block_version} < ${t.version}`),
  ],
);

/**
 * Seated purchases being asked of their block: decided here first (the
 * rules, the user's units counted), then asked; removed when the block
 * answers (the purchase is then recorded) or refuses. One whose answer was
 * lost is asked again by a retry with its key, or released by the alarm.
 */
export const seatRequests = sqliteTable(
  "seat_requests",
  {
    purchase_id: integer().primaryKey(),
    user_id: integer().notNull(),
    quantity: integer().notNull(),
    hold: integer({ mode: "boolean" }).notNull(),
    unit_price_minor: integer().notNull(),
    expires_at: text(), // the hold's end, if a hold
    block: text().notNull(), // the block being asked
    request: text().notNull(), // JSON: the seats or the best-available ask
    order_id: text(),
    idem_principal: text(),
    idem_key: text(),
    idem_hash: text(),
    created_at: text().notNull(),
  },
  (t) => [
    index("seat_requests_user_idx").on(t.user_id),
    uniqueIndex("seat_requests_idempotency_idx").on(t.idem_principal, t.idem_key).where(sql`${t.idem_key} IS NOT NULL`),
  ],
);

/**
 * Rows changed since D1 last saw them: one entry per row, `since` the first
 * unprojected change and `version` the latest. Written in the transaction of
 * the change; removed once D1 holds that version.
 */
export const outbox = sqliteTable(
  "outbox",
  {
    entity: text({ enum: ["ticket", "purchase", "entry"] }).notNull(),
    entity_id: integer().notNull(),
    since: integer().notNull(),
    version: integer().notNull(),
  },
  (t) => [primaryKey({ columns: [t.entity, t.entity_id] }), index("outbox_since_idx").on(t.since)],
);

export const ENTRY_STATUSES = ["valid", "checked_in", "cancelled", "revoked"] as const;

/** Ids of a purchase's entries: the purchase's id * 1000 + n. */
export const ENTRIES_PER_PURCHASE = 1_000;
export type EntryStatus = (typeof ENTRY_STATUSES)[number];

/**
 * One person admitted by a confirmed purchase: q entries for quantity q.
 * Ids are the purchase's id * 1000 + n (n from 1; a reissue takes the next n),
 * so an entry's purchase, and through it its ticket, follow from its id.
 */
export const entries = sqliteTable(
  "entries",
  {
    id: integer().primaryKey(),
    purchase_id: integer().notNull(),
    status: text({ enum: ENTRY_STATUSES }).notNull().default("valid"),
    checked_in_at: text(),
    checked_in_gate: text(), // the gate named by the scan, or the scanner
    // When it was cancelled or revoked: an offline admission made before then is an admission.
    ended_at: text(),
    replaces: integer(), // the entry a reissue revoked for this one
    created_at: text().notNull(),
    updated_at: text().notNull(),
    version: integer().notNull().default(0),
    seat: text(), // a seated purchase's: the seat this entry admits to (block-row-seat)
  },
  (t) => [
    index("entries_purchase_idx").on(t.purchase_id),
    index("entries_replaces_idx").on(t.replaces).where(sql`${t.replaces} IS NOT NULL`),
  ],
);

/** Scans by their scanner's nonce: the same nonce again gets the identical answer. */
export const scans = sqliteTable(
  "scans",
  {
    scanner: text().notNull(),
    nonce: text().notNull(),
    entry_id: integer().notNull(),
    answer: text().notNull(), // the JSON answered
    at: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.scanner, t.nonce] })],
);

/**
 * Purchase ids reserved for this object in D1 (hi/lo): a block [start, end),
 * used up to `next`. A used-up block (next = end) stays until the next one
 * arrives.
 */
export const idBlocks = sqliteTable(
  "id_blocks",
  { start: integer().primaryKey(), next: integer().notNull(), end: integer().notNull() },
  (t) => [check("id_blocks_within", sql`${t.start} <= ${t.next} AND ${t.next} <= ${t.end}`)],
);

export type TicketRow = typeof ticket.$inferSelect;
export type PurchaseRow = typeof purchases.$inferSelect;
export type OutboxRow = typeof outbox.$inferSelect;
export type EntryRow = typeof entries.$inferSelect;
export type SeatRequestRow = typeof seatRequests.$inferSelect;

// Shared with the order's object: webhook events, refunds and payment events handled.
export { type EventRow, events } from "../events/schema";
export { paymentEvents, REFUND_REASONS, type RefundReason, type RefundRow, refunds } from "../payments/schema";
