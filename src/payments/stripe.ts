// The few calls this API makes to Stripe, and the check of its webhooks.
// A small client of our own: the official SDK (stripe 23.1) bundles to
// 238 KB minified / 32 KiB gzipped for these calls, which would take the
// worker from 117 KiB to about 149 KiB of its 150 KiB budget.
import { env } from "cloudflare:workers";

import { fromStripeAmount, toStripeAmount } from "./amounts";

/** Stripe's API; while developing, the local stand-in at STRIPE_API_BASE (`npm run stripe:fake`) when set. */
export const stripeApiBase = (e: Pick<Env, "ENVIRONMENT" | "STRIPE_API_BASE">) =>
  (e.ENVIRONMENT === "development" && e.STRIPE_API_BASE) || "https://api.stripe.com";
export const CHECKOUT_MINUTES = 31; // Stripe's minimum session life is 30 minutes; one more for the trip there

export class StripeError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(`Stripe answered ${status} ${type}: ${message}`);
  }
}

/** Stripe's form encoding: nested objects as `a[b][c]=v`. */
export function form(params: Record<string, unknown>, prefix = ""): string[] {
  return Object.entries(params).flatMap(([k, v]) => {
    const key = prefix ? `${prefix}[${k}]` : k;
    if (v === undefined || v === null) return [];
    if (typeof v === "object") return form(v as Record<string, unknown>, key);
    return [`${encodeURIComponent(key)}=${encodeURIComponent(String(v))}`];
  });
}

