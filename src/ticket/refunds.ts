import { insertRefund, markRefunded } from "../payments/refunder";
import { purchaseEvent } from "./events";
import type { PurchaseRow, RefundReason, RefundRow, TicketRow } from "./schema";
import { change, findPurchase, type Store, updatePurchase } from "./store";

// A ticket's refunds: what its purchases give back (src/payments/refunder.ts
// makes them through Stripe), decided in the change that gives units back.

/** Inside a change: `units` of a purchase paid through Stripe go back, so their price is to be refunded. */
export function refundUnits(db: Store, p: PurchaseRow, units: number, reason: RefundReason, now: string): void {
  // Not paid through Stripe (purchases paid before sessions were recorded have their intent): nothing to give back.
  if ((!p.paid_session_id && !p.payment_intent) || units === 0) return;
  insertRefund(db, {
    purchase_id: p.id,
    reason,
    payment_intent: p.payment_intent,
    session_id: p.paid_session_id,
    amount_minor: units * p.unit_price_minor,
    currency: p.currency,
    created_at: now,
  });
}

/**
 * Stripe has made a refund: it is recorded, and counted on its purchase
 * (unless it gave back a second payment, which was never the purchase's). A
 * purchase that holds no units and has all its price back ends `refunded`.
 */
export function settleRefund(db: Store, t: TicketRow, r: RefundRow, stripeId: string, now: string): PurchaseRow {
  return change(db, (version) => {
    markRefunded(db, r, stripeId, now);
    const p = findPurchase(db, r.purchase_id)!;
    const refunded = p.refunded_minor + (r.reason === "second_payment" ? 0 : r.amount_minor);
    const ended = (p.status === "cancelled" || p.status === "expired") && refunded >= p.total_price_minor;
    const row = updatePurchase(db, p.id, {
      refund_id: stripeId,
      refunded_minor: refunded,
      ...(ended ? { status: "refunded" as const } : {}),
      version,
    });
    const events = ended ? [purchaseEvent("purchase.refunded", t, row)] : [];
    if (!ended && refunded !== p.refunded_minor) events.push(purchaseEvent("purchase.updated", t, row));
    return { result: row, changed: [["purchase", p.id]], events };
  });
}
