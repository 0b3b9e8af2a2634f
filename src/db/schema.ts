import { sql } from "drizzle-orm";
import { check, index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

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
    active: integer({ mode: "boolean" }).notNull().default(true),
    created_at: text().notNull(),
    updated_at: text().notNull(),
  },
  (t) => [
    // The last line of defence against overselling: a write that would
    // oversell fails, and with it the whole batch it belongs to.
    check("tickets_sold_within_stock", sql`${t.sold} >= 0 AND ${t.sold} <= ${t.stock}`),
    check("tickets_price_not_negative", sql`${t.price_minor} >= 0`),
    check("tickets_max_per_order_range", sql`${t.max_per_order} BETWEEN 1 AND 100`),
    index("tickets_game_id_idx").on(t.game_id, t.id),
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
  },
  (t) => [
    check("purchases_quantity_positive", sql`${t.quantity} >= 1`),
    index("purchases_user_id_idx").on(t.user_id, t.id),
    index("purchases_ticket_id_idx").on(t.ticket_id, t.id),
  ],
);

export type TicketRow = typeof tickets.$inferSelect;
export type NewTicketRow = typeof tickets.$inferInsert;
export type PurchaseRow = typeof purchases.$inferSelect;
export type NewPurchaseRow = typeof purchases.$inferInsert;
