import { and, asc, eq, min, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { logError } from "../ticket/backoff";
import { type RefundRow, refunds } from "./schema";
import { findRefund, refundPayment, retrieveCheckoutSession, StripeError } from "./stripe";

// Refunds as an object that takes payments keeps them (src/payments/schema.ts):
// decided and recorded in the transaction of the change that gives money
// back, before Stripe is asked; then made by the Refunder, which asks Stripe
// until it has made each one. A decision to refund is never taken back.

type Db = DrizzleSqliteDODatabase;

export type NewRefund = Pick<
  RefundRow,
  "purchase_id" | "reason" | "payment_intent" | "session_id" | "amount_minor" | "currency" | "created_at"
>;

/** Records a refund to make (inside the change that decides it). */
export const insertRefund = (db: Db, row: NewRefund): RefundRow => db.insert(refunds).values(row).returning().get();

export const updateRefund = (db: Db, id: number, fields: Partial<RefundRow>): RefundRow =>
  db.update(refunds).set(fields).where(eq(refunds.id, id)).returning().get()!;

/** Inside the change that records it: Stripe made refund `r`. */
export const markRefunded = (db: Db, r: RefundRow, stripeId: string, now: string): RefundRow =>
  updateRefund(db, r.id, { status: "succeeded", stripe_refund_id: stripeId, refunded_at: now, retry_at: null });

export const refundsOf = (db: Db, purchaseId: number): RefundRow[] =>
  db.select().from(refunds).where(eq(refunds.purchase_id, purchaseId)).orderBy(asc(refunds.id)).all();

/** Refunds still to make whose next try is due at `now`, oldest first. */
export const dueRefunds = (db: Db, now: string, limit: number): RefundRow[] =>
  db
    .select()
    .from(refunds)
    .where(and(eq(refunds.status, "pending"), sql`coalesce(${refunds.retry_at}, '') <= ${now}`))
    .orderBy(asc(refunds.id))
    .limit(limit)
    .all();

/** When the next pending refund is due (epoch ms), or null when none is pending. */
export function nextRefundAt(db: Db): number | null {
  const row = db
    .select({ at: min(sql<string>`coalesce(${refunds.retry_at}, '')`) })
    .from(refunds)
    .where(eq(refunds.status, "pending"))
    .get();
  if (row?.at == null) return null;
  return row.at === "" ? Date.now() : Date.parse(row.at);
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
    private readonly db: Db,
    private readonly secretKey: () => string | undefined,
    /** Names a refund at Stripe (its metadata and idempotency key): unique across objects. */
    private readonly name: (r: RefundRow) => string,
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
      const name = this.name(r);
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
