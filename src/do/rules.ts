import type { TicketRow } from "./schema";

// The rules of a ticket, as plain functions of its state: the object applies
// them inside its transactions, and ticket creation checks the same ones.

export type Rejection =
  | { ok: false; code: "not_found" }
  | { ok: false; code: "sales_closed"; sales_start?: string | null; sales_end?: string | null }
  | { ok: false; code: "sold_out"; available: number }
  | { ok: false; code: "user_limit"; max_per_user: number; bought: number }
  | { ok: false; code: "over_max_per_order"; max_per_order: number }
  | { ok: false; code: "key_reused" }
  | { ok: false; code: "stock_below_sold"; sold: number }
  | { ok: false; code: "currency_locked"; sold: number }
  | { ok: false; code: "invalid"; errors: { field: string; message: string }[] }
  // Nothing was done, for certain: the ticket could not be read or no purchase id is left (D1 down), or the order outlived its deadline.
  | { ok: false; code: "unavailable"; reason: string }
  // Nothing was done: too many orders are waiting in this object.
  | { ok: false; code: "overloaded" };

/** Why an order of `quantity` cannot be sold now, given the units the user already holds, or null. */
export function saleRefusal(ticket: TicketRow, now: string, bought: number, quantity: number): Rejection | null {
  if (quantity > ticket.max_per_order) {
    return { ok: false, code: "over_max_per_order", max_per_order: ticket.max_per_order };
  }
  if (!ticket.active) return { ok: false, code: "sales_closed" };
  if ((ticket.sales_start && now < ticket.sales_start) || (ticket.sales_end && now >= ticket.sales_end)) {
    return { ok: false, code: "sales_closed", sales_start: ticket.sales_start, sales_end: ticket.sales_end };
  }
  const available = ticket.stock - ticket.sold;
  if (quantity > available) return { ok: false, code: "sold_out", available };
  if (ticket.max_per_user !== null && bought + quantity > ticket.max_per_user) {
    return { ok: false, code: "user_limit", max_per_user: ticket.max_per_user, bought };
  }
  return null;
}

/** The fields of a ticket an admin may change. */
export type TicketPatch = Partial<
  Pick<
    TicketRow,
    | "name"
    | "description"
    | "type"
    | "price_minor"
    | "currency"
    | "stock"
    | "active"
    | "max_per_order"
    | "max_per_user"
    | "sales_start"
    | "sales_end"
  >
>;

/** Problems with a ticket's own fields, whether being created or changed. */
export function ticketProblems(t: Pick<TicketRow, "sales_start" | "sales_end">): Rejection | null {
  if (t.sales_start && t.sales_end && t.sales_end <= t.sales_start) {
    return { ok: false, code: "invalid", errors: [{ field: "sales_end", message: "must be after sales_start" }] };
  }
  return null;
}

/** Why `patch` cannot be applied to `ticket`, or null. */
export function patchRefusal(ticket: TicketRow, patch: TicketPatch): Rejection | null {
  const next = { ...ticket, ...patch };
  const invalid = ticketProblems(next);
  if (invalid) return invalid;
  if (next.stock < ticket.sold) return { ok: false, code: "stock_below_sold", sold: ticket.sold };
  if (next.currency !== ticket.currency && ticket.sold > 0) {
    return { ok: false, code: "currency_locked", sold: ticket.sold };
  }
  return null;
}
