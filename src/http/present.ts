import type { TicketRow } from "../do/schema";
import type { Purchase } from "../do/ticket-seller";

// The API's view of stored rows (the object's, or D1's projection of them):
// money back to decimal units, derived fields added.

const money = (minor: number) => minor / 100;

export const toTicket = (row: Omit<TicketRow, "clock">) => ({
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
});
