import { and, eq, max } from "drizzle-orm";
import type { EventDraft } from "../events/types";
import { entryEvent, purchaseEvent } from "./events";
import { refundUnits } from "./refunds";
import { type Actor, givingBackRefusal, type Rejection } from "./rules";
import {
  ENTRIES_PER_PURCHASE,
  type EntryRow,
  type EntryStatus,
  entries,
  type PurchaseRow,
  scans,
  type TicketRow,
} from "./schema";
import { addUnits, change, type Entity, insertEntries, type Store, updatePurchase } from "./store";

export { ENTRIES_PER_PURCHASE };

// Entries: one per person a confirmed purchase admits, and their scans at the
// gate. Every check-in of an entry goes through its ticket's object, the one
// writer of entry state, so it is admitted once however many scanners race;
// the primary key on scans makes a nonce's answer one row.

export const purchaseOfEntry = (entryId: number) => Math.floor(entryId / ENTRIES_PER_PURCHASE);

export const entriesOf = (db: Store, purchaseId: number): EntryRow[] =>
  db.select().from(entries).where(eq(entries.purchase_id, purchaseId)).orderBy(entries.id).all();

export const findEntry = (db: Store, id: number): EntryRow | undefined =>
  db.select().from(entries).where(eq(entries.id, id)).get();

/**
 * Inside a change: the entries of a purchase just confirmed, one per unit, in
 * one statement. A new entry is valid, which scanners assume of any code they
 * can verify: only its later changes go to the gate's feed.
 */
export function createEntries(db: Store, p: PurchaseRow, now: string, version: number): [Entity, number][] {
  insertEntries(db, p.id, p.quantity, now, version, p.seats);
  return [];
}

/** Inside a change: every entry of a purchase that is not yet in is cancelled with it. */
export function cancelEntriesOf(db: Store, p: PurchaseRow, now: string, version: number): EntryRow[] {
  return db
    .update(entries)
    .set({ status: "cancelled", ended_at: now, updated_at: now, version })
    .where(and(eq(entries.purchase_id, p.id), eq(entries.status, "valid")))
    .returning()
    .all();
}

export const hasCheckedIn = (db: Store, purchaseId: number): boolean =>
  db
    .select({ id: entries.id })
    .from(entries)
    .where(and(eq(entries.purchase_id, purchaseId), eq(entries.status, "checked_in")))
    .get() !== undefined;

/** A scan at the gate: who scanned, with which nonce, where and when (offline scans carry their time). */
export interface Scan {
  entryId: number;
  gameId: number; // as the code claims: it must be the ticket's game
  nonce: string;
  scanner: string;
  gate: string | null;
  scannedAt: string | null; // offline scans only
}

export type ScanReason =
  | "invalid"
  | "wrong_game"
  | "not_confirmed"
  | "cancelled"
  | "revoked"
  | "already_checked_in"
  | "nonce_reused";

export interface ScanAnswer {
  result: "admitted" | "rejected";
  reason?: ScanReason;
  entry: EntryRow | null;
  checked_in_at: string | null;
  first_checked_in_at?: string;
  first_gate?: string | null;
  conflict?: true;
}

export const findScan = (db: Store, scanner: string, nonce: string) =>
  db
    .select()
    .from(scans)
    .where(and(eq(scans.scanner, scanner), eq(scans.nonce, nonce)))
    .get();

/**
 * Decides a scan and records it, with the check-in it makes, in one
 * transaction. `offline`: the scan was made by a gate that could not ask,
 * and the person is already in. Offline, the earliest admission of an entry
 * wins whichever gate uploads first, and an admission made before the entry
 * was cancelled or revoked is an admission: each is recorded and reported
 * as a conflict, never lost.
 */
