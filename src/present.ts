import type { SeatCounts } from "./db/schema";
import { signCode } from "./gate/codes";
import { entryKeys } from "./gate/keys";
import type { EntryRow, RefundRow, TicketRow } from "./ticket/schema";
import type { Purchase } from "./ticket/ticket-seller";

// The API's view of stored rows (the object's, or D1's projection of them):
// money back to decimal units, derived fields added.

const money = (minor: number) => minor / 100;

/**
 * A ticket as the API shows it. A seated one's counts are its categories'
 * seats over the game's blocks (`seats`, from D1); without them (a webhook
 * event, drafted by the ticket's object), its own units: sold and held, and
 * their sum as its stock.
 */
export const toTicket = (row: Omit<TicketRow, "clock">, seats?: SeatCounts) => {
  const shown = unseatedTicket(row);
  if (row.seating === null) return shown;
  const seating = JSON.parse(row.seating) as { categories: string[] };
  const counts = { stock: row.sold + row.held, sold: row.sold, held: row.held, available: 0 };
  if (seats) {
    counts.stock = counts.sold = counts.held = counts.available = 0;
    for (const category of seating.categories) {
      const c = seats[category];
      if (!c) continue;
      counts.sold += c.sold;
      counts.held += c.held;
      counts.available += c.free;
      counts.stock += c.free + c.held + c.sold;
    }
  }
  const { created_at, updated_at, ...rest } = shown;
  return { ...rest, ...counts, seating: { categories: seating.categories }, created_at, updated_at };
};

const unseatedTicket = (row: Omit<TicketRow, "clock">) => ({
  id: row.id,
  game_id: row.game_id,
  name: row.name,
  description: row.description,
  type: row.type,
  price: money(row.price_minor),
  currency: row.currency,
  stock: row.stock,
  sold: row.sold,
  held: row.held,
  available: row.stock - row.sold - row.held,
  max_per_order: row.max_per_order,
  max_per_user: row.max_per_user,
  hold_seconds: row.hold_seconds,
  active: row.active,
  sales_start: row.sales_start,
  sales_end: row.sales_end,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

/** A seat's id as its parts (ids of parts have no "-"). */
export const toSeat = (id: string) => {
  const [block, row, seat] = id.split("-") as [string, string, string];
  return { block, row, seat };
};

/** The fields of a purchase the API shows: the object's row, or D1's projection of it. */
type PurchaseView = Pick<
  Purchase,
  | "id"
  | "user_id"
  | "ticket_id"
  | "game_id"
  | "quantity"
  | "unit_price_minor"
  | "total_price_minor"
  | "currency"
  | "status"
  | "expires_at"
  | "confirmed_at"
  | "cancelled_at"
  | "created_at"
  | "seats"
>;

export const toPurchase = (row: PurchaseView) => ({
  id: row.id,
  user_id: row.user_id,
  ticket_id: row.ticket_id,
  game_id: row.game_id,
  quantity: row.quantity,
  unit_price: money(row.unit_price_minor),
  total_price: money(row.total_price_minor),
  currency: row.currency,
  status: row.status,
  expires_at: row.expires_at,
  confirmed_at: row.confirmed_at,
  cancelled_at: row.cancelled_at,
  created_at: row.created_at,
  ...(row.seats ? { seats: JSON.parse(row.seats) as string[] } : {}),
});

/** A purchase as its ticket's object holds it, with what was given back of it. */
export const toPurchaseDetail = (row: PurchaseView & Pick<Purchase, "refunded_minor">, refunds: RefundRow[]) => ({
  ...toPurchase(row),
  refunded_price: money(row.refunded_minor),
  refunds: refunds.map(toRefund),
});

/** A refund of a purchase, as its owner and the admin see it. */
export const toRefund = (r: RefundRow) => ({
  amount: money(r.amount_minor),
  currency: r.currency,
  reason: r.reason,
  status: r.status,
  created_at: r.created_at,
  refunded_at: r.refunded_at,
});

/**
 * An entry as its holder sees it, with the code to show at the gate: signed
 * now (Ed25519 is deterministic, so the same code every time), for entries
 * that can still be used; null once cancelled or revoked, or without a key.
 */
export async function toEntry(env: Env, e: EntryRow, where: { ticket_id: number; game_id: number }) {
  const key = entryKeys(env).signing;
  const usable = e.status === "valid" || e.status === "checked_in";
  return {
    id: e.id,
    purchase_id: e.purchase_id,
    code:
      key && usable ? await signCode(key, { entryId: e.id, ticketId: where.ticket_id, gameId: where.game_id }) : null,
    status: e.status,
    checked_in_at: e.checked_in_at,
    ...(e.seat ? { seat: toSeat(e.seat) } : {}),
  };
}

/** An entry as a scan's answer shows it: no code (the scanner has it). */
export const toScannedEntry = (e: EntryRow, where: { ticket_id: number; game_id: number }) => ({
  id: e.id,
  purchase_id: e.purchase_id,
  ticket_id: where.ticket_id,
  game_id: where.game_id,
  status: e.status,
  checked_in_at: e.checked_in_at,
  checked_in_gate: e.checked_in_gate,
  ...(e.seat ? { seat: toSeat(e.seat) } : {}),
});
