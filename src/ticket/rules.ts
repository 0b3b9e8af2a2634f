import type { EntryStatus, PurchaseRow, PurchaseStatus, TicketRow } from "./schema";

// The rules of a ticket, as plain functions of its state: the object applies
// them inside its transactions, and ticket creation checks the same ones.

export type Rejection =
  | { ok: false; code: "not_found" }
  | { ok: false; code: "purchase_not_found" }
  | { ok: false; code: "sales_closed"; sales_start?: string | null; sales_end?: string | null }
  | { ok: false; code: "sold_out"; available: number }
  // Seats asked for by id that are held, sold or blocked.
  | { ok: false; code: "seat_taken"; seats: string[] }
  | { ok: false; code: "user_limit"; max_per_user: number; bought: number }
  | { ok: false; code: "over_max_per_order"; max_per_order: number }
  | { ok: false; code: "key_reused" }
  | { ok: false; code: "stock_below_sold"; sold: number; held: number }
  | { ok: false; code: "currency_locked"; sold: number; held: number }
  | { ok: false; code: "hold_expired"; available: number }
  | { ok: false; code: "invalid_state"; status: PurchaseStatus }
  | { ok: false; code: "forbidden"; reason: string }
  | { ok: false; code: "entry_not_found" }
  | { ok: false; code: "checked_in" }
  | { ok: false; code: "invalid_entry_state"; status: EntryStatus }
  | { ok: false; code: "reissue_limit" }
  // Stripe cannot charge this amount in this currency: under its minimum, or cents in a currency without them.
  | {
      ok: false;
      code: "not_chargeable";
      currency: string;
      reason: "below_minimum" | "fractional";
      minimum_minor?: number;
    }
  // Its payment is given back (or being given back): it cannot take units again.
  | { ok: false; code: "payment_refunded" }
  // A line of an order: its order decides for it.
  | { ok: false; code: "part_of_order"; order_id: string }
  // The payment provider failed; a retry asks it again the same way (idempotently).
  | { ok: false; code: "payment_provider"; reason: string }
  | { ok: false; code: "invalid"; errors: { field: string; message: string }[] }
  // Nothing was done, for certain: the ticket could not be read or no purchase id is left (D1 down), or the order outlived its deadline.
  | { ok: false; code: "unavailable"; reason: string }
  // Something may have been done: safe to repeat.
  | { ok: false; code: "outcome_unknown"; reason: string }
  // Nothing was done: too many orders are waiting in this object.
  | { ok: false; code: "overloaded" };

/** A line of an order is confirmed, cancelled and paid for through its order only. */
export const orderRefusal = (p: PurchaseRow): Rejection | null =>
  p.order_id ? { ok: false, code: "part_of_order", order_id: p.order_id } : null;

/** Units that can still be sold or held. */
export const available = (t: TicketRow) => t.stock - t.sold - t.held;

/** Units the user holds: held and confirmed count against max_per_user. */
export const COUNTED: PurchaseStatus[] = ["held", "confirmed"];

/** Why an order of `quantity` cannot be sold (or held) now, given the units the user already holds, or null. */
export function saleRefusal(ticket: TicketRow, now: string, bought: number, quantity: number): Rejection | null {
  if (quantity > ticket.max_per_order) {
    return { ok: false, code: "over_max_per_order", max_per_order: ticket.max_per_order };
  }
  if (!ticket.active) return { ok: false, code: "sales_closed" };
  if ((ticket.sales_start && now < ticket.sales_start) || (ticket.sales_end && now >= ticket.sales_end)) {
    return { ok: false, code: "sales_closed", sales_start: ticket.sales_start, sales_end: ticket.sales_end };
  }
  if (quantity > available(ticket)) return { ok: false, code: "sold_out", available: available(ticket) };
  if (ticket.max_per_user !== null && bought + quantity > ticket.max_per_user) {
    return { ok: false, code: "user_limit", max_per_user: ticket.max_per_user, bought };
  }
  return null;
}

/** Who asks for a change to a purchase. */
export type Actor = { role: "admin" } | { role: "user"; id: number };

/**
 * Whether `p` can be confirmed (payment received): null when it can, "done"
 * when it already is. A hold that ended is confirmed anyway if its units can
 * be taken again, unless a payment for it is being given back.
 */
export function confirmRefusal(
  t: TicketRow,
  p: PurchaseRow,
  bought: number,
  refunds: readonly unknown[],
): Rejection | "done" | null {
  if (p.status === "confirmed") return "done";
  if (p.status === "held") return null;
  if (p.status !== "expired") return { ok: false, code: "invalid_state", status: p.status };
  if (refunds.length > 0) return { ok: false, code: "payment_refunded" };
  return retakeRefusal(t, p, bought);
}

/**
 * Whether a purchase whose hold ended can take its units again: they must be
 * free, and the buyer (holding `bought` units now) must stay within max_per_user.
 */
export function retakeRefusal(t: TicketRow, p: PurchaseRow, bought: number): Rejection | null {
  // A seat hold that ended is not taken again: its seats went back on sale, and may be someone else's now.
  if (p.seats !== null) return { ok: false, code: "hold_expired", available: 0 };
  if (p.quantity > available(t)) return { ok: false, code: "hold_expired", available: available(t) };
  if (t.max_per_user !== null && bought + p.quantity > t.max_per_user) {
    return { ok: false, code: "user_limit", max_per_user: t.max_per_user, bought };
  }
  return null;
}

/** Whether `actor` can cancel `p`: its owner while held, the admin while held or confirmed. */
export function cancelRefusal(p: PurchaseRow, actor: Actor): Rejection | "done" | null {
  if (actor.role === "user" && actor.id !== p.user_id) {
    return { ok: false, code: "forbidden", reason: "You may only cancel your own purchases." };
  }
  // Cancelled, and refunded since: a repeat answers it.
  if (p.status === "cancelled" || (p.status === "refunded" && p.cancelled_at !== null)) return "done";
  if (p.status === "held") return null;
  if (p.status === "confirmed") return givingBackRefusal(p, actor);
  return { ok: false, code: "invalid_state", status: p.status };
}

/**
 * The one rule for confirmed units going back (a purchase, or one of its
 * entries): only the box office (the admin) gives them back, refunding what
 * was paid for them through Stripe.
 */
export function givingBackRefusal(p: PurchaseRow, actor: Actor): Rejection | null {
  if (actor.role === "admin") return null;
  if (actor.id !== p.user_id) return { ok: false, code: "forbidden", reason: "You may only change your own entries." };
  return {
    ok: false,
    code: "forbidden",
    reason: "Confirmed units are given back by the box office, which refunds them.",
  };
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
    | "hold_seconds"
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
  const { sold, held } = ticket;
  if (ticket.seating !== null && patch.stock !== undefined) {
    return {
      ok: false,
      code: "invalid",
      errors: [{ field: "stock", message: "a seated ticket's stock is its seats" }],
    };
  }
  if (next.stock < sold + held) return { ok: false, code: "stock_below_sold", sold, held };
  if (next.currency !== ticket.currency && sold + held > 0) return { ok: false, code: "currency_locked", sold, held };
  return null;
}
