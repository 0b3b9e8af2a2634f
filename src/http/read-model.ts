import type { Context } from "hono";
import * as q from "../db/queries";
import { purchaseOfEntry } from "../ticket/entries";
import type { AppEnv } from "./context";
import { notFound, unavailable } from "./problem";

/**
 * A read of the read model (D1) in the request's replica session. If that
 * fails with a client's bookmark (one D1 cannot serve), it is asked of the
 * primary, always fresh enough. D1 failing is a 503 (nothing was changed), never a 500.
 */
export async function read<T>(c: Context<AppEnv>, query: (db: q.Db) => PromiseLike<T>): Promise<T> {
  const d1 = c.get("d1");
  try {
    return await query(q.database(d1.replica));
  } catch (err) {
    if (d1.given) {
      d1.replicaFailed();
      try {
        return await query(q.database(d1.primary));
      } catch {}
    }
    console.error(JSON.stringify({ level: "error", message: "read model query failed", error: String(err) }));
    throw unavailable("The read model is unavailable; nothing was changed. Retry shortly.");
  }
}

/**
 * The ticket whose object holds a purchase (from the id block it came from).
 * A block a replica does not have yet may be brand new: the primary decides a 404.
 */
export async function ticketHolding(c: Context<AppEnv>, purchaseId: number): Promise<number | undefined> {
  return (
    (await read(c, (db) => q.ticketOfPurchase(db, purchaseId))) ??
    (await read(c, () => q.ticketOfPurchase(q.database(c.get("d1").primary), purchaseId)))
  );
}

export async function ticketOfPurchase(c: Context<AppEnv>, purchaseId: number): Promise<number> {
  const ticketId = await ticketHolding(c, purchaseId);
  if (ticketId === undefined) throw notFound("No purchase has this id.");
  c.set("ticketId", ticketId);
  return ticketId;
}

/** The ticket whose object holds an entry (through its purchase). */
export async function ticketOfEntry(c: Context<AppEnv>, entryId: number): Promise<number> {
  const ticketId = await ticketHolding(c, purchaseOfEntry(entryId));
  if (ticketId === undefined) throw notFound("No entry has this id.");
  c.set("ticketId", ticketId);
  return ticketId;
}