export function decideScan(
  db: Store,
  t: TicketRow,
  p: PurchaseRow | undefined,
  scan: Scan,
  now: string,
  offline: boolean,
) {
  const e = findEntry(db, scan.entryId);
  const rejected = (reason: ScanReason, extra: Partial<ScanAnswer> = {}): ScanAnswer => ({
    result: "rejected",
    reason,
    entry: e ?? null,
    checked_in_at: e?.checked_in_at ?? null,
    ...extra,
  });
  const at = offline ? scan.scannedAt : null;
  // What the answer writes: a first admission, or a correction of the time and gate of one.
  let write: "admission" | "correction" | null = null;
  let answer: ScanAnswer;
  if (scan.gameId !== t.game_id) answer = rejected("invalid", { entry: null, checked_in_at: null });
  else if (!e) answer = rejected(p && p.status !== "confirmed" ? "not_confirmed" : "invalid");
  else if (p?.status !== "confirmed" && e.status === "valid") answer = rejected("not_confirmed");
  else if (e.checked_in_at !== null && at !== null && at < e.checked_in_at) {
    // An offline admission earlier than the one recorded (uploaded later): the entry keeps the earliest.
    answer = { result: "admitted", entry: e, checked_in_at: at, conflict: true };
    write = "correction";
  } else if (e.checked_in_at !== null) {
    answer = rejected("already_checked_in", {
      first_checked_in_at: e.checked_in_at,
      first_gate: e.checked_in_gate,
      ...(offline ? { conflict: true as const } : {}),
    });
  } else if (e.status === "cancelled" || e.status === "revoked") {
    // Admitted offline before it was cancelled or revoked: the person is in.
    const before = at !== null && e.ended_at !== null && at < e.ended_at;
    answer = before
      ? { result: "admitted", reason: e.status, entry: e, checked_in_at: at, conflict: true }
      : rejected(e.status);
    if (before) write = "admission";
  } else {
    answer = { result: "admitted", entry: e, checked_in_at: at ?? now };
    write = "admission";
  }

  return change(db, (version) => {
    const changed: [Entity, number][] = [];
    const events: EventDraft[] = [];
    if (write && e) {
      const checkIn = (id: number, status: EntryStatus) =>
        db
          .update(entries)
          .set({
            status,
            checked_in_at: answer.checked_in_at,
            checked_in_gate: scan.gate ?? scan.scanner,
            updated_at: now,
            version,
          })
          .where(eq(entries.id, id))
          .returning()
          .get()!;
      answer.entry = checkIn(e.id, e.status === "valid" ? "checked_in" : e.status);
      changed.push(["entry", e.id]);
      if (write === "admission") {
        events.push(
          entryEvent("entry.checked_in", t, answer.entry, p!.user_id, answer.conflict ? { conflict: true } : {}),
        );
        // The code that replaced a revoked one admits nobody more: its unit's holder is in.
        for (
          let next = e.status === "revoked" ? replacementOf(db, e.id) : undefined;
          next;
          next = replacementOf(db, next.id)
        ) {
          if (next.status === "valid") {
            const used = checkIn(next.id, "checked_in");
            changed.push(["entry", next.id]);
            events.push(entryEvent("entry.checked_in", t, used, p!.user_id, { admitted_with: e.id }));
          }
          if (next.status !== "revoked") break;
        }
      }
    }
    db.insert(scans)
      .values({
        scanner: scan.scanner,
        nonce: scan.nonce,
        entry_id: scan.entryId,
        answer: JSON.stringify(answer),
        at: now,
      })
      .run();
    return { result: answer, changed, events };
  });
}

/** The entry a reissue made in place of `id`, if any. */
const replacementOf = (db: Store, id: number): EntryRow | undefined =>
  db.select().from(entries).where(eq(entries.replaces, id)).get();

/** Undoes a check-in (a mistaken scan): the entry is valid again. */
export function undoCheckIn(db: Store, t: TicketRow, p: PurchaseRow, e: EntryRow, now: string): EntryRow {
  return change(db, (version) => {
    const entry = db
      .update(entries)
      .set({ status: "valid", checked_in_at: null, checked_in_gate: null, updated_at: now, version })
      .where(eq(entries.id, e.id))
      .returning()
      .get()!;
    return {
      result: entry,
      changed: [["entry", e.id]],
      events: [entryEvent("entry.check_in_undone", t, entry, p.user_id)],
    };
  });
}

/**
 * Why `actor` cannot cancel entry `e` of purchase `p`, or null; "done" when it
 * is cancelled already (a repeat answers it). Confirmed units go back only
 * through the box office, as a purchase's do (see cancelRefusal).
 */
