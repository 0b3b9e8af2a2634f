import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { api, asAdmin, asUser, createTicket, postJson } from "./helpers";

// Stripe in tests: its API is the stand-in of test/fake-stripe.ts (the
// runtime's outbound fetch); webhook payloads are signed here exactly as
// Stripe signs them.

export const SECRET = env.STRIPE_WEBHOOK_SECRET!;

/** A call the worker made to (the stand-in for) Stripe's API. */
export interface FakeStripeRequest {
  path: string;
  idempotencyKey: string | null;
  form: Record<string, string>;
}

export async function sign(payload: string, secret = SECRET, at = Math.floor(Date.now() / 1000)) {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${at}.${payload}`));
  const hex = [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `t=${at},v1=${hex}`;
}

let events = 0;
export function event(
  type: string,
  session: {
    id: string;
    purchaseId: number;
    ticketId: number;
    paid?: boolean;
    intent?: string;
    /** What the session charged, in Stripe's units, with its (lower-case) currency. */
    amount?: number;
    currency?: string;
  },
) {
  return JSON.stringify({
    id: `evt_test_${Date.now()}_${++events}`,
    object: "event",
    type,
    data: {
      object: {
        object: "checkout.session",
        id: session.id,
        client_reference_id: String(session.purchaseId),
        metadata: { purchase_id: String(session.purchaseId), ticket_id: String(session.ticketId) },
        payment_status: session.paid === false ? "unpaid" : "paid",
        payment_intent: session.intent ?? `pi_test_${session.purchaseId}`,
        ...(session.amount === undefined ? {} : { amount_total: session.amount, currency: session.currency }),
      },
    },
  });
}

export const deliver = async (payload: string, signature?: string) =>
  api("/payments/stripe/webhook", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(signature === undefined ? {} : { "Stripe-Signature": signature }),
    },
    body: payload,
  });
export const deliverSigned = async (payload: string) => deliver(payload, await sign(payload));

export const stripeRequests = async (path: string) =>
  ((await (await fetch("https://api.stripe.com/__fake/requests")).json()) as FakeStripeRequest[]).filter(
    (r) => r.path === path,
  );
/** The next `times` calls to `path` fail: Stripe answers 500, or (`lost`) acts and its answer breaks off. */
export const failStripe = (path: string, times = 1, mode: "error" | "lost" = "error") =>
  fetch(`https://api.stripe.com/__fake/fail?path=${encodeURIComponent(path)}&times=${times}&mode=${mode}`, {
    method: "POST",
  });

export interface Purchase {
  id: number;
  status: string;
  expires_at: string | null;
}
export const purchase = async (id: number) =>
  (await (await api(`/purchases/${id}`, { headers: asAdmin })).json()) as Purchase;
export const ticketNow = async (id: number) =>
  (await (await api(`/tickets/${id}`)).json()) as { sold: number; held: number; available: number };

export const URLS = { success_url: "https://club.example/paid", cancel_url: "https://club.example/cancelled" };

/** A hold with a checkout session. */
export async function held(stock = 5, quantity = 1, holdSeconds = 60) {
  const ticket = await createTicket({ stock, hold_seconds: holdSeconds, price: 35.5, name: "North Stand" });
  const res = await postJson("/tickets/hold", { user_id: 7, ticket_id: ticket.id, quantity });
  const hold = (await res.json()) as Purchase;
  const checkout = await postJson(`/purchases/${hold.id}/checkout`, URLS, await asUser(7));
  expect(checkout.status).toBe(200);
  const session = (await checkout.json()) as { checkout_url: string; session_id: string; expires_at: string };
  return { ticket, hold, session };
}
