import { and, eq, inArray, lt, sql } from "drizzle-orm";
import type { BlockApi, Desired, TakeRequest } from "../seating/seat-block";
import { LINE_GRACE_SECONDS } from "./lines";
import { secondsAfter } from "./sales";
import { entries, type PurchaseRow, purchases, type SeatRequestRow, seatRequests, type TicketRow } from "./schema";
import type { Store } from "./store";

// Seated purchases, as their ticket sees them: the ticket owns the rules, the
// price and the buyer's units; the seats are held in their block's object
// (src/seating) as escrow keyed by the purchase. A request is decided here
// first and recorded pending (its units count against max_per_user), then
// asked of the block; every later change of the purchase is told to the
// block, newest version wins, until it has acted on it.

/** A seat hold's escrow in its block outlives the hold by this much: the ticket decides first. */
export const SEAT_GRACE_SECONDS = LINE_GRACE_SECONDS;
/** A request still pending this long after it was made (its answer lost) is released by the alarm. */
export const STALE_REQUEST_MS = 30_000;

/** What a seated ticket sells: its categories of its game's seat map. */
export interface Seating {
  categories: string[];
}
export const seatingOf = (t: Pick<TicketRow, "seating">): Seating | null =>
  t.seating === null ? null : (JSON.parse(t.seating) as Seating);

/** The seats asked for: exactly these, or the best free ones of `quantity`. */
export type SeatAsk =
  | { seats: string[] }
  | { best: { quantity: number; together: boolean; accessible?: boolean; block?: string } };

/** The block object's name: one per block of a game. */
export const blockName = (gameId: number, block: string) => `${gameId}:${block}`;

/** The block's object, typed as its callers see it. */
export const blockObject = (env: Env, gameId: number, block: string) =>
  env.SEAT_BLOCKS.getByName(blockName(gameId, block)) as unknown as BlockApi;

export const findRequest = (db: Store, purchaseId: number): SeatRequestRow | undefined =>
  db.select().from(seatRequests).where(eq(seatRequests.purchase_id, purchaseId)).get();

export const findRequestByKey = (db: Store, principal: string, key: string): SeatRequestRow | undefined =>
  db
    .select()
    .from(seatRequests)
    .where(and(eq(seatRequests.idem_principal, principal), eq(seatRequests.idem_key, key)))
    .get();

export function insertRequest(db: Store, row: SeatRequestRow): void {
  db.insert(seatRequests).values(row).run();
}

export function setRequestBlock(db: Store, purchaseId: number, block: string): void {
  db.update(seatRequests).set({ block }).where(eq(seatRequests.purchase_id, purchaseId)).run();
}

export function deleteRequest(db: Store, purchaseId: number): void {
  db.delete(seatRequests).where(eq(seatRequests.purchase_id, purchaseId)).run();
}

/** Requests made before `before` (their answers lost), oldest first. */
export const staleRequests = (db: Store, before: string): SeatRequestRow[] =>
  db.select().from(seatRequests).where(lt(seatRequests.created_at, before)).limit(50).all();

/** What the block is asked for a request. */
export function takeRequest(t: TicketRow, r: SeatRequestRow, categories: string[]): TakeRequest {
  const ask = JSON.parse(r.request) as SeatAsk;
  return {
    key: r.purchase_id,
    ticket_id: t.id,
    categories,
    ...("seats" in ask ? { seats: ask.seats } : { best: ask.best }),
    ends_at: r.expires_at ? secondsAfter(r.expires_at, SEAT_GRACE_SECONDS) : null,
  };
}

/** Seated purchases whose block has not yet acted on their latest version (the partial index finds them). */
export const dueForBlock = (db: Store, limit: number): PurchaseRow[] =>
  db
    .select()
    .from(purchases)
    .where(sql`${purchases.block} IS NOT NULL AND ${purchases.block_version} < ${purchases.version}`)
    .limit(limit)
    .all();

export function markToldBlock(db: Store, id: number, version: number): void {
  db.update(purchases)
    .set({ block_version: sql`max(${purchases.block_version}, ${version})` })
    .where(eq(purchases.id, id))
    .run();
}

/** The purchase's state, for its block: held until its end (plus the grace), sold (the seats it keeps), or released. */
export function desiredOf(db: Store, p: PurchaseRow): Desired {
  if (p.status === "held") {
    return { version: p.version, state: "held", ends_at: secondsAfter(p.expires_at!, SEAT_GRACE_SECONDS) };
  }
  if (p.status === "confirmed") {
    // A seat is kept while an entry admits to it (a revoked entry's seat is its replacement's).
    const kept = db
      .selectDistinct({ seat: entries.seat })
      .from(entries)
      .where(and(eq(entries.purchase_id, p.id), inArray(entries.status, ["valid", "checked_in"])))
      .all()
      .flatMap((e) => (e.seat ? [e.seat] : []));
    return { version: p.version, state: "sold", seats: kept };
  }
  return { version: p.version, state: "released" };
}
