import { sql } from "drizzle-orm";
import { check, index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// An Idempotency-Key is stored on the row it created, so the key and the row
// commit together or not at all. Keys are scoped to who sent them.
const idempotency = () => ({
  idem_principal: text(),
  idem_key: text(),
  idem_hash: text(), // SHA-256 of the request body the key was first used with
});

// Money is stored as integer hundredths of the currency unit, never as a float.
// Timestamps are ISO 8601 UTC strings, written by the application.
export const tickets = sqliteTable(
  "tickets",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    game_id: integer().notNull(),
    name: text().notNull(),
    description: text().notNull().default(""),
    type: text().notNull().default("general"),
    price_minor: integer().notNull(),
    currency: text().notNull().default("EUR"),
    stock: integer().notNull(),
    sold: integer().notNull().default(0),
    max_per_order: integer().notNull().default(10),
    max_per_user: integer(), // units one user may buy across all orders; null: no limit
    active: integer({ mode: "boolean" }).notNull().default(true),
    created_at: text().notNull(),
    updated_at: text().notNull(),
    ...idempotency(),
  },
  (t) => [
    // The last line of defence against overselling: a write that would
    // oversell fails, and with it the whole batch it belongs to.
    check("tickets_sold_within_stock", sql`${t.sold} >= 0 AND ${t.sold} <= ${t.stock}`),
    check("tickets_price_not_negative", sql`${t.price_minor} >= 0`),
    check("tickets_max_per_order_range", sql`${t.max_per_order} BETWEEN 1 AND 100`),
    check("tickets_max_per_user_positive", sql`${t.max_per_user} IS NULL OR ${t.max_per_user} >= 1`),
    index("tickets_game_id_idx").on(t.game_id, t.id),
    uniqueIndex("tickets_idempotency_idx").on(t.idem_principal, t.idem_key),
  ],
);

export const purchases = sqliteTable(
  "purchases",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    user_id: integer().notNull(),
    ticket_id: integer()
      .notNull()
      .references(() => tickets.id),
    game_id: integer().notNull(),
    quantity: integer().notNull(),
    unit_price_minor: integer().notNull(),
    total_price_minor: integer().notNull(),
    currency: text().notNull(),
    created_at: text().notNull(),
    ...idempotency(),
  },
  (t) => [
    check("purchases_quantity_positive", sql`${t.quantity} >= 1`),
    index("purchases_user_id_idx").on(t.user_id, t.id),
    index("purchases_ticket_id_idx").on(t.ticket_id, t.user_id),
    uniqueIndex("purchases_idempotency_idx").on(t.idem_principal, t.idem_key),
  ],
);

export type TicketRow = typeof tickets.$inferSelect;
export type NewTicketRow = typeof tickets.$inferInsert;
export type PurchaseRow = typeof purchases.$inferSelect;
export type NewPurchaseRow = typeof purchases.$inferInsert;
