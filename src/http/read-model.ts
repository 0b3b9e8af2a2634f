import type { Context } from "hono";
import * as q from "../db/queries";
import { purchaseOfEntry } from "../do/entries";
import type { AppEnv } from "./context";
import { notFound, unavailable } from "./problem";

/** A read of the read model (D1): D1 failing is a 503 (nothing was changed), never a 500. */
export async function read<T>(query: PromiseLike<T>): Promise<T> {
  try {
    return await query;
  } catch (err) {
    console.error(JSON.stringify({ level: "error", message: "read model query failed", error: String(err) }));
    throw unavailable("The read model is unavailable; nothing was changed. Retry shortly.");
  }
}

/** The ticket whose object holds a purchase (from the id block it came from). */
export async function ticketOfPurchase(c: Context<AppEnv>, purchaseId: number): Promise<number> {
  const ticketId = await read(q.ticketOfPurchase(q.database(c.env.DB), purchaseId));
  if (ticketId === undefined) throw notFound("No purchase has this id.");
  c.set("ticketId", ticketId);
  return ticketId;
}

/** The ticket whose object holds an entry (through its purchase). */
export async function ticketOfEntry(c: Context<AppEnv>, entryId: number): Promise<number> {
  const ticketId = await read(q.ticketOfPurchase(q.database(c.env.DB), purchaseOfEntry(entryId)));
  if (ticketId === undefined) throw notFound("No entry has this id.");
  c.set("ticketId", ticketId);
  return ticketId;
}
