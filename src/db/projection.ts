import { and, eq, getTableColumns, gte, lte, sql } from "drizzle-orm";
import type { LineRow, OrderRow, OrderStatus } from "../order/schema";
import {
  type EntryRow as ObjectEntry,
  type PurchaseRow as ObjectPurchase,
  type TicketRow as ObjectTicket,
  ticket as objectTicket,
} from "../ticket/schema";
import { database } from "./queries";
import { purchases } from "./schema";

// How the ticket objects write their rows into D1: idempotent upserts that
// only ever replace a row with a newer version of it, so a write repeated
// after a lost answer, or arriving late, changes nothing. Each function gives
// D1 statements, for one D1 batch (one transaction).

/** D1, or a session of it: the projection takes the session's bookmark back to the writer. */
type D1 = D1Database | D1DatabaseSession;

/** `newer`: the projection of changes. `repair`: a resync, which rewrites D1's rows whatever their versions. */
export type Mode = "newer" | "repair";

// A repair rewrites whatever D1 holds, whatever its version: the object is the
// truth. A resync runs alone, but its batch may land late, after the flushes
// that followed it: each repair statement is fenced by the object's clock it
// was read at, and each flush moves D1's `projected_clock` past its own.
const fence = (ticketParam: string, clockParam: string) =>
  `coalesce((SELECT "projected_clock" FROM "tickets" WHERE "id" = ${ticketParam}), 0) <= ${clockParam}`;

const statement = (d1: D1, query: { toSQL(): { sql: string; params: unknown[] } }) => {
  const { sql: text, params } = query.toSQL();
  return d1.prepare(text).bind(...params);
};

// The ticket's columns D1 shares with the object (all but the object's clock), in one fixed statement per
// mode: a flush, which runs after nearly every sale in a rush, builds no query.
const ticketColumns = Object.keys(getTableColumns(objectTicket)).filter((c) => c !== "clock");
const clockParam = `?${ticketColumns.length + 1}`;
const upsertTicketSql = (mode: Mode) =>
  `INSERT INTO "tickets" (${ticketColumns.map((c) => `"${c}"`).join(", ")}, "projected_clock") ` +
  `SELECT ${ticketColumns.map((_, i) => `?${i + 1}`).join(", ")}, ${clockParam} ` +
  `WHERE ${mode === "repair" ? fence("?1", clockParam) : "true"} ON CONFLICT ("id") DO UPDATE SET ` +
  ticketColumns
    .filter((c) => c !== "id")
    .map((c) => `"${c}" = excluded."${c}"`)
    .join(", ") +
  `, "projected_clock" = max("tickets"."projected_clock", excluded."projected_clock")` +
  (mode === "newer" ? ` WHERE excluded."version" > "tickets"."version"` : "");
const upsertTicketSqls = { newer: upsertTicketSql("newer"), repair: upsertTicketSql("repair") };

/** The ticket's row (and, at D1's projected_clock, how far D1 has the object: its clock). */
export function upsertTicket(d1: D1, row: ObjectTicket, mode: Mode = "newer"): D1PreparedStatement {
  const values = ticketColumns.map((c) => {
    const v = row[c as keyof ObjectTicket];
    return typeof v === "boolean" ? Number(v) : v;
  });
  return d1.prepare(upsertTicketSqls[mode]).bind(...values, row.clock);
}

/** Every flush: D1 has the object up to its clock (the fence of a resync batch that might land late). */
export const advanceClock = (d1: D1, ticketId: number, clock: number): D1PreparedStatement =>
  d1
    .prepare(`UPDATE "tickets" SET "projected_clock" = max("projected_clock", ?2) WHERE "id" = ?1`)
    .bind(ticketId, clock);

// Every column of a D1 purchase: the object's rows carry all but the ticket and game.
const purchaseColumns = Object.keys(getTableColumns(purchases));
const quoted = purchaseColumns.map((c) => `"${c}"`).join(", ");
const fromJson = purchaseColumns
  .map((c) => (c === "ticket_id" ? "?1" : c === "game_id" ? "?2" : `j.value ->> '${c}'`))
  .join(", ");
const updates = purchaseColumns
  .filter((c) => c !== "id")
  .map((c) => `"${c}" = excluded."${c}"`)
  .join(", ");
// A row of another ticket with the same id is never taken over (ids are unique across tickets; this is the guard).
const upsertPurchasesSql = (mode: Mode) =>
  `INSERT INTO "purchases" (${quoted}) SELECT ${fromJson} FROM json_each(?3) AS j ` +
  `WHERE ${mode === "repair" ? fence("?1", "?4") : "true"} ` +
  `ON CONFLICT ("id") DO UPDATE SET ${updates} WHERE "purchases"."ticket_id" = excluded."ticket_id"` +
  (mode === "newer" ? ` AND excluded."version" > "purchases"."version"` : "");

