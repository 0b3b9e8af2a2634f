import { chargeRefusal } from "../payments/amounts";
import type { ReturnUrls } from "../payments/checkout";
import { insertRefund } from "../payments/refunder";
import type { CheckoutRequest, PaymentEvent } from "../payments/stripe";
import { logError } from "./backoff";
import { entriesOf } from "./entries";
import { type Rejection, retakeRefusal } from "./rules";
import { cancelPurchase, confirmPurchase } from "./sales";
import type { PurchaseRow, TicketRow } from "./schema";
import { findPurchase, markEventHandled, refundsOf, type Store, unitsOf, wasHandled } from "./store";

// What a verified Stripe Checkout event does to a purchase, decided against
// the object's state and written in one transaction, once per event id.

export type PaymentResult = "confirmed" | "cancelled" | "refunded" | "ignored";
export interface PaymentDecision {
  result: PaymentResult;
  /** The purchase as changed, when it was. */
  p?: PurchaseRow;
}

/**
 * A paid session confirms a held purchase, or one whose hold ended or was
 * cancelled before it confirmed anything, if its units can be taken again in
 * the ticket's current currency; any other payment is given back: the refund
 * is recorded with the event, before Stripe is asked, and stays the decision
 * however often Stripe delivers the event again. An expired session cancels
 * the hold it was started for.
 */
export function decidePayment(db: Store, t: TicketRow, event: PaymentEvent, now: string): PaymentDecision {
  if (wasHandled(db, event.id)) return { result: "ignored" };
  const ignore = (): PaymentDecision => {
    markEventHandled(db, event.id, now);
    return { result: "ignored" };
  };
  const p = findPurchase(db, event.purchaseId);
  if (!p) return ignore();
  const ours = p.checkout_session_id === event.sessionId;
  if (event.type === "checkout.session.expired") {
    // A session never recorded (its answer was lost) ends nothing: the hold ends at its own time.
    if (!ours || p.status !== "held") return ignore();
    return { result: "cancelled", p: cancelPurchase(db, t, p, now, event.id) };
  }
  if (!event.paid) return ignore();
  // A session we did not record (a lost answer, or a storefront's own) pays for the purchase if it charged its price.
  if (!ours && (event.amountMinor !== p.total_price_minor || event.currency !== p.currency)) {
    logError(
      "payment ignored: its session is not the purchase's and charged another amount",
      {
        purchase_id: p.id,
        session: event.sessionId,
        amount_minor: event.amountMinor,
        currency: event.currency,
      },
      null,
    );
    return ignore();
  }
  const refunds = refundsOf(db, p.id);
  // A payment is its session (a session is paid once) or its intent, whichever an event names.
  const samePayment = (intent: string | null, session: string | null) =>
    session === event.sessionId || (event.paymentIntent !== null && intent === event.paymentIntent);
  const handled =
    samePayment(p.payment_intent, p.paid_session_id) ||
    refunds.some(
      (r) =>
        (r.reason === "late_payment" || r.reason === "second_payment") && samePayment(r.payment_intent, r.session_id),
    );
  if (handled) return ignore();
  const paid = { intent: event.paymentIntent, session: event.sessionId };
  if (p.status === "held") return { result: "confirmed", p: confirmPurchase(db, t, p, now, paid, event.id) };
  // A purchase that never admitted anyone nor had money back takes its units again; one confirmed and then
  // cancelled (its entries cancelled with it) is refunded instead.
  const retake =
    (p.status === "expired" || (p.status === "cancelled" && entriesOf(db, p.id).length === 0)) &&
    refunds.length === 0 &&
    p.currency === t.currency &&
    !retakeRefusal(t, p, unitsOf(db, p.user_id));
  if (retake) return { result: "confirmed", p: confirmPurchase(db, t, p, now, paid, event.id) };
  // Paid after the hold ended with its units gone, or paid again for a purchase settled otherwise: give it back.
  const settled =
    p.status === "confirmed" ||
    p.paid_session_id !== null ||
    p.payment_intent !== null ||
    refunds.some((r) => r.reason === "late_payment");
  db.transaction(() => {
    insertRefund(db, {
      purchase_id: p.id,
      reason: settled ? "second_payment" : "late_payment",
      payment_intent: event.paymentIntent,
      session_id: event.sessionId,
      amount_minor: event.amountMinor ?? p.total_price_minor,
      currency: event.currency ?? p.currency,
      created_at: now,
    });
    markEventHandled(db, event.id, now);
  });
  return { result: "refunded" };
}

/** Why a purchase cannot be paid for through Stripe now, or null. */
export function checkoutRefusal(p: PurchaseRow): Rejection | null {
  if (p.status !== "held") return { ok: false, code: "invalid_state", status: p.status };
  const cannot = chargeRefusal(p.total_price_minor, p.currency, [p.unit_price_minor]);
  return cannot ? { ok: false, code: "not_chargeable", currency: p.currency, ...cannot } : null;
}

export const otherUrls: Rejection = {
  ok: false,
  code: "invalid",
  errors: [{ field: "success_url", message: "this hold's checkout was started with other return URLs" }],
};

/** The session a purchase's checkout asks Stripe for: one line item, the purchase as its reference. */
export const purchaseCheckout = (t: TicketRow, p: PurchaseRow, urls: ReturnUrls): CheckoutRequest => ({
  ref: `purchase-${p.id}`,
  clientReferenceId: String(p.id),
  metadata: { purchase_id: p.id, ticket_id: t.id },
  currency: p.currency,
  items: [{ name: t.name, unitAmount: p.unit_price_minor, quantity: p.quantity }],
  successUrl: urls.success_url,
  cancelUrl: urls.cancel_url,
  expiresAt: p.checkout_expires_at!,
});
