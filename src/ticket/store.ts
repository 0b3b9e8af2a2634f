import { and, asc, eq, gt, inArray, lte, min, sql, sum } from "drizzle-orm";
import { type DrizzleSqliteDODatabase, drizzle } from "drizzle-orm/durable-sqlite";
import { migrate } from "drizzle-orm/durable-sqlite/migrator";
import { appendEvents } from "../events/publisher";
import type { EventDraft } from "../events/types";
import migrations from "./migrations/migrations.js";
import { COUNTED } from "./rules";
import {
  ENTRIES_PER_PURCHASE,
  entries,
  idBlocks,
  type OutboxRow,
  outbox,
  type PurchaseRow,
  paymentEvents,
  purchases,
  seatRequests,
  type TicketRow,
  ticket,
} from "./schema";

// Plain functions over the object's own SQLite. Everything here is
// synchronous: a change is one transaction, decided and written before the
// object awaits anything. The statements of the hot path are prepared once
// per object (building a query costs more than running it).

export type Store = DrizzleSqliteDODatabase;

const p = sql.placeholder;

function prepare(db: Store) {
  // The rows of a flush, as a JSON array of [entity, id] pairs: one parameter however many.
  const inFlush = sql`(${outbox.entity}, ${outbox.entity_id}) IN (SELECT value ->> 0, value ->> 1 FROM json_each(${p("rows")}))`;
  return {
    ticket: db.select().from(ticket).prepare(),
    byKey: db
      .select()
      .from(purchases)
      .where(and(eq(purchases.idem_principal, p("principal")), eq(purchases.idem_key, p("key"))))
      .prepare(),
    units: db
      .select({ units: sum(sql`${purchases.quantity} - ${purchases.returned}`) })
      .from(purchases)
      .where(and(eq(purchases.user_id, p("user")), inArray(purchases.status, COUNTED)))
      .prepare(),
    purchase: db
      .select()
      .from(purchases)
      .where(eq(purchases.id, p("id")))
      .prepare(),
    // Units of seated purchases still being asked of their block count too.
    pendingUnits: db
      .select({ units: sum(seatRequests.quantity) })
      .from(seatRequests)
      .where(eq(seatRequests.user_id, p("user")))
      .prepare(),
    setClock: db
      .update(ticket)
      .set({ clock: sql`${p("version")}` })
      .prepare(),
    mark: db
      .insert(outbox)
      .select(
        sql`SELECT value ->> 0, value ->> 1, ${p("version")}, ${p("version")} FROM json_each(${p("rows")}) WHERE true`,
      )
      .onConflictDoUpdate({ target: [outbox.entity, outbox.entity_id], set: { version: sql`excluded.version` } })
      .prepare(),
    insertPurchase: db
      .insert(purchases)
      .values({
        id: p("id"),
        user_id: p("user_id"),
        quantity: p("quantity"),
        unit_price_minor: p("unit_price_minor"),
        total_price_minor: p("total_price_minor"),
        currency: p("currency"),
        status: p("status"),
        expires_at: p("expires_at"),
        held_until: p("held_until"),
        order_id: p("order_id"),
        confirmed_at: p("confirmed_at"),
        created_at: p("created_at"),
        version: p("version"),
        idem_principal: p("idem_principal"),
        idem_key: p("idem_key"),
        idem_hash: p("idem_hash"),
        seats: p("seats"),
        block: p("block"),
        block_version: p("block_version"),
      })
      .returning()
      .prepare(),
    addUnits: db
      .update(ticket)
      .set({
        sold: sql`${ticket.sold} + ${p("sold")}`,
        held: sql`${ticket.held} + ${p("held")}`,
        updated_at: sql`${p("now")}`,
        version: sql`${p("version")}`,
        clock: sql`${p("version")}`,
      })
      .prepare(),
    dueHolds: db
      .select()
      .from(purchases)
      .where(and(eq(purchases.status, "held"), lte(purchases.expires_at, p("now"))))
      .prepare(),
    nextExpiry: db
      .select({ at: min(purchases.expires_at) })
      .from(purchases)
      .where(eq(purchases.status, "held"))
      .prepare(),
    // The lowest block with ids left gives its next one.
    takeId: db
      .update(idBlocks)
      .set({ next: sql`${idBlocks.next} + 1` })
      .where(
        sql`${idBlocks.start} = (SELECT min(${idBlocks.start}) FROM ${idBlocks} WHERE ${idBlocks.next} < ${idBlocks.end})`,
      )
      .returning({ id: sql<number>`${idBlocks.next} - 1`, left: sql<number>`${idBlocks.end} - ${idBlocks.next}` })
      .prepare(),
    reserved: db
      .select({ n: sum(sql`${idBlocks.end} - ${idBlocks.next}`) })
      .from(idBlocks)
      .prepare(),
    pending: db.select().from(outbox).orderBy(asc(outbox.since)).limit(p("limit")).prepare(),
    oldestPending: db
      .select({ since: min(outbox.since) })
      .from(outbox)
      .prepare(),
    projected: db
      .delete(outbox)
      .where(and(inFlush, lte(outbox.version, p("clock"))))
      .returning({ id: outbox.entity_id })
      .prepare(),
    // Rows that changed again keep their later changes only (`since` moves past `clock`, once).
    changedSince: db
      .update(outbox)
      .set({ since: sql`${p("clock")} + 1` })
      .where(and(inFlush, gt(outbox.version, p("clock")), lte(outbox.since, p("clock"))))
      .returning({ id: outbox.entity_id })
      .prepare(),
    // Entries written after the read have versions past `clock` too: what they keep is the same.
    projectedAll: db
      .delete(outbox)
      .where(lte(outbox.version, p("clock")))
      .returning({ id: outbox.entity_id })
      .prepare(),
    changedSinceAll: db
      .update(outbox)
      .set({ since: sql`${p("clock")} + 1` })
      .where(and(gt(outbox.version, p("clock")), lte(outbox.since, p("clock"))))
      .returning({ id: outbox.entity_id })
      .prepare(),
    // The entries of a purchase just confirmed, one per unit (ids purchase * 1000 + n), in one statement.
    createEntries: db
      .insert(entries)
      .select(
        // After its last entry: a line taken again after it was given back keeps its old, cancelled ones.
        sql`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${p("quantity")}),
            base(id) AS (SELECT coalesce(max(id), ${p("purchase")} * ${ENTRIES_PER_PURCHASE}) FROM entries WHERE purchase_id = ${p("purchase")})
          SELECT base.id + i, ${p("purchase")}, 'valid', NULL, NULL, NULL, NULL, ${p("now")}, ${p("now")}, ${p("version")},
            json_extract(${p("seats")}, '$[' || (i - 1) || ']') FROM n, base`,
      )
      .prepare(),
    purchasesIn: db
      .select()
      .from(purchases)
      .where(sql`${purchases.id} IN (SELECT value FROM json_each(${p("ids")}))`)
      .prepare(),
    entriesIn: db
      .select()
      .from(entries)
      .where(sql`${entries.id} IN (SELECT value FROM json_each(${p("ids")}))`)
      .prepare(),
  };
}

