import { sql } from "drizzle-orm";
import { check, index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// The block object's own SQLite: the truth about the seats of one block of
// one game. A seat is free, held or sold for one purchase (its holder), or
// blocked (off sale); D1 (src/db/schema.ts, seat_blocks) shows what the block
// projects of it. Timestamps are ISO 8601 UTC.

export const SEAT_STATES = ["free", "held", "sold", "blocked"] as const;
export type SeatState = (typeof SEAT_STATES)[number];

/** The one block this object owns: a single row. */
export const block = sqliteTable("block", {
  game_id: integer().primaryKey(),
  block_id: text().notNull(),
  name: text().notNull(),
  position: integer().notNull(), // the block's place in the seat map (its preference order)
  map_version: text().notNull(), // the seat map its seats came from
  // The block's change counter: each transaction takes the next number. D1 holds the block as of `projected`.
  clock: integer().notNull().default(0),
  projected: integer().notNull().default(0),
});

/**
 * The seats, in the map's order: rows front to back, seats side by side in
 * each (`idx` is that order). One row per seat, so a seat has one holder.
 */
export const seats = sqliteTable(
  "seats",
  {
    idx: integer().primaryKey(),
    id: text().notNull(), // block-row-seat, e.g. N1-A-12
    row: text().notNull(),
    seat: text().notNull(),
    category: text().notNull(),
    rank: integer(), // the club's idea of best: lower is better
    accessible: integer({ mode: "boolean" }).notNull().default(false),
    x: real(),
    y: real(),
    state: text({ enum: SEAT_STATES }).notNull().default("free"),
    holder: integer(), // the purchase that holds or bought it
    ticket_id: integer(), // ...of this ticket
  },
  (t) => [
    uniqueIndex("seats_id_idx").on(t.id),
    // A seat held or sold has exactly one holder; a free or blocked one none.
    check("seats_holder", sql`(${t.state} IN ('held', 'sold')) = (${t.holder} IS NOT NULL)`),
  ],
);

export const HOLD_STATES = ["held", "sold", "released"] as const;
export type HoldState = (typeof HOLD_STATES)[number];

/**
 * What the block did for each purchase (its key): seats held as escrow until
 * `ends_at`, sold, or released. Applied once per key; a ticket's later word on
 * it carries the purchase's version, and only a newer one is applied.
 */
export const holds = sqliteTable(
  "holds",
  {
    key: integer().primaryKey(), // the purchase id
    ticket_id: integer().notNull(),
    state: text({ enum: HOLD_STATES }).notNull(),
    seats: text().notNull(), // JSON: the idx of its seats (released: those it had)
    ends_at: text(), // while held: the escrow's end, when the block lets go by itself
    version: integer().notNull().default(0), // the purchase's version last applied
    created_at: text().notNull(),
    updated_at: text().notNull(),
  },
  (t) => [index("holds_due_idx").on(t.state, t.ends_at)],
);

export type BlockRow = typeof block.$inferSelect;
export type SeatRow = typeof seats.$inferSelect;
export type HoldRow = typeof holds.$inferSelect;
