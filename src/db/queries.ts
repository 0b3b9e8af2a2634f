import { and, asc, desc, eq, gt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { type NewTicketRow, purchases, sequences, type TicketRow, tickets } from "./schema";

// Plain data-access functions over D1: each takes the db and does one thing.

export const database = (d1: D1Database) => drizzle(d1);
export type Db = ReturnType<typeof database>;

export interface IdempotencyKey {
  principal: string;
  key: string;
  hash: string;
}

export type NewTicket = Omit<
  NewTicketRow,
  "id" | "sold" | "version" | "created_at" | "updated_at" | "idem_principal" | "idem_key" | "idem_hash"
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

export function listTicketsByGame(db: Db, gameId: number) {
  return db.select().from(tickets).where(eq(tickets.game_id, gameId)).orderBy(asc(tickets.id));
}

export function listTickets(db: Db, skip: number, limit: number) {
  return db.select().from(tickets).orderBy(asc(tickets.id)).limit(limit).offset(skip);
}

/** A user's purchases, newest first. */
export function listPurchasesByUser(db: Db, userId: number) {
  return db
    .select()
    .from(purchases)
    .where(eq(purchases.user_id, userId))
    .orderBy(desc(purchases.created_at), desc(purchases.id));
}

/** A page of a ticket's purchases by id: what its object takes over when it first owns the ticket. */
export function listPurchasesOfTicket(db: Db, ticketId: number, afterId: number, limit: number) {
  return db
    .select()
    .from(purchases)
    .where(and(eq(purchases.ticket_id, ticketId), gt(purchases.id, afterId)))
    .orderBy(asc(purchases.id))
    .limit(limit);
}

/** Reserves `size` purchase ids for one object: [start, end). */
export async function allocatePurchaseIds(db: Db, size: number): Promise<{ start: number; end: number }> {
  const [row] = await db
    .update(sequences)
    .set({ next: sql`${sequences.next} + ${size}` })
    .where(eq(sequences.name, "purchases"))
    .returning({ end: sequences.next });
  if (!row) throw new Error("the purchases sequence is missing: apply the D1 migrations");
  return { start: row.end - size, end: row.end };
}