const prepared = new WeakMap<Store, ReturnType<typeof prepare>>();
const q = (db: Store) => {
  let statements = prepared.get(db);
  if (!statements) {
    statements = prepare(db);
    prepared.set(db, statements);
  }
  return statements;
};

/** Opens the object's database and brings its tables up to date. */
export function openStore(storage: DurableObjectStorage): Store {
  const db = drizzle(storage);
  migrate(db, migrations);
  return db;
}

export const readTicket = (db: Store): TicketRow | undefined => q(db).ticket.get();

export const findByKey = (db: Store, principal: string, key: string): PurchaseRow | undefined =>
  q(db).byKey.get({ principal, key });

/** Units the user holds of this ticket, from the index on purchases.user_id. */
export const unitsOf = (db: Store, userId: number): number =>
  Number(q(db).units.get({ user: userId })?.units ?? 0) + Number(q(db).pendingUnits.get({ user: userId })?.units ?? 0);

export type Entity = OutboxRow["entity"];

// The object's change counter, as committed: read from the ticket once, then
// kept here, since every change goes through change() in this one instance.
const clocks = new WeakMap<Store, number>();

/**
 * Runs `write` as one transaction under the next version number, with the
 * rows it changed recorded in the outbox for D1. A write that changes the
 * ticket row records the version there itself (as `clock`, in the same
 * statement); for any other, it is recorded here.
 */
export function change<T>(
  db: Store,
  write: (version: number) => { result: T; changed: [Entity, number][]; events?: EventDraft[] },
): T {
  const version = (clocks.get(db) ?? readTicket(db)!.clock) + 1;
  const result = db.transaction(() => {
    const { result, changed, events: drafts = [] } = write(version);
    if (!changed.some(([entity]) => entity === "ticket")) q(db).setClock.run({ version });
    q(db).mark.run({ rows: JSON.stringify(changed), version });
    appendEvents(db, drafts);
    return result;
  });
  clocks.set(db, version); // committed
  return result;
}

export const findPurchase = (db: Store, id: number): PurchaseRow | undefined => q(db).purchase.get({ id });

export type NewPurchase = Omit<
  PurchaseRow,
  | "cancelled_at"
  | "checkout_session_id"
  | "checkout_url"
  | "checkout_expires_at"
  | "checkout_params"
  | "payment_intent"
  | "refund_id"
  | "returned"
  | "refunded_minor"
  | "paid_session_id"
  | "seats"
  | "block"
  | "block_version"
> &
  Partial<Pick<PurchaseRow, "seats" | "block" | "block_version">>;
