import { and, asc, desc, eq, or, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { type NewPurchaseRow, type NewTicketRow, type PurchaseRow, purchases, type TicketRow, tickets } from "./schema";

// Plain data-access functions: each takes the db and does one thing.

export const database = (d1: D1Database) => drizzle(d1);
export type Db = ReturnType<typeof database>;

// D1 binds at most 100 parameters per statement; a purchase row binds every column but its id.
export const PURCHASE_COLUMNS = 11;
const ROWS_PER_INSERT = Math.floor(100 / PURCHASE_COLUMNS);

export interface IdempotencyKey {
  principal: string;
  key: string;
  hash: string;
}

export type NewTicket = Omit<
  NewTicketRow,
  "id" | "sold" | "created_at" | "updated_at" | "idem_principal" | "idem_key" | "idem_hash"
>;

const keyColumns = (idem?: IdempotencyKey) => ({
  idem_principal: idem?.principal ?? null,
  idem_key: idem?.key ?? null,
  idem_hash: idem?.hash ?? null,
});

async function insertTicket(db: Db, values: NewTicket, idem?: IdempotencyKey): Promise<TicketRow> {
  const now = new Date().toISOString();
  const [row] = await db
    .insert(tickets)
    .values({ ...values, ...keyColumns(idem), created_at: now, updated_at: now })
    .returning();
  return row!;
}

/**
 * Creates a ticket once per idempotency key: a repeat with the same body
 * returns the ticket the key created, one with another body "key_reused".
 */
export async function createTicketOnce(db: Db, values: NewTicket, idem?: IdempotencyKey) {
  if (!idem) return insertTicket(db, values);
  const earlier = async () => {
    const row = await findTicketByKey(db, idem.principal, idem.key);
    return row && (row.idem_hash === idem.hash ? row : ("key_reused" as const));
  };
  try {
    return (await earlier()) ?? (await insertTicket(db, values, idem));
  } catch (err) {
    // A concurrent request with the same key won the unique index.
    const row = await earlier();
    if (row) return row;
    throw err;
  }
}

async function findTicketByKey(db: Db, principal: string, key: string) {
  const rows = await db
    .select()
    .from(tickets)
    .where(and(eq(tickets.idem_principal, principal), eq(tickets.idem_key, key)))
    .limit(1);
  return rows[0];
}

export async function getTicket(db: Db, id: number) {
  return (await db.select().from(tickets).where(eq(tickets.id, id)).limit(1))[0];
}

/** The ticket and, when it limits units per user, each buyer's units so far: one round trip. */
export async function getTicketWithBuyers(db: Db, id: number) {
  const [ticketRows, buyerRows] = await db.batch([
    db.select().from(tickets).where(eq(tickets.id, id)).limit(1),
    db
      .select({ user_id: purchases.user_id, units: sql<number>`sum(${purchases.quantity})` })
      .from(purchases)
      .where(and(eq(purchases.ticket_id, id), sql`(SELECT max_per_user FROM tickets WHERE id = ${id}) IS NOT NULL`))
      .groupBy(purchases.user_id),
  ]);
  return { ticket: ticketRows[0], buyers: new Map(buyerRows.map((r) => [r.user_id, Number(r.units)])) };
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

/** Purchases already made under any of these keys (of any ticket). */
export async function findPurchasesByKeys(db: Db, keys: { principal: string; key: string }[]): Promise<PurchaseRow[]> {
  const found: PurchaseRow[] = [];
  for (let i = 0; i < keys.length; i += 45) {
    const match = keys
      .slice(i, i + 45)
      .map((k) => and(eq(purchases.idem_principal, k.principal), eq(purchases.idem_key, k.key)));
    found.push(
      ...(await db
        .select()
        .from(purchases)
        .where(or(...match))),
    );
  }
  return found;
}

/**
 * Writes a group of purchases of one ticket and its `sold` count in one D1
 * batch, which D1 runs as one transaction. If the new count would pass the
 * stock, the CHECK constraint fails the update and nothing is written; a
 * reused idempotency key fails its insert the same way.
 * Returns the stored rows in the order given.
 */
export async function commitPurchases(
  db: Db,
  ticketId: number,
  orders: (Omit<NewPurchaseRow, "idem_principal" | "idem_key" | "idem_hash"> & { idem?: IdempotencyKey })[],
): Promise<PurchaseRow[]> {
  const rows = orders.map(({ idem, ...row }) => ({ ...row, ...keyColumns(idem) }));
  const units = rows.reduce((sum, row) => sum + row.quantity, 0);
  const updateSold = db
    .update(tickets)
    .set({ sold: sql`${tickets.sold} + ${units}`, updated_at: rows[0]!.created_at })
    .where(eq(tickets.id, ticketId));
  const inserts = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    inserts.push(
      db
        .insert(purchases)
        .values(rows.slice(i, i + ROWS_PER_INSERT))
        .returning(),
    );
  }
  const [, ...inserted] = await db.batch([updateSold, ...inserts]);
  // Ids are assigned in insertion order inside the transaction; RETURNING's
  // own order is unspecified, so sort to line rows up with the input.
  return (inserted as PurchaseRow[][]).flat().sort((a, b) => a.id - b.id);
}
