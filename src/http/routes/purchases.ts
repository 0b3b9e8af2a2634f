import { createRoute } from "@hono/zod-openapi";
import { toEntry, toPurchase, toPurchaseDetail } from "../../present";
import type { Actor, CheckoutOutcome, EntriesOutcome, PurchaseOutcome } from "../../ticket/ticket-seller";
import { assertActsFor, auth, forbidden, notYours, type Principal } from "../auth";
import { bearer, json, objectCall, openApiRouter, problems } from "../openapi";
import { ApiError, invalid, notFound } from "../problem";
import { ticketOfPurchase } from "../read-model";
import {
  checkoutSchema,
  checkoutSessionSchema,
  purchaseIdParam,
  purchaseSchema,
  purchaseWithEntriesSchema,
} from "../schemas";
import { onTicket, rejectionError } from "../ticket-object";
import { jsonBody } from "../validate";

// A purchase's lifecycle: read it, confirm it, cancel it, pay for it.
// Each goes to the object of the purchase's ticket, which holds it exactly.

const SAFE_TO_RETRY = "Retrying is safe: the purchase ends up in the state asked for once.";
const READ_RETRY = "Reading is safe to retry.";
const CHECKOUT_RETRY = "Retrying is safe: it returns the same session if one was made.";
const NO_PURCHASE = notFound("No purchase has this id.");

const getPurchase = createRoute({
  operationId: "getPurchase",
  method: "get",
  path: "/{purchase_id}",
  summary: "One purchase, as its ticket's object holds it now",
  tags: ["purchases"],
  security: bearer,
  middleware: [auth("admin", "user")] as const,
  request: { params: purchaseIdParam },
  responses: {
    200: json(purchaseWithEntriesSchema, "The purchase, with its entries and their codes once confirmed"),
    ...problems([400, 401, 403, 404, 503], {
      403: { examples: [notYours()] },
      404: { examples: [NO_PURCHASE] },
      503: objectCall(READ_RETRY),
    }),
  },
});

const confirm = createRoute({
  operationId: "confirmPurchase",
  method: "post",
  path: "/{purchase_id}/confirm",
  summary: "Confirm a hold (the payment service, the box office)",
  description:
    "held → confirmed. Already confirmed: the same purchase (idempotent). A hold that ended is confirmed anyway " +
    "if its units can be taken again, else `409 hold_expired`; a cancelled purchase is `409 invalid_state`.",
  tags: ["purchases"],
  security: bearer,
  middleware: [auth("admin")] as const,
  request: { params: purchaseIdParam },
  responses: {
    200: json(purchaseSchema, "The purchase, confirmed"),
    ...problems([400, 401, 403, 404, 409, 503], {
      404: { examples: [NO_PURCHASE] },
      409: {
        description:
          "`part_of_order` (with `order_id`: confirm its order), `hold_expired` (with `available`), `user_limit` (an ended hold's units would take its buyer past " +
          "`max_per_user`), `invalid_state` (with `purchase_status`), or `payment_refunded` (a payment for the " +
          "ended hold is given back, so it is not confirmed)",
        examples: ["hold_expired", "user_limit", "invalid_state", "payment_refunded", "part_of_order"],
      },
      503: objectCall(SAFE_TO_RETRY),
    }),
  },
});

const cancel = createRoute({
  operationId: "cancelPurchase",
  method: "post",
  path: "/{purchase_id}/cancel",
  summary: "Cancel a purchase: its units go back to the ticket",
  description:
    "Its owner while it is held; the admin (the box office) while it is held or confirmed. A confirmed purchase " +
    "paid through Stripe is refunded for the units it still holds: the refund is recorded with the cancel and made " +
    "by the ticket's object, retried until Stripe has made it; the purchase ends `refunded` then. Not once " +
    "someone it admitted is checked in (`409 checked_in`). Already cancelled: the same purchase (idempotent). An " +
    "expired hold is `409 invalid_state`; the owner cancelling a confirmed purchase is `403`.",
  tags: ["purchases"],
  security: bearer,
  middleware: [auth("admin", "user")] as const,
  request: { params: purchaseIdParam },
  responses: {
    200: json(purchaseSchema, "The purchase, cancelled"),
    ...problems([400, 401, 403, 404, 409, 503], {
      404: { examples: [NO_PURCHASE] },
      409: {
        description:
          "`invalid_state` (with `purchase_status`), `checked_in`: someone entered on it, or `part_of_order` (with " +
          "`order_id`): cancel its order",
        examples: ["invalid_state", "checked_in", "part_of_order"],
      },
      503: objectCall(SAFE_TO_RETRY),
    }),
  },
});