export function entryCancelRefusal(p: PurchaseRow, e: EntryRow, actor: Actor): Rejection | "done" | null {
  const refused = givingBackRefusal(p, actor);
  if (refused) return refused;
  if (e.status === "cancelled") return "done";
  return entryChangeRefusal(e);
}

/** Why `actor` cannot reissue entry `e` of purchase `p` (a new code for it), or null. */
export function entryReissueRefusal(p: PurchaseRow, e: EntryRow, actor: Actor): Rejection | null {
  if (actor.role === "user" && actor.id !== p.user_id) {
    return { ok: false, code: "forbidden", reason: "You may only change your own entries." };
  }
  return entryChangeRefusal(e);
}

const entryChangeRefusal = (e: EntryRow): Rejection | null => {
  if (e.status === "checked_in") return { ok: false, code: "checked_in" };
  if (e.status !== "valid") return { ok: false, code: "invalid_entry_state", status: e.status };
  return null;
};

/**
 * Cancels one entry before its check-in: one unit goes back to the ticket,
 * and its price is to be refunded if it was paid through Stripe; a purchase
 * whose entries are all cancelled is cancelled too.
 */
export function cancelEntry(db: Store, t: TicketRow, p: PurchaseRow, e: EntryRow, now: string) {
  return change(db, (version) => {
    const entry = db
      .update(entries)
      .set({ status: "cancelled", ended_at: now, updated_at: now, version })
      .where(eq(entries.id, e.id))
      .returning()
      .get()!;
    const allGone = p.returned + 1 === p.quantity;
    const purchase = updatePurchase(db, p.id, {
      returned: p.returned + 1,
      version,
      ...(allGone ? { status: "cancelled" as const, cancelled_at: now } : {}),
    });
    addUnits(db, { sold: -1 }, now, version);
    refundUnits(db, p, 1, "entry_cancelled", now);
    return {
      result: { entry, purchase },
      changed: [
        ["ticket", t.id],
        ["purchase", p.id],
        ["entry", e.id],
      ],
      events: [
        entryEvent("entry.cancelled", t, entry, p.user_id),
        ...(allGone ? [purchaseEvent("purchase.cancelled", t, purchase)] : []),
      ],
    };
  });
}

/** A purchase's last entry id (with none yet: the one before its first). */
const lastEntryId = (db: Store, purchaseId: number) =>
  db
    .select({ id: max(entries.id) })
    .from(entries)
    .where(eq(entries.purchase_id, purchaseId))
    .get()?.id ?? purchaseId * ENTRIES_PER_PURCHASE;

/** Whether a purchase has an entry id left for one more reissued code. */
export const canReissue = (db: Store, purchaseId: number) =>
  lastEntryId(db, purchaseId) + 1 < (purchaseId + 1) * ENTRIES_PER_PURCHASE;

/** Whether a purchase has entry ids left for its units' entries (again, for a line taken again). */
export const hasEntryIds = (db: Store, p: PurchaseRow) =>
  lastEntryId(db, p.id) + p.quantity < (p.id + 1) * ENTRIES_PER_PURCHASE;

/** A new code for an entry (a lost phone, a friend): the old entry is revoked, a new one takes its place. */
export function reissueEntry(db: Store, t: TicketRow, p: PurchaseRow, e: EntryRow, now: string): EntryRow {
  return change(db, (version) => {
    const last = lastEntryId(db, e.purchase_id);
    db.update(entries)
      .set({ status: "revoked", ended_at: now, updated_at: now, version })
      .where(eq(entries.id, e.id))
      .run();
    const fresh = db
      .insert(entries)
      .values({
        id: last + 1,
        purchase_id: e.purchase_id,
        replaces: e.id,
        seat: e.seat,
        created_at: now,
        updated_at: now,
        version,
      })
      .returning()
      .get();
    return {
      result: fresh,
      changed: [["entry", e.id]], // the new entry is valid: scanners need not hear of it
      events: [entryEvent("entry.reissued", t, fresh, p.user_id, { replaces: e.id })],
    };
  });
}