export const insertPurchase = (db: Store, row: NewPurchase): PurchaseRow =>
  q(db).insertPurchase.get({ seats: null, block: null, block_version: 0, ...row })!;

/** Changes a purchase (inside a change); returns it as it now is. */
export const updatePurchase = (db: Store, id: number, fields: Partial<PurchaseRow>): PurchaseRow =>
  db.update(purchases).set(fields).where(eq(purchases.id, id)).returning().get()!;

/**
 * Moves units between sold, held and free; the CHECKs on the ticket fail the
 * whole transaction if this would oversell or go below zero.
 */
export function addUnits(db: Store, units: { sold?: number; held?: number }, now: string, version: number): void {
  q(db).addUnits.run({ sold: units.sold ?? 0, held: units.held ?? 0, now, version });
}

/** Holds whose time is up at `now`. */
export const dueHolds = (db: Store, now: string): PurchaseRow[] => q(db).dueHolds.all({ now });

/** When the next live hold ends, or null. */
export const nextExpiry = (db: Store): string | null => q(db).nextExpiry.get()?.at ?? null;

export const wasHandled = (db: Store, eventId: string): boolean =>
  db.select().from(paymentEvents).where(eq(paymentEvents.id, eventId)).get() !== undefined;

/** Records a payment event as handled (inside the change that acts on it, if any). */
export function markEventHandled(db: Store, eventId: string, now: string): void {
  db.insert(paymentEvents).values({ id: eventId, handled_at: now }).onConflictDoNothing().run();
}

/** Takes the next reserved purchase id, with the ids left in its block; undefined when none is left. */
export const takeId = (db: Store): { id: number; left: number } | undefined => q(db).takeId.get();

/** Purchase ids still reserved for this object. */
export const reservedIds = (db: Store): number => Number(q(db).reserved.get()?.n ?? 0);

export function addIdBlock(db: Store, start: number, end: number): void {
  db.transaction(() => {
    db.delete(idBlocks).where(sql`${idBlocks.next} = ${idBlocks.end}`).run(); // used up
    db.insert(idBlocks).values({ start, next: start, end }).run();
  });
}

/** The oldest rows D1 has not seen in their latest version, at most `limit`. */
export const pendingChanges = (db: Store, limit: number): OutboxRow[] => q(db).pending.all({ limit });

export const hasPendingChanges = (db: Store): boolean => q(db).pending.get({ limit: 1 }) !== undefined;

/** The current rows behind outbox entries. */
export function rowsOf(db: Store, pending: OutboxRow[]) {
  const ids = (entity: Entity) => JSON.stringify(pending.filter((e) => e.entity === entity).map((e) => e.entity_id));
  const purchaseIds = ids("purchase");
  const entryIds = ids("entry");
  return {
    ticket: readTicket(db)!,
    purchases: purchaseIds !== "[]" ? q(db).purchasesIn.all({ ids: purchaseIds }) : [],
    entries: entryIds !== "[]" ? q(db).entriesIn.all({ ids: entryIds }) : [],
  };
}

/**
 * D1 now holds `entries` as they were when read, at clock `clock`: entries
 * not changed since are done; the others keep only their later changes.
 * `everything`: they were every pending entry then (the common case), so no
 * list is needed. Returns how many entries advanced (done, or moved past
 * `clock`): none means the flush made no progress.
 */
export function markProjected(db: Store, entries: OutboxRow[], clock: number, everything: boolean): number {
  if (everything) {
    return db.transaction(() => q(db).projectedAll.all({ clock }).length + q(db).changedSinceAll.all({ clock }).length);
  }
  const rows = JSON.stringify(entries.map((e) => [e.entity, e.entity_id]));
  return db.transaction(
    () => q(db).projected.all({ rows, clock }).length + q(db).changedSince.all({ rows, clock }).length,
  );
}

/** Every change up to this version is in D1. */
export function projectedVersion(db: Store): number {
  const oldest = q(db).oldestPending.get()?.since;
  return oldest != null ? oldest - 1 : (readTicket(db)?.clock ?? 0);
}

/** A page of the object's purchases by id, for a full re-projection. */
export const purchasesAfter = (db: Store, afterId: number, limit: number): PurchaseRow[] =>
  db.select().from(purchases).where(gt(purchases.id, afterId)).orderBy(asc(purchases.id)).limit(limit).all();

/** Inside a change: the entries of a purchase just confirmed (their ids: ENTRIES_PER_PURCHASE each). */
export const insertEntries = (
  db: Store,
  purchase: number,
  quantity: number,
  now: string,
  version: number,
  seats: string | null = null, // a seated purchase's seats (JSON): entry n admits to the n-th
): void => {
  q(db).createEntries.run({ purchase, quantity, now, version, seats });
};

// A purchase's refunds, and when the next one is due, as the ticket's store tells them.
export { nextRefundAt, refundsOf } from "../payments/refunder";
