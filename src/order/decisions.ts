import type { LineDecision, Paid } from "../ticket/lines";
import type { Rejection } from "../ticket/rules";
import type { LineRow, OrderRow, OrderState, OrderStatus } from "./schema";

// What an order's decisions mean for its lines, as plain functions of its state.

/** Why each line could not be held, for the 409 order_refused. */
export interface RefusedLine {
  ticket_id: number;
  code: string;
  available?: number;
  max_per_user?: number;
  bought?: number;
  sales_start?: string | null;
  sales_end?: string | null;
  seats?: string[];
}

export type OrderRejection =
  | Rejection
  | { ok: false; code: "order_refused"; lines: RefusedLine[] }
  | { ok: false; code: "currency_mismatch"; currencies: string[] }
  | { ok: false; code: "order_not_found" }
  | { ok: false; code: "order_invalid_state"; status: OrderStatus };

/** Rejections of a line's hold that mean its ticket did nothing, for certain (the others: it may have). */
export const CERTAIN = new Set([
  "sold_out",
  "sales_closed",
  "user_limit",
  "over_max_per_order",
  "not_found",
  "unavailable",
  "overloaded",
  "invalid",
  "seat_taken",
  "hold_expired",
]);

/** The order's status as shown: its state, but for the steps in between. */
export function statusOf(o: Pick<OrderRow, "state" | "confirmed_at" | "expires_at">): OrderStatus {
  if (o.state === "placing") return "held";
  if (o.state === "refused") return "cancelled";
  if (o.state === "confirming") return "held"; // being confirmed: the answer comes with the decision
  return o.state;
}

/** What every line must act on for the order's state, or null when there is nothing to tell. */
export function decisionFor(o: OrderRow): LineDecision | null {
  switch (o.state) {
    case "placing":
    case "held":
      return null;
    case "refused":
      return { to: "cancelled" };
    case "cancelled":
    case "refunded":
      // A paid order the box office cancelled: lines not yet told of its payment refund their units too.
      // (A late payment's refund is whole, the order's own: its lines were never paid.)
      return { to: "cancelled", paid: o.confirmed_at ? paymentOf(o) : null };
    case "expired":
      return { to: "expired" };
    case "confirming":
      return { to: "confirmed", paid: null };
    case "confirmed":
      return { to: "confirmed", paid: paymentOf(o) };
  }
}

const paymentOf = (o: OrderRow): Paid | null =>
  o.paid_session_id ? { intent: o.payment_intent, session: o.paid_session_id } : null;

/** Whether line `l` has yet to act on the order's state `state`. */
export const undelivered = (l: LineRow, state: OrderState) =>
  l.answer !== "refused" && l.settled !== state && state !== "placing" && state !== "held";

/** The deadline of an order whose lines are held: the shortest hold of its tickets. */
export function deadlineOf(lines: LineRow[], graceSeconds: number): string {
  const ends = Math.min(...lines.map((l) => Date.parse(l.hold_ends!) - graceSeconds * 1000));
  return new Date(ends).toISOString();
}

export const refusedLine = (ticketId: number, r: Rejection): RefusedLine => {
  const { ok: _, code, ...detail } = r as Rejection & Record<string, unknown>;
  const shown = Object.fromEntries(
    Object.entries(detail).filter(([k]) =>
      ["available", "max_per_user", "bought", "sales_start", "sales_end", "seats"].includes(k),
    ),
  );
  return { ticket_id: ticketId, code: code === "not_found" ? "ticket_not_found" : code, ...shown };
};
