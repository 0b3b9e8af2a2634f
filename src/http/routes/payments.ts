import { createRoute, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import type { OrderPaymentOutcome } from "../../order/order-coordinator";
import { paymentEvent, verifyStripeSignature } from "../../payments/stripe";
import type { PaymentOutcome } from "../../ticket/ticket-seller";
import { json, objectCall, openApiRouter, problems } from "../openapi";
import { onOrder, orderRejectionError } from "../order-object";
import { ApiError, invalid } from "../problem";
import { ticketHolding } from "../read-model";
import { onTicket, rejectionError } from "../ticket-object";
import { tooLarge } from "../validate";

// Stripe's webhook: the signature is checked before anything else; then the
// event goes to the object of its purchase's ticket, which acts on each event
// id once. Every event handled or deliberately ignored is answered 200, so
// Stripe never retries a decided event; only a failure that needs a retry
// (the object unreachable, a refund that failed) answers 503.

const MAX_EVENT_BYTES = 256 * 1024;
const notConfigured = () => new ApiError(501, "payments_not_configured", "Payments are not configured.");
const STRIPE_RETRY = "Stripe retries the event; it is acted on once.";

const webhook = createRoute({
  operationId: "receiveStripeEvent",
  method: "post",
  path: "/stripe/webhook",
  summary: "Stripe's webhook (Checkout Session events)",
  description:
    "Verifies `Stripe-Signature` (HMAC-SHA256 over `timestamp.body` with the webhook secret, 300 s tolerance) " +
    "before anything else. `checkout.session.completed` (paid) or `async_payment_succeeded` confirms the purchase " +
    "(a session the purchase did not record counts when it charged the purchase's price and currency), or, when " +
    "its hold ended and the units are gone (or it was paid already), refunds the payment: the refund is recorded " +
    "first and made by the ticket's object, retried until Stripe has made it. `checkout.session.expired` cancels " +
    "the hold of that session. Each event id is acted on once.",
  tags: ["payments"],
  // Not a bearer token: Stripe signs each event (Stripe-Signature), checked in the handler.
  security: [],
  middleware: [
    bodyLimit({
      maxSize: MAX_EVENT_BYTES,
      onError: () => {
        throw tooLarge(MAX_EVENT_BYTES);
      },
    }),
  ] as const,
  request: {
    headers: z.object({
      "stripe-signature": z
        .string()
        .optional()
        .openapi({ param: { name: "stripe-signature", in: "header" } }),
    }),
  },
  responses: {
    200: json(
      z
        .object({ received: z.literal(true), result: z.enum(["confirmed", "cancelled", "refunded", "ignored"]) })
        .openapi("WebhookReceipt", { example: { received: true, result: "confirmed" } }),
      "Handled (`refunded`: the refund is decided and recorded), or deliberately ignored (a repeat, another session, an event type not acted on)",
    ),
    ...problems([400, 413, 501, 503], {
      400: {
        description:
          "`invalid_signature`: missing, wrong or stale signature; nothing was done. `validation_error`: the signed " +
          "body is not JSON",
        examples: ["invalid_signature", invalid([{ field: "body", message: "malformed JSON" }])],
      },
      413: { examples: [tooLarge(MAX_EVENT_BYTES)] },
      501: { description: "`payments_not_configured`: no Stripe keys are set", examples: [notConfigured()] },
      503: {
        ...objectCall(STRIPE_RETRY),
        description: "Not handled yet; Stripe retries, and the event is acted on once",
      },
    }),
  },
});

export const paymentsRouter = openApiRouter().openapi(webhook, async (c) => {
  const secret = c.env.STRIPE_WEBHOOK_SECRET;
  if (!secret || !c.env.STRIPE_SECRET_KEY) {
    throw notConfigured();
  }
  const payload = await c.req.text();
  if (!(await verifyStripeSignature(secret, c.req.header("Stripe-Signature"), payload))) {
    throw new ApiError(400, "invalid_signature", "The Stripe-Signature header does not sign this body.");
  }
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch {
    throw invalid([{ field: "body", message: "malformed JSON" }]);
  }
  const event = paymentEvent(body);
  if (event?.orderId) {
    const id = event.orderId;
    const outcome = await onOrder<OrderPaymentOutcome>(c, id, (o) => o.paymentEvent(event), STRIPE_RETRY);
    if (!outcome.ok && outcome.code !== "order_not_found") throw orderRejectionError(outcome);
    return c.json({ received: true as const, result: outcome.ok ? outcome.result : ("ignored" as const) }, 200);
  }
  // A session of ours names its ticket; for a storefront's own session, the purchase's id block says.
  const ticketId = event && (event.ticketId ?? (await ticketHolding(c, event.purchaseId)));
  if (!event || !ticketId) return c.json({ received: true as const, result: "ignored" as const }, 200);
  c.set("ticketId", ticketId);
  const outcome = await onTicket<PaymentOutcome>(c, ticketId, (t) => t.paymentEvent(ticketId, event), STRIPE_RETRY);
  if (!outcome.ok && outcome.code !== "not_found") throw rejectionError(outcome);
  return c.json({ received: true as const, result: outcome.ok ? outcome.result : ("ignored" as const) }, 200);
});
