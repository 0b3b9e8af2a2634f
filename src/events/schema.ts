import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Events for other systems (webhooks), written in the transaction of the
 * change they describe, and kept until the queue has them.
 */
export const events = sqliteTable("events", {
  // A plain rowid and no index on id: an event's row is one page written, in the change's transaction.
  seq: integer().primaryKey(),
  id: text().notNull(), // evt_...
  type: text().notNull(),
  created_at: text().notNull(),
  data: text().notNull(), // JSON: the object as of the change
});

export type EventRow = typeof events.$inferSelect;
