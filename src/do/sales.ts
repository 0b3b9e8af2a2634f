import { getTableColumns } from "drizzle-orm";
import type { IdempotencyKey } from "../db/queries";
import type { TicketPatch } from "./rules";
import { idBlocks, type PurchaseRow, purchases, type TicketRow, ticket } from "./schema";
import { addSold, change, insertPurchase, type Store, takeId } from "./store";

// The writes that change a ticket: each one transaction in the object's
// SQLite, outbox entries included. The caller has already decided, against
// the same synchronous state, that the change is allowed.

export interface Sale {
  user_id: number;
  quantity: number;
  idempotency?: IdempotencyKey;
}

/** A sale's purchase, and how many ids are left in the block its id came from. */
export interface Sold {
  purchase: PurchaseRow;
  idsLeft: number;
}

const NO_IDS = new Error("no purchase id reserved");

/** Sells `sale` at the ticket's current price; undefined when no purchase id is reserved. */
export function recordSale(db: Store, t: TicketRow, sale: Sale, now: string): Sold | undefined {
  try {
    return change(db, (version) => {
      const taken = takeId(db);
      if (!taken) throw NO_IDS; // rolls the transaction back: nothing was written
      const purchase = insertPurchase(db, {
        id: taken.id,
        user_id: sale.user_id,
        quantity: sale.quantity,
        unit_price_minor: t.price_minor,
        total_price_minor: t.price_minor * sale.quantity,
        currency: t.currency,
        created_at: now,
        version,
        idem_principal: sale.idempotency?.principal ?? null,
        idem_key: sale.idempotency?.key ?? null,
        idem_hash: sale.idempotency?.hash ?? null,
      });
      addSold(db, sale.quantity, now, version);
      return {
        result: { purchase, idsLeft: taken.left },
        changed: [
          ["ticket", t.id],
          ["purchase", taken.id],
        ],
      };
    });
  } catch (err) {
    if (err === NO_IDS) return undefined;
    throw err;
  }
}

/** Applies an admin's change to the ticket's fields. */
export function applyPatch(db: Store, t: TicketRow, patch: TicketPatch, now: string): TicketRow {
  return change(db, (version) => ({
    result: db
      .update(ticket)
      .set({ ...patch, updated_at: now, version })
      .returning()
      .get()!,
    changed: [["ticket", t.id]],
  }));
}

const pick = <T extends object>(row: Record<string, unknown>, columns: T) =>
  Object.fromEntries(Object.keys(columns).map((k) => [k, row[k]])) as { [K in keyof T]: unknown };

/**
 * Takes ownership of a ticket as D1 holds it: the row, the purchases made
 * before objects owned their tickets (with their idempotency keys), and a
 * first block of purchase ids. From here on the object's copy wins.
 */
export function adoptTicket(
  db: Store,
  row: Record<string, unknown> & { version: number },
  earlier: (Record<string, unknown> & { version: number })[],
  ids: { start: number; end: number },
): void {
  const { clock: _, ...ticketColumns } = getTableColumns(ticket);
  const purchaseColumns = getTableColumns(purchases);
  // New versions must pass every version D1 already holds, or the projection would skip them.
  const clock = Math.max(row.version, ...earlier.map((p) => p.version));
  db.transaction((tx) => {
    tx.insert(ticket)
      .values({ ...(pick(row, ticketColumns) as TicketRow), clock })
      .run();
    // The object's SQLite binds at most 100 parameters per statement.
    const perStatement = Math.floor(100 / Object.keys(purchaseColumns).length);
    for (let i = 0; i < earlier.length; i += perStatement) {
      tx.insert(purchases)
        .values(earlier.slice(i, i + perStatement).map((p) => pick(p, purchaseColumns) as PurchaseRow))
        .run();
    }
    tx.insert(idBlocks).values({ next: ids.start, end: ids.end }).run();
  });
}
