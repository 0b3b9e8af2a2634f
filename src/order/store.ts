import { asc, eq } from "drizzle-orm";
import { type DrizzleSqliteDODatabase, drizzle } from "drizzle-orm/durable-sqlite";
import { migrate } from "drizzle-orm/durable-sqlite/migrator";
import { appendEvents } from "../events/publisher";
import type { EventDraft } from "../events/types";
import migrations from "./migrations/migrations.js";
import { type LineRow, lines, type OrderRow, order, paymentEvents } from "./schema";

// Plain functions over the order's object's own SQLite: one order, its lines.
// Every change is one synchronous transaction, its events included.

export type OrderStore = DrizzleSqliteDODatabase;

export function openOrderStore(storage: DurableObjectStorage): OrderStore {
  const db = drizzle(storage);
  migrate(db, migrations);
  return db;
}

export const readOrder = (db: OrderStore): OrderRow | undefined => db.select().from(order).get();

export const readLines = (db: OrderStore): LineRow[] => db.select().from(lines).orderBy(asc(lines.position)).all();

export type NewOrder = Pick<OrderRow, "id" | "user_id" | "created_at" | "idem_principal" | "idem_hash">;

/** A new order, placing its lines (as asked, in order). */
export function createOrder(
  db: OrderStore,
  row: NewOrder,
  asked: { ticket_id: number; quantity: number; ask?: string | null }[],
): void {
  db.transaction(() => {
    db.insert(order)
      .values({ ...row, state: "placing", version: 1 })
      .run();
    db.insert(lines)
      .values(asked.map((l, position) => ({ ...l, position, answer: "asked" as const })))
      .run();
  });
}

/**
 * Changes the order (and lines), as one transaction under the next version,
 * with its events: the order's projection and publisher carry them on.
 */
export function changeOrder(
  db: OrderStore,
  fields: Partial<OrderRow>,
  events: (row: OrderRow, lines: LineRow[]) => EventDraft[] = () => [],
  lineFields: { position: number; fields: Partial<LineRow> }[] = [],
): OrderRow {
  return db.transaction(() => {
    const current = readOrder(db)!;
    const row = db
      .update(order)
      .set({ ...fields, version: current.version + 1 })
      .returning()
      .get()!;
    for (const l of lineFields) updateLine(db, l.position, l.fields);
    appendEvents(db, events(row, readLines(db)));
    return row;
  });
}

/** What a line's ticket answered, or that it acted on a decision (no new version: lines' truth is their tickets'). */
export const updateLine = (db: OrderStore, position: number, fields: Partial<LineRow>): void => {
  db.update(lines).set(fields).where(eq(lines.position, position)).run();
};

export const markProjected = (db: OrderStore, version: number): void => {
  db.update(order).set({ projected: version }).run();
};

export const wasHandled = (db: OrderStore, eventId: string): boolean =>
  db.select().from(paymentEvents).where(eq(paymentEvents.id, eventId)).get() !== undefined;

export function markEventHandled(db: OrderStore, eventId: string, now: string): void {
  db.insert(paymentEvents).values({ id: eventId, handled_at: now }).onConflictDoNothing().run();
}
