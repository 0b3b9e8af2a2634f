import { and, asc, desc, eq, gt, inArray, lte, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { newId } from "../events/types";
import type { PurchaseStatus } from "../ticket/schema";
import {
  eventOutbox,
  type NewTicketRow,
  orders,
  purchaseIdBlocks,
  purchases,
  type SeatCounts,
  seatBlocks,
  seatmaps,
  sequences,
  type TicketRow,
  tickets,
} from "./schema";

// Plain data-access functions over D1: each takes the db and does one thing.

// A D1 session (Sessions API) is a client too: Drizzle's D1 driver uses only prepare() and batch(), which it has.
export const database = (d1: D1Database | D1DatabaseSession) => drizzle(d1 as D1Database);
export type Db = ReturnType<typeof database>;

/** The newer of two D1 bookmarks (they sort oldest to newest as text). */
export const newerBookmark = (a: string | null | undefined, b: string | null | undefined) =>
  !a ? (b ?? null) : !b ? a : a > b ? a : b;

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

/** Inserts a ticket with its ticket.created event, in one transaction. */
async function insertTicket(db: Db, values: NewTicket, idem?: IdempotencyKey): Promise<TicketRow> {
  const now = new Date().toISOString();
  const [[row]] = await db.batch([
    db
      .insert(tickets)
      .values({ ...values, ...keyColumns(idem), created_at: now, updated_at: now })
      .returning(),
    db
      .insert(eventOutbox)
      .values({ id: newId("evt"), type: "ticket.created", ticket_id: sql`last_insert_rowid()`, created_at: now }),
  ]);
  return row!;
}

/**
 * Creates a ticket once per idempotency key: a repeat with the same body
 * returns the ticket the key created (`replayed`), one with another body "key_reused".
 */
export async function createTicketOnce(
  db: Db,
  values: NewTicket,
  idem?: IdempotencyKey,
): Promise<{ ticket: TicketRow; replayed: boolean } | "key_reused"> {
  if (!idem) return { ticket: await insertTicket(db, values), replayed: false };
  const earlier = async () => {
    const row = await findTicketByKey(db, idem.principal, idem.key);
    if (!row) return undefined;
    return row.idem_hash === idem.hash ? { ticket: row, replayed: true } : ("key_reused" as const);
  };
  try {
    return (await earlier()) ?? { ticket: await insertTicket(db, values, idem), replayed: false };
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

/** A user's purchases (in one state, if given), newest first; a page after `before` (created_at, id) if given. */
export function listPurchasesByUser(
  db: Db,
  userId: number,
  status?: PurchaseStatus,
  before?: [string, number] | null,
  limit?: number,
) {
  const query = db
    .select()
    .from(purchases)
    .where(
      and(
        eq(purchases.user_id, userId),
        status ? eq(purchases.status, status) : undefined,
        before ? sql`(${purchases.created_at}, ${purchases.id}) < (${before[0]}, ${before[1]})` : undefined,
      ),
    )
    .orderBy(desc(purchases.created_at), desc(purchases.id));
  return limit === undefined ? query : query.limit(limit);
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

/** Reserves `size` purchase ids for the object of `ticketId`: [start, end), recorded as that ticket's. */
export async function allocatePurchaseIds(
  db: Db,
  size: number,
  ticketId: number,
): Promise<{ start: number; end: number }> {
  const [rows] = await db.batch([
    db
      .update(sequences)
      .set({ next: sql`${sequences.next} + ${size}` })
      .where(eq(sequences.name, "purchases"))
      .returning({ end: sequences.next }),
    db.insert(purchaseIdBlocks).select(
      db
        .select({
          start: sql<number>`${sequences.next} - ${size}`.as("start"),
          end: sequences.next,
          ticket_id: sql<number>`${ticketId}`.as("ticket_id"),
        })
        .from(sequences)
        .where(eq(sequences.name, "purchases")),
    ),
  ]);
  const row = rows[0];
  if (!row) throw new Error("the purchases sequence is missing: apply the D1 migrations");
  return { start: row.end - size, end: row.end };
}

/** The ticket a purchase id belongs to: from its id block, or from the purchase itself for ids from before blocks. */
export async function ticketOfPurchase(db: Db, purchaseId: number): Promise<number | undefined> {
  const [blocks, legacy] = await db.batch([
    db
      .select({ ticket_id: purchaseIdBlocks.ticket_id, end: purchaseIdBlocks.end })
      .from(purchaseIdBlocks)
      .where(lte(purchaseIdBlocks.start, purchaseId))
      .orderBy(desc(purchaseIdBlocks.start))
      .limit(1),
    db.select({ ticket_id: purchases.ticket_id }).from(purchases).where(eq(purchases.id, purchaseId)).limit(1),
  ]);
  const block = blocks[0];
  if (block && purchaseId < block.end) return block.ticket_id;
  return legacy[0]?.ticket_id;
}

/** A user's orders, newest first, after `before` (the last of the page before: created_at and id). */
export function listOrdersOfUser(db: Db, userId: number, before: [string, string] | null, limit: number) {
  return db
    .select()
    .from(orders)
    .where(
      and(
        eq(orders.user_id, userId),
        before ? sql`(${orders.created_at}, ${orders.id}) < (${before[0]}, ${before[1]})` : undefined,
      ),
    )
    .orderBy(desc(orders.created_at), desc(orders.id))
    .limit(limit);
}

/** The purchases that are lines of these orders: their state and what was given back of them. */
export function linesOfOrders(db: Db, orderIds: string[]) {
  return db
    .select({
      id: purchases.id,
      order_id: purchases.order_id,
      ticket_id: purchases.ticket_id,
      status: purchases.status,
      refunded_minor: purchases.refunded_minor,
    })
    .from(purchases)
    .where(sql`${purchases.order_id} IN (SELECT value FROM json_each(${JSON.stringify(orderIds)}))`);
}

// Seating: the seat maps, and the blocks' projections.

export const getSeatmap = async (db: Db, gameId: number) =>
  (await db.select().from(seatmaps).where(eq(seatmaps.game_id, gameId)).limit(1))[0];

/** Records a game's seat map (its blocks' seats are in their objects by then). */
export async function saveSeatmap(db: Db, row: typeof seatmaps.$inferInsert): Promise<void> {
  const { game_id: _, ...set } = row;
  await db.insert(seatmaps).values(row).onConflictDoUpdate({ target: seatmaps.game_id, set });
}

/** A game's blocks as their objects projected them, in the map's order (one block, if given). */
export const listSeatBlocks = (db: Db, gameId: number, block?: string) =>
  db
    .select()
    .from(seatBlocks)
    .where(and(eq(seatBlocks.game_id, gameId), block ? eq(seatBlocks.block_id, block) : undefined))
    .orderBy(asc(seatBlocks.position));

/** Seats by category and state over the games' blocks: a seated ticket's counts come from these. */
export async function seatCountsOf(db: Db, gameIds: number[]): Promise<Map<number, SeatCounts>> {
  const out = new Map<number, SeatCounts>();
  if (gameIds.length === 0) return out;
  const rows = await db
    .select({ game_id: seatBlocks.game_id, counts: seatBlocks.counts })
    .from(seatBlocks)
    .where(inArray(seatBlocks.game_id, [...new Set(gameIds)]));
  for (const r of rows) {
    const game = out.get(r.game_id) ?? {};
    for (const [category, c] of Object.entries(r.counts)) {
      const sum = game[category] ?? { free: 0, held: 0, sold: 0, blocked: 0 };
      game[category] = sum;
      sum.free += c.free;
      sum.held += c.held;
      sum.sold += c.sold;
      sum.blocked += c.blocked;
    }
    out.set(r.game_id, game);
  }
  return out;
}