const checkout = createRoute({
  operationId: "createCheckoutSession",
  method: "post",
  path: "/{purchase_id}/checkout",
  summary: "Pay for a hold with Stripe Checkout",
  description:
    "Creates one Stripe Checkout Session for the held purchase (a repeat returns the same session) and lengthens " +
    "the hold to the session's end (Stripe's minimum is 30 minutes), told as `purchase.updated`. An attempt Stripe " +
    "refuses (`502`) leaves the hold ending when it did before. The purchase is confirmed by Stripe's webhook once " +
    "paid. `501` when payments are not configured.",
  tags: ["purchases"],
  security: bearer,
  middleware: [auth("admin", "user"), jsonBody] as const,
  request: {
    params: purchaseIdParam,
    body: { ...json(checkoutSchema, "Where Stripe sends the buyer back"), required: true },
  },
  responses: {
    200: json(checkoutSessionSchema, "The session: send the buyer to `checkout_url`"),
    ...problems([400, 401, 403, 404, 409, 413, 415, 501, 502, 503], {
      404: { examples: [NO_PURCHASE] },
      409: {
        description:
          "`invalid_state`: only a held purchase can be paid for; `not_chargeable` (with `currency`, `minimum`): " +
          "under Stripe's minimum charge, or cents in a currency Stripe charges in whole units (confirm it at the " +
          "box office)",
        examples: [
          rejectionError({ ok: false, code: "invalid_state", status: "confirmed" }),
          "not_chargeable",
          "part_of_order",
        ],
      },
      501: { description: "`payments_not_configured`: no Stripe keys are set; holds are confirmed by the admin" },
      502: {
        description: "`payment_provider_error`: Stripe failed; retry (the same session is returned if one was made)",
      },
      503: objectCall(CHECKOUT_RETRY),
    }),
  },
});

export function actorOf(p: Principal): Actor {
  if (p.role === "admin") return { role: "admin" };
  if (p.role === "user") return { role: "user", id: p.id };
  throw forbidden("Your credentials do not allow this.");
}

/** Return URLs: https, or http://localhost while developing. */
export function checkReturnUrls(env: Env, urls: Record<string, string>): void {
  const errors = Object.entries(urls).flatMap(([field, value]) => {
    const url = new URL(value);
    const local = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
    if (url.protocol === "https:" || (env.ENVIRONMENT === "development" && local)) return [];
    return [{ field, message: "must be an https URL (or http://localhost while developing)" }];
  });
  if (errors.length > 0) throw invalid(errors);
}

export const purchasesRouter = openApiRouter()
  .openapi(getPurchase, async (c) => {
    const { purchase_id } = c.req.valid("param");
    const ticketId = await ticketOfPurchase(c, purchase_id);
    const outcome = await onTicket<EntriesOutcome>(c, ticketId, (t) => t.purchase(ticketId, purchase_id), READ_RETRY);
    if (!outcome.ok) throw rejectionError(outcome);
    const { purchase } = outcome;
    assertActsFor(c.get("principal"), purchase.user_id);
    const entries = await Promise.all(outcome.entries.map((e) => toEntry(c.env, e, purchase)));
    return c.json({ ...toPurchaseDetail(purchase, outcome.refunds), entries }, 200);
  })
  .openapi(confirm, async (c) => {
    const { purchase_id } = c.req.valid("param");
    const ticketId = await ticketOfPurchase(c, purchase_id);
    const outcome = await onTicket<PurchaseOutcome>(
      c,
      ticketId,
      (t) => t.confirm(ticketId, purchase_id),
      SAFE_TO_RETRY,
    );
    if (!outcome.ok) throw rejectionError(outcome);
    return c.json(toPurchase(outcome.purchase), 200);
  })
  .openapi(cancel, async (c) => {
    const { purchase_id } = c.req.valid("param");
    const ticketId = await ticketOfPurchase(c, purchase_id);
    const actor = actorOf(c.get("principal"));
    const outcome = await onTicket<PurchaseOutcome>(
      c,
      ticketId,
      (t) => t.cancel(ticketId, purchase_id, actor),
      SAFE_TO_RETRY,
    );
    if (!outcome.ok) throw rejectionError(outcome);
    return c.json(toPurchase(outcome.purchase), 200);
  })
  .openapi(checkout, async (c) => {
    if (!c.env.STRIPE_SECRET_KEY || !c.env.STRIPE_WEBHOOK_SECRET) {
      throw new ApiError(
        501,
        "payments_not_configured",
        "Payments are not configured; holds are confirmed by the admin.",
      );
    }
    const { purchase_id } = c.req.valid("param");
    const urls = c.req.valid("json");
    checkReturnUrls(c.env, urls);
    const ticketId = await ticketOfPurchase(c, purchase_id);
    const actor = actorOf(c.get("principal"));
    const outcome = await onTicket<CheckoutOutcome>(
      c,
      ticketId,
      (t) => t.checkout(ticketId, purchase_id, actor, urls),
      CHECKOUT_RETRY,
    );
    if (!outcome.ok) throw rejectionError(outcome);
    const { session } = outcome;
    return c.json(
      {
        checkout_url: session.url,
        session_id: session.id,
        expires_at: new Date(session.expires_at * 1000).toISOString(),
      },
      200,
    );
  });
