import { findRefund, refundPayment, retrieveCheckoutSession, StripeError } from "../payments/stripe";
import { logError } from "./backoff";
import { purchaseEvent } from "./events";
import type { PurchaseRow, RefundReason, RefundRow, TicketRow } from "./schema";
import {
  change,
  dueRefunds,
  findPurchase,
  insertRefund,
  nextRefundAt,
  type Store,
  updatePurchase,
  updateRefund,
} from "./store";

// Refunds: decided and recorded in the transaction of the change that gives
// money back (a payment that came too late, units the box office takes
// back), before Stripe is asked; then made by the Refunder, which asks Stripe
// until it has made each one. A decision to refund is never taken back.

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
    updateRefund(db, r.id, { status: "succeeded", stripe_refund_id: stripeId, refunded_at: now, retry_at: null });
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

/** The first try waits this long after a failure, doubling to MAX_DELAY_MS. */
const MIN_DELAY_MS = 1_000;
const MAX_DELAY_MS = 10 * 60_000;

/**
 * Makes the object's pending refunds through Stripe, one at a time. A failed
 * try is retried after a backoff (the object's alarm rings for it). After
 * Stripe answered with an error nothing was made, so the next try is a new
 * request (a new idempotency key); after no answer, it asks the same (the
 * same key), so Stripe answers what it did and nothing is refunded twice.
 */
export class Refunder {
  #running: Promise<void> | undefined;
  #again = false;

  constructor(
    private readonly db: Store,
    private readonly secretKey: () => string | undefined,
    /** Records a refund Stripe made (in a change of the ticket). */
    private readonly settle: (r: RefundRow, stripeId: string) => void,
    /** The alarm must ring when the next refund is due. */
    private readonly arm: (at: number) => Promise<void>,
  ) {}

  /** Makes every due refund; resolves once each was tried. */
  run(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#drain().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #drain(): Promise<void> {
    do {
      this.#again = false;
      for (let due = this.#due(); due.length > 0; due = this.#due()) {
        for (const r of due) await this.#try(r);
      }
    } while (this.#again);
    const next = nextRefundAt(this.db);
    if (next !== null) await this.arm(next);
  }

  #due = () => dueRefunds(this.db, new Date().toISOString(), 20);

  async #try(r: RefundRow): Promise<void> {
    const secretKey = this.secretKey();
    try {
      if (!secretKey) throw new Error("payments are not configured (STRIPE_SECRET_KEY)");
      let intent = r.payment_intent;
      if (!intent) {
        intent = (await retrieveCheckoutSession(secretKey, r.session_id!)).payment_intent;
        if (!intent) throw new Error("the session has no payment to refund");
        updateRefund(this.db, r.id, { payment_intent: intent });
      }
      const name = `purchase-${r.purchase_id}-refund-${r.id}`;
      // After a failure, Stripe may have made it all the same (a 5xx's outcome is unknown): look first.
      const made =
        (r.failures > 0 ? await findRefund(secretKey, intent, name) : undefined) ??
        (await refundPayment(secretKey, {
          name,
          key: `${name}-${r.attempt}`,
          paymentIntent: intent,
          amountMinor: r.amount_minor,
          currency: r.currency,
        }));
      this.settle({ ...r, payment_intent: intent }, made.id);
    } catch (err) {
      const failures = r.failures + 1;
      const delay = Math.min(MIN_DELAY_MS * 2 ** (failures - 1), MAX_DELAY_MS);
      updateRefund(this.db, r.id, {
        failures,
        // Stripe answered (and keeps that answer for the key): the next try, after looking, is a new request.
        // No answer: the next one asks the same, so Stripe answers what it did.
        attempt: err instanceof StripeError ? r.attempt + 1 : r.attempt,
        last_error: String(err).slice(0, 500),
        retry_at: new Date(Date.now() + delay).toISOString(),
      });
      logError("refund failed", { purchase_id: r.purchase_id, refund: r.id, retry_in_ms: delay }, err);
    }
  }
}
