import { and, asc, desc, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { type NewPurchaseRow, type NewTicketRow, type PurchaseRow, purchases, tickets } from "./schema";

// Plain data-access functions: each takes the db and does one thing.

export const database = (d1: D1Database) => drizzle(d1);
export type Db = ReturnType<typeof database>;

// D1 binds at most 100 parameters per statement; a purchase row binds 8.
const PURCHASE_COLUMNS = 8;
const ROWS_PER_INSERT = Math.floor(100 / PURCHASE_COLUMNS);

export async function createTicket(db: Db, values: Omit<NewTicketRow, "id" | "sold" | "created_at" | "updated_at">) {
  const now = new Date().toISOString();
  const [row] = await db
    .insert(tickets)
    .values({ ...values, created_at: now, updated_at: now })
    .returning();
  return row!;
}

export async function getTicket(db: Db, id: number) {
  return (await db.select().from(tickets).where(eq(tickets.id, id)).limit(1))[0];
}

export function listTicketsByGame(db: Db, gameId: number) {
  return db.select().from(tickets).where(eq(tickets.game_id, gameId)).orderBy(asc(tickets.id));
}

export function listTickets(db: Db, skip: number, limit: number) {
  return db.select().from(tickets).orderBy(asc(tickets.id)).limit(limit).offset(skip);
}

/** A user's purchases, newest first (ids grow in commit order). */
export function listPurchasesByUser(db: Db, userId: number) {
  return db.select().from(purchases).where(eq(purchases.user_id, userId)).orderBy(desc(purchases.id));
}

export function listPurchasesAt(db: Db, ticketId: number, createdAt: string) {
  return db
    .select()
    .from(purchases)
    .where(and(eq(purchases.ticket_id, ticketId), eq(purchases.created_at, createdAt)))
    .orderBy(asc(purchases.id));
}

/**
 * Writes a group of purchases of one ticket and its `sold` count in one D1
 * batch, which D1 runs as one transaction. If the new count would pass the
 * stock, the CHECK constraint fails the update and nothing is written.
 * Returns the stored rows in the order given.
 */
export async function commitPurchases(db: Db, ticketId: number, rows: NewPurchaseRow[]): Promise<PurchaseRow[]> {
  const units = rows.reduce((sum, row) => sum + row.quantity, 0);
  const updateSold = db
    .update(tickets)
    .set({ sold: sql`${tickets.sold} + ${units}`, updated_at: rows[0]!.created_at })
    .where(eq(tickets.id, ticketId));
  const inserts = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    inserts.push(db.insert(purchases).values(rows.slice(i, i + ROWS_PER_INSERT)).returning());
  }
  const [, ...inserted] = await db.batch([updateSold, ...inserts]);
  // Ids are assigned in insertion order inside the transaction; RETURNING's
  // own order is unspecified, so sort to line rows up with the input.
  return (inserted as PurchaseRow[][]).flat().sort((a, b) => a.id - b.id);
}
