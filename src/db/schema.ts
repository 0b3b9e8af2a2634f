import { sql } from "drizzle-orm";
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { ORDER_STATUSES } from "../order/schema";
import { ENTRY_STATUSES, purchaseFields, ticketChecks, ticketFields } from "../ticket/schema";

// D1 is the read model: each ticket's object owns its ticket and purchases
// (src/ticket/schema.ts) and projects them here, for the reads that span tickets.
// D1 also allocates what must be unique across tickets: ticket ids, and
// blocks of purchase ids.

// An Idempotency-Key is stored on the row it created, so the key and the row
// commit together or not at all. Keys are scoped to who sent them.
const idempotency = () => ({
  idem_principal: text(),
  idem_key: text(),
  idem_hash: text(), // SHA-256 of the request body the key was first used with
});

export const tickets = sqliteTable(
  "tickets",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    ...ticketFields(),
    ...idempotency(), // of POST /tickets, which creates the row here
    // The object's clock as of the latest batch D1 took from it: a resync's batch that lands after a later
    // flush (its answer lost, the object gone on) finds it past its own clock and writes nothing.
    projected_clock: integer().notNull().default(0),
  },
  (t) => [
    ...ticketChecks("tickets", t),
    index("tickets_game_id_idx").on(t.game_id, t.id),
    uniqueIndex("tickets_idempotency_idx").on(t.idem_principal, t.idem_key),
  ],
);

export const purchases = sqliteTable(
  "purchases",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    ticket_id: integer()
      .notNull()
      .references(() => tickets.id),
    game_id: integer().notNull(),
    ...purchaseFields(),
    // Keys of purchases made before the objects owned their tickets; an
    // object reads them once, when it takes its ticket over.
    ...idempotency(),
  },
  (t) => [
    check("purchases_quantity_positive", sql`${t.quantity} >= 1`),
    index("purchases_user_id_idx").on(t.user_id, t.created_at),
    index("purchases_user_status_idx").on(t.user_id, t.status, t.created_at),
    index("purchases_ticket_id_idx").on(t.ticket_id, t.user_id),
    index("purchases_order_id_idx").on(t.order_id),
  ],
);

/** An order's line, as its order's object knows it (its purchase holds the rest). */
export interface OrderLine {
  ticket_id: number;
  game_id: number;
  name: string;
  type: string;
  quantity: number;
  unit_price_minor: number;
  purchase_id: number;
  seats?: string[]; // a seated line's
}

/**
 * Orders (baskets) as their objects last projected them: a fan's orders, newest
 * first. Each line is a purchase of its ticket (purchases.order_id).
 */
export const orders = sqliteTable(
  "orders",
  {
    id: text().primaryKey(),
    user_id: integer().notNull(),
    status: text({ enum: ORDER_STATUSES }).notNull(),
    currency: text().notNull(),
    total_minor: integer().notNull(),
    refunded_minor: integer().notNull().default(0), // given back of the order's payment as a whole
    lines: text({ mode: "json" }).$type<OrderLine[]>().notNull(),
    created_at: text().notNull(),
    expires_at: text(),
    confirmed_at: text(),
    cancelled_at: text(),
    version: integer().notNull(),
  },
  (t) => [index("orders_user_idx").on(t.user_id, t.created_at, t.id)],
);

/**
 * Entries as their objects last changed them, in the order D1 learnt of
 * each change: the feed gate scanners poll (`seq` is the cursor). One row
 * per entry and version, so a projection repeated writes nothing twice.
 */
export const entryChanges = sqliteTable(
  "entry_changes",
  {
    seq: integer().primaryKey({ autoIncrement: true }),
    entry_id: integer().notNull(),
    ticket_id: integer().notNull(),
    game_id: integer().notNull(),
    status: text({ enum: ENTRY_STATUSES }).notNull(),
    checked_in_at: text(),
    checked_in_gate: text(),
    version: integer().notNull(),
  },
  (t) => [
    uniqueIndex("entry_changes_version_idx").on(t.entry_id, t.version),
    index("entry_changes_game_idx").on(t.game_id, t.seq),
  ],
);