/**
 * Upserts the object's purchases in one statement, however many: the rows go
 * as one JSON parameter (D1 binds at most 100) and SQLite unpacks them.
 */
export function upsertPurchases(
  d1: D1,
  ticket: { id: number; game_id: number; clock: number },
  rows: ObjectPurchase[],
  mode: Mode = "newer",
): D1PreparedStatement[] {
  if (rows.length === 0) return [];
  const params = [ticket.id, ticket.game_id, JSON.stringify(rows), ...(mode === "repair" ? [ticket.clock] : [])];
  return [d1.prepare(upsertPurchasesSql(mode)).bind(...params)];
}

/** A resync's: deletes the ticket's D1 purchases with ids in [from, to] that the object (at `clock`) does not have. */
export function deleteOtherPurchases(
  d1: D1,
  ticket: { id: number; clock: number },
  from: number,
  to: number,
  keep: number[],
) {
  return statement(
    d1,
    database(d1)
      .delete(purchases)
      .where(
        and(
          eq(purchases.ticket_id, ticket.id),
          gte(purchases.id, from),
          lte(purchases.id, to),
          sql`${purchases.id} NOT IN (SELECT value FROM json_each(${JSON.stringify(keep)}))`,
          sql`coalesce((SELECT "projected_clock" FROM "tickets" WHERE "id" = ${ticket.id}), 0) <= ${ticket.clock}`,
        ),
      ),
  );
}

/** Appends the entries' new states to the gate's feed: once per entry and version. */
export function insertEntryChanges(
  d1: D1,
  ticket: { id: number; game_id: number },
  rows: ObjectEntry[],
): D1PreparedStatement[] {
  if (rows.length === 0) return [];
  return [
    d1
      .prepare(
        `INSERT INTO "entry_changes" ("entry_id", "ticket_id", "game_id", "status", "checked_in_at", "checked_in_gate", "version") ` +
          `SELECT j.value ->> 'id', ?1, ?2, j.value ->> 'status', j.value ->> 'checked_in_at', j.value ->> 'checked_in_gate', j.value ->> 'version' ` +
          // A write that lands late (after a timeout and a newer flush) must not put an older state last.
          `FROM json_each(?3) AS j WHERE NOT EXISTS (SELECT 1 FROM "entry_changes" AS c ` +
          `WHERE c."entry_id" = j.value ->> 'id' AND c."version" >= j.value ->> 'version') ` +
          `ON CONFLICT ("entry_id", "version") DO NOTHING`,
      )
      .bind(ticket.id, ticket.game_id, JSON.stringify(rows)),
  ];
}

/** An order as its object holds it, replacing only an older version of it. */
export function upsertOrder(
  d1: D1,
  o: Pick<
    OrderRow,
    | "id"
    | "user_id"
    | "currency"
    | "total_minor"
    | "refunded_minor"
    | "created_at"
    | "expires_at"
    | "confirmed_at"
    | "cancelled_at"
    | "version"
  > & { status: OrderStatus },
  lines: LineRow[],
): D1PreparedStatement {
  const shown = lines.map((l) => ({
    ticket_id: l.ticket_id,
    game_id: l.game_id,
    name: l.name,
    type: l.type,
    quantity: l.quantity,
    unit_price_minor: l.unit_price_minor,
    purchase_id: l.purchase_id,
    ...(l.seats ? { seats: JSON.parse(l.seats) as string[] } : {}),
  }));
  return d1
    .prepare(
      `INSERT INTO "orders" ("id", "user_id", "status", "currency", "total_minor", "refunded_minor", "lines", "created_at", "expires_at", "confirmed_at", "cancelled_at", "version") ` +
        `VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT ("id") DO UPDATE SET ` +
        `"status" = excluded."status", "currency" = excluded."currency", "total_minor" = excluded."total_minor", ` +
        `"refunded_minor" = excluded."refunded_minor", "lines" = excluded."lines", "expires_at" = excluded."expires_at", ` +
        `"confirmed_at" = excluded."confirmed_at", "cancelled_at" = excluded."cancelled_at", "version" = excluded."version" ` +
        `WHERE excluded."version" > "orders"."version"`,
    )
    .bind(
      o.id,
      o.user_id,
      o.status,
      o.currency,
      o.total_minor,
      o.refunded_minor,
      JSON.stringify(shown),
      o.created_at,
      o.status === "held" ? o.expires_at : null,
      o.confirmed_at,
      o.cancelled_at,
      o.version,
    );
}