async function call<T>(
  secretKey: string,
  path: string,
  params: Record<string, unknown> | null,
  idempotencyKey?: string,
) {
  const res = await fetch(`${stripeApiBase(env)}/v1${path}`, {
    method: params ? "POST" : "GET",
    headers: {
      Authorization: `Bearer ${secretKey}`,
      "Content-Type": "application/x-www-form-urlencoded",
      ...(idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {}),
    },
    body: params ? form(params).join("&") : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let body: T & { error?: { type?: string; message?: string } };
  try {
    body = JSON.parse(text);
  } catch {
    // Not Stripe's answer (a broken connection, a proxy): whether it acted is unknown.
    throw new Error(`Stripe's answer (${res.status}) could not be read`);
  }
  if (!res.ok) {
    const error = body.error as { type?: string; code?: string; message?: string } | undefined;
    throw new StripeError(res.status, error?.code ?? error?.type ?? "unknown", error?.message ?? "");
  }
  return body;
}

export interface CheckoutSession {
  id: string;
  url: string;
  expires_at: number; // epoch seconds
}

export interface CheckoutRequest {
  /** What is paid for, as idempotency keys name it: `purchase-{id}` or `order-{id}`. */
  ref: string;
  clientReferenceId: string;
  metadata: Record<string, string | number>;
  currency: string;
  items: { name: string; unitAmount: number; quantity: number }[]; // unitAmount in minor units
  successUrl: string;
  cancelUrl: string;
  expiresAt: string; // ISO 8601
}

/**
 * One Checkout Session per attempt: the idempotency key names what is paid
 * for and the session's end, so a retry of the same attempt gets the same
 * session. Cards only: a delayed method (a debit) would be paid after the hold ends.
 */
export const createCheckoutSession = (secretKey: string, r: CheckoutRequest) =>
  call<CheckoutSession>(
    secretKey,
    "/checkout/sessions",
    {
      mode: "payment",
      payment_method_types: { 0: "card" },
      client_reference_id: r.clientReferenceId,
      metadata: r.metadata,
      line_items: Object.fromEntries(
        r.items.map((item, i) => [
          i,
          {
            quantity: item.quantity,
            price_data: {
              currency: r.currency.toLowerCase(),
              unit_amount: toStripeAmount(item.unitAmount, r.currency),
              product_data: { name: item.name },
            },
          },
        ]),
      ),
      success_url: r.successUrl,
      cancel_url: r.cancelUrl,
      expires_at: Math.floor(Date.parse(r.expiresAt) / 1000),
    },
    `${r.ref}-checkout-${Math.floor(Date.parse(r.expiresAt) / 1000)}`,
  );

/** A session, for its payment when an event did not carry it. */
export const retrieveCheckoutSession = (secretKey: string, sessionId: string) =>
  call<{ id: string; payment_intent: string | null }>(
    secretKey,
    `/checkout/sessions/${encodeURIComponent(sessionId)}`,
    null,
  );

/** Ends a session that can no longer be paid (its hold ended first). */
export const expireCheckoutSession = (secretKey: string, sessionId: string) =>
  call<CheckoutSession>(secretKey, `/checkout/sessions/${encodeURIComponent(sessionId)}/expire`, {});

export interface RefundRequest {
  /** Names the refund, whatever the attempt: kept in its metadata, so a refund made can be found. */
  name: string;
  /** Names this refund and attempt: the same key after a lost answer asks for the very same refund. */
  key: string;
  paymentIntent: string;
  amountMinor: number;
  currency: string;
}

/**
 * Gives back `amountMinor` of a payment. A payment already refunded in full is
 * refused by Stripe, which counts as done.
 */
export async function refundPayment(secretKey: string, r: RefundRequest) {
  try {
    return await call<{ id: string }>(
      secretKey,
      "/refunds",
      {
        payment_intent: r.paymentIntent,
        amount: toStripeAmount(r.amountMinor, r.currency),
        metadata: { refund: r.name },
      },
      r.key,
    );
  } catch (err) {
    if (err instanceof StripeError && err.type === "charge_already_refunded") return { id: "already_refunded" };
    throw err;
  }
}

/** The refund named `name` among a payment's refunds, if Stripe made it. */
export async function findRefund(secretKey: string, paymentIntent: string, name: string) {
  const list = await call<{ data: { id: string; metadata?: Record<string, string> }[] }>(
    secretKey,
    `/refunds?payment_intent=${encodeURIComponent(paymentIntent)}&limit=100`,
    null,
  );
  return list.data.find((r) => r.metadata?.refund === name);
}

const hex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

/**
 * Whether `header` (Stripe-Signature: `t=<unix seconds>,v1=<hex>[,v1=...]`)
 * signs `payload` with `secret`: HMAC-SHA256 over `t.payload`, compared in
 * constant time, with `t` at most `toleranceSeconds` from now.
 */
export async function verifyStripeSignature(
  secret: string,
  header: string | undefined,
  payload: string,
  toleranceSeconds = 300,
  now = Date.now(),
): Promise<boolean> {
  if (!header) return false;
  const parts = header.split(",").map((p) => p.trim().split("="));
  const t = parts.find(([k]) => k === "t")?.[1];
  const signatures = parts.filter(([k, v]) => k === "v1" && v).map(([, v]) => v!);
  if (!t || !/^\d{1,12}$/.test(t) || signatures.length === 0) return false;
  if (Math.abs(now / 1000 - Number(t)) > toleranceSeconds) return false;
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const expected = new TextEncoder().encode(
    hex(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${t}.${payload}`))),
  );
  return signatures.some((s) => {
    const given = new TextEncoder().encode(s);
    return given.byteLength === expected.byteLength && crypto.subtle.timingSafeEqual(given, expected);
  });
}

/** The parts of a Checkout Session event this API acts on. */
export interface PaymentEvent {
  id: string;
  type: "checkout.session.completed" | "checkout.session.async_payment_succeeded" | "checkout.session.expired" | string;
  sessionId: string;
  /** Of a purchase's session (its id, and its ticket's when the session says), or of an order's. */
  purchaseId: number;
  ticketId: number | null;
  orderId: string | null;
  paid: boolean;
  paymentIntent: string | null;
  /** What the session charged, in this API's hundredths, when the event says. */
  amountMinor: number | null;
  currency: string | null;
}

/** Reads a verified event; null when it is not about one of our purchases. */
export function paymentEvent(body: unknown): PaymentEvent | null {
  const e = body as {
    id?: string;
    type?: string;
    data?: {
      object?: {
        object?: string;
        id?: string;
        client_reference_id?: string;
        metadata?: { ticket_id?: string; order_id?: string };
        payment_status?: string;
        payment_intent?: string | null;
        amount_total?: number | null;
        currency?: string | null;
      };
    };
  };
  const s = e?.data?.object;
  if (typeof e?.id !== "string" || typeof e.type !== "string" || s?.object !== "checkout.session") return null;
  // An order's session names the order; a purchase's, the purchase (and its ticket, unless a storefront made it).
  const orderId =
    [s.metadata?.order_id, s.client_reference_id].find((v) => typeof v === "string" && /^ord_[0-9a-f]{32}$/.test(v)) ??
    null;
  const purchaseId = orderId ? 0 : Number(s.client_reference_id);
  const ticketId = orderId || s.metadata?.ticket_id === undefined ? null : Number(s.metadata.ticket_id);
  const positive = (n: number | null) => n !== null && Number.isSafeInteger(n) && n > 0;
  if (!orderId && (!positive(purchaseId) || (ticketId !== null && !positive(ticketId)))) return null;
  return {
    id: e.id,
    type: e.type,
    sessionId: String(s.id),
    purchaseId,
    ticketId,
    orderId,
    paid:
      (e.type === "checkout.session.completed" && s.payment_status === "paid") ||
      e.type === "checkout.session.async_payment_succeeded",
    paymentIntent: typeof s.payment_intent === "string" ? s.payment_intent : null,
    amountMinor:
      Number.isSafeInteger(s.amount_total) && typeof s.currency === "string"
        ? fromStripeAmount(s.amount_total!, s.currency)
        : null,
    currency: typeof s.currency === "string" ? s.currency.toUpperCase() : null,
  };
}