/** Which ticket's object each block of purchase ids went to: a purchase's ticket, known before D1 holds the purchase. */
export const purchaseIdBlocks = sqliteTable("purchase_id_blocks", {
  start: integer().primaryKey(),
  end: integer().notNull(), // exclusive
  ticket_id: integer().notNull(),
});

/** Counters shared by all objects: `purchases` hands out blocks of purchase ids. */
export const sequences = sqliteTable("sequences", {
  name: text().primaryKey(),
  next: integer().notNull(),
});

export type TicketRow = typeof tickets.$inferSelect;
export type NewTicketRow = typeof tickets.$inferInsert;
export type PurchaseRow = typeof purchases.$inferSelect;

// Webhooks: other systems hear of what happens through signed deliveries.

export const webhooks = sqliteTable("webhooks", {
  id: integer().primaryKey({ autoIncrement: true }),
  url: text().notNull(),
  event_types: text({ mode: "json" }).$type<string[]>().notNull(), // ["*"]: every type
  enabled: integer({ mode: "boolean" }).notNull().default(true),
  secret: text().notNull(), // whsec_...: signs the deliveries; shown once, at creation
  disabled_reason: text(), // "gone": the endpoint answered 410
  created_at: text().notNull(),
  updated_at: text().notNull(),
});

export const DELIVERY_STATUSES = ["pending", "delivered", "retrying", "failed", "dead", "skipped"] as const;

/** One event for one endpoint, and how its attempts went. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text().primaryKey(), // dlv_...
    webhook_id: integer().notNull(),
    event_id: text().notNull(),
    event_type: text().notNull(),
    status: text({ enum: DELIVERY_STATUSES }).notNull().default("pending"),
    attempts: integer().notNull().default(0),
    response_code: integer(),
    duration_ms: integer(),
    error: text(),
    next_retry_at: text(),
    created_at: text().notNull(),
    updated_at: text().notNull(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_event_idx").on(t.webhook_id, t.event_id),
    index("webhook_deliveries_recent_idx").on(t.webhook_id, t.created_at),
  ],
);

/** Events that some endpoint wants, kept for their deliveries (and a manual retry) for 30 days. */
export const webhookEvents = sqliteTable(
  "webhook_events",
  {
    id: text().primaryKey(), // evt_...
    type: text().notNull(),
    created_at: text().notNull(),
    data: text().notNull(), // the event's body, exactly as signed and sent
  },
  (t) => [index("webhook_events_created_idx").on(t.created_at)],
);

/** Events of changes made in D1 itself (a ticket's creation), written in the same batch, until sent. */
export const eventOutbox = sqliteTable("event_outbox", {
  id: text().primaryKey(), // evt_...
  type: text().notNull(),
  ticket_id: integer().notNull(),
  created_at: text().notNull(),
});

// Seating: a game's seat map, and each block's seats as its object projects them.

/** A game's seat map: which blocks, in the map's order, and what it holds. */
export const seatmaps = sqliteTable("seatmaps", {
  game_id: integer().primaryKey(),
  version: text().notNull(), // changes with every new map: the ETag of its layout
  blocks: text({ mode: "json" }).$type<string[]>().notNull(), // block ids, in the map's order
  summary: text({ mode: "json" }).$type<Record<string, unknown>>().notNull(),
  updated_at: text().notNull(),
});

/** Per category of a block: its seats by state. */
export type SeatCounts = Record<string, { free: number; held: number; sold: number; blocked: number }>;

/**
 * One block of a game, as its object (src/seating) last projected it: its
 * layout (written when its seats are loaded), and which seats are free now,
 * with counts per category (version-guarded, as the tickets' projections).
 */
export const seatBlocks = sqliteTable(
  "seat_blocks",
  {
    game_id: integer().notNull(),
    block_id: text().notNull(),
    name: text().notNull(),
    position: integer().notNull(),
    map_version: text().notNull(),
    layout: text().notNull(), // JSON: the block's rows and seats, as the map gave them
    seats: integer().notNull(),
    availability: text().notNull(), // JSON: per row, a bitmap of its free seats
    counts: text({ mode: "json" }).$type<SeatCounts>().notNull(),
    version: integer().notNull(), // the block's change counter when this was written
    updated_at: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.game_id, t.block_id] })],
);
