import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type {
  HeldLine,
  OrderCheckoutOutcome,
  OrderLinesOutcome,
  OrderOutcome,
  OrderView,
} from "../../order/order-coordinator";
import { orderData } from "../../order/order-coordinator";
import { toEntry } from "../../present";
import { auth, buyerOf, notYours, principalKey } from "../auth";
import type { AppEnv } from "../context";
import { idempotencyKey } from "../idempotency";
import { bearer, json, openApiRouter, problems } from "../openapi";
import { NO_ORDER, onOrder, orderId, orderRejectionError } from "../order-object";
import { ApiError } from "../problem";
import { checkoutSchema, checkoutSessionSchema, idempotencyHeader } from "../schemas";
import { orderCreateSchema, orderIdParam, orderSchema } from "../schemas/orders";
import { noAnswer } from "../ticket-object";
import { jsonBody } from "../validate";
import { actorOf, checkReturnUrls } from "./purchases";

// Orders: a basket over several tickets, held all or nothing and paid once.
// Each goes to the order's object, the coordinator of its lines.

const PLACE_RETRY =
  "Retry with the same Idempotency-Key: it answers the order if it was placed (or places it, nothing being held).";
const SAFE_TO_RETRY = "Retrying is safe: the order ends up in the state asked for once.";
const READ_RETRY = "Reading is safe to retry.";
const ORDER_DEADLINE_MS = 10_000;

const placeOrder = createRoute({
  operationId: "placeOrder",
  method: "post",
  path: "/",
  summary: "Hold a basket: every line, or none",
  description:
    "Holds every line (1 to 20, each of another ticket, in one currency) in parallel, each in its ticket's object, " +
    "for the shortest `hold_seconds` of its tickets (`expires_at`). If a line cannot be held, the others are " +
    "released before the answer: `409 order_refused` lists why each refused line was, and nothing is held. If a " +
    "ticket does not answer, `503 outcome_unknown`: retry with the same Idempotency-Key, and the order finishes " +
    "releasing by itself meanwhile. Pay for it (`POST /orders/{id}/checkout`), have the box office confirm it, or " +
    "cancel it. `user_id` may be left out by a user (themselves); the admin gives it.",
  tags: ["orders"],
  security: bearer,
  middleware: [auth("admin", "user"), jsonBody] as const,
  request: { headers: idempotencyHeader, body: { ...json(orderCreateSchema, "The basket"), required: true } },
  responses: {
    201: {
      ...json(orderSchema, "The order, held (a replay with the same key answers it as it now is)"),
      headers: z.object({ Location: z.string().openapi({ example: "/orders/ord_5f0c8a52b1d94e7c9a3b6d1e2f4a7c80" }) }),
    },
    ...problems([400, 401, 403, 409, 413, 415, 422, 503], {
      409: {
        description: "`order_refused` (with `lines`): a line cannot be held, nothing is; `currency_mismatch`",
        examples: ["order_refused", "currency_mismatch"],
      },
      503: {
        description: `\`outcome_unknown\`: a ticket or the order did not answer. ${PLACE_RETRY}`,
        examples: ["unavailable", "overloaded", noAnswer(PLACE_RETRY)],
      },
    }),
  },
});

const getOrder = createRoute({
  operationId: "getOrder",
  method: "get",
  path: "/{order_id}",
  summary: "One order, as its object holds it, with its lines' entries once confirmed",
  tags: ["orders"],
  security: bearer,
  middleware: [auth("admin", "user")] as const,
  request: { params: orderIdParam },
  responses: {
    200: json(orderSchema, "The order"),
    ...problems([400, 401, 403, 404, 503], { 404: { examples: [NO_ORDER] } }),
  },
});

const orderAction = (path: string, operationId: string, summary: string, description: string, admin: boolean) =>
  createRoute({
    operationId,
    method: "post",
    path,
    summary,
    description,
    tags: ["orders"],
    security: bearer,
    middleware: [auth(...(admin ? (["admin"] as const) : (["admin", "user"] as const)))] as const,
    request: { params: orderIdParam },
    responses: {
      200: json(orderSchema, "The order"),
      ...problems([400, 401, 403, 404, 409, 503], {
        404: { examples: [NO_ORDER] },
        409: {
          description: "`invalid_state` (with `order_status`), `hold_expired`, or `checked_in`",
          examples: ["invalid_state", "hold_expired", "checked_in"],
        },
        503: {
          description: `\`outcome_unknown\`: a line's ticket did not answer. ${SAFE_TO_RETRY}`,
          examples: ["unavailable", "overloaded", noAnswer(SAFE_TO_RETRY)],
        },
      }),
    },
  });

const confirmOrder = orderAction(
  "/{order_id}/confirm",
  "confirmOrder",
  "Confirm every line (the box office)",
  "held → confirmed, every line with it. An expired order is confirmed only if every line can be taken again, " +
    "else `409 hold_expired` and nothing is taken. Already confirmed: the same order.",
  true,
);

const cancelOrder = orderAction(
  "/{order_id}/cancel",
  "cancelOrder",
  "Cancel an order: every line's units go back",
  "Its owner while it is held; the box office while it is held or confirmed. A confirmed order paid through " +
    "Stripe is refunded in full (each line's units by its ticket) and ends `refunded` once Stripe has made it; not " +
    "once someone it admitted is checked in (`409 checked_in`). Already cancelled: the same order.",
  false,
);

const checkoutOrder = createRoute({
  operationId: "createOrderCheckoutSession",
  method: "post",
  path: "/{order_id}/checkout",
  summary: "Pay for a held order with one Stripe Checkout Session",
  description:
    "One session for the whole order, one line item per line (a repeat returns the same session). Every line is " +
    "held as long as the session (at least 31 minutes): told as `order.updated`. The order is confirmed by " +
    "Stripe's webhook once paid.",
  tags: ["orders"],
  security: bearer,
  middleware: [auth("admin", "user"), jsonBody] as const,
  request: {
    params: orderIdParam,
    body: { ...json(checkoutSchema, "Where Stripe sends the buyer back"), required: true },
  },
  responses: {
    200: json(checkoutSessionSchema, "The session: send the buyer to `checkout_url`"),
    ...problems([400, 401, 403, 404, 409, 413, 415, 501, 502, 503], {
      404: { examples: [NO_ORDER] },
      409: {
        description: "`invalid_state`: only a held order can be paid for; `not_chargeable`; `hold_expired`",
        examples: ["invalid_state", "not_chargeable", "hold_expired"],
      },
      501: { description: "`payments_not_configured`: no Stripe keys are set; orders are confirmed by the admin" },
      502: { description: "`payment_provider_error`: Stripe failed; retry (the same session if one was made)" },
      503: {
        description: `\`outcome_unknown\`: ${SAFE_TO_RETRY}`,
        examples: ["unavailable", "overloaded", noAnswer(SAFE_TO_RETRY)],
      },
    }),
  },
});

/** The order, for its owner or the admin only. */
function own(c: Context<AppEnv>, outcome: OrderOutcome | OrderLinesOutcome) {
  if (!outcome.ok) throw orderRejectionError(outcome);
  const principal = c.get("principal");
  if (principal.role !== "admin" && !(principal.role === "user" && principal.id === outcome.order.order.user_id)) {
    throw notYours();
  }
  return outcome;
}

/** A line's state as its order implies it, where its ticket's own answer is not at hand. */
const LINE_STATUS = {
  held: "held",
  confirmed: "confirmed",
  expired: "expired",
  cancelled: "cancelled",
  refunded: "cancelled",
} as const;

/**
 * The order as the API shows it; with its lines as their tickets hold them
 * (their state, what was given back, entries with their codes once confirmed) when `held` is given.
 */
export async function presentOrder(env: Env, view: OrderView, held?: HeldLine[]) {
  const shown = orderData(view);
  // A line is its purchase (a ticket may have several lines: seats in several blocks).
  const now = (purchaseId: number | null) => held?.find((h) => h.purchase.id === purchaseId);
  const refunded = view.lines.reduce(
    (n, l) => n + (now(l.purchase_id)?.purchase.refunded_minor ?? l.refunded_minor),
    0,
  );
  return {
    ...shown,
    currency: shown.currency!,
    refunded_price: (view.order.refunded_minor + refunded) / 100,
    lines: await Promise.all(
      shown.lines.map(async (l) => {
        const line = now(l.purchase_id);
        const status = line?.purchase.status ?? LINE_STATUS[shown.status];
        const entries =
          line && status === "confirmed"
            ? await Promise.all(line.entries.map((e) => toEntry(env, e, line.purchase)))
            : undefined;
        return {
          ...l,
          purchase_id: l.purchase_id!,
          game_id: l.game_id!,
          name: l.name!,
          type: l.type!,
          status,
          ...(entries ? { entries } : {}),
        };
      }),
    ),
  };
}

export const ordersRouter = openApiRouter()
  .openapi(placeOrder, async (c) => {
    const given = c.req.valid("json");
    const principal = c.get("principal");
    const body = { ...given, user_id: buyerOf(principal, given.user_id) };
    const key = await idempotencyKey(c, body);
    const id = await orderId(principal === undefined ? "" : principalKey(principal), key?.key);
    const request = {
      user_id: body.user_id,
      lines: body.lines.map(({ best_available, ...l }) => ({
        ...l,
        quantity: l.seats?.length ?? l.quantity,
        ...(best_available ? { best: best_available } : {}),
      })),
      principal: key?.principal ?? null,
      hash: key?.hash ?? "",
      deadline: Date.now() + ORDER_DEADLINE_MS,
    };
    const outcome = await onOrder<OrderOutcome>(c, id, (o) => o.place(id, request), PLACE_RETRY);
    if (!outcome.ok) throw orderRejectionError(outcome);
    const answer = await presentOrder(c.env, outcome.order);
    return c.json(answer, 201, {
      Location: `/orders/${id}`,
      ...(outcome.replayed ? { "Idempotent-Replayed": "true" } : {}),
    });
  })
  .openapi(getOrder, async (c) => {
    const { order_id } = c.req.valid("param");
    const outcome = own(c, await onOrder<OrderLinesOutcome>(c, order_id, (o) => o.lines(), READ_RETRY));
    return c.json(await presentOrder(c.env, outcome.order, "held" in outcome ? outcome.held : []), 200);
  })
  .openapi(confirmOrder, async (c) => {
    const { order_id } = c.req.valid("param");
    const outcome = await onOrder<OrderOutcome>(c, order_id, (o) => o.confirm(), SAFE_TO_RETRY);
    if (!outcome.ok) throw orderRejectionError(outcome);
    return c.json(await presentOrder(c.env, outcome.order), 200);
  })
  .openapi(cancelOrder, async (c) => {
    const { order_id } = c.req.valid("param");
    const actor = actorOf(c.get("principal"));
    const outcome = await onOrder<OrderOutcome>(c, order_id, (o) => o.cancel(actor), SAFE_TO_RETRY);
    if (!outcome.ok) throw orderRejectionError(outcome);
    return c.json(await presentOrder(c.env, outcome.order), 200);
  })
  .openapi(checkoutOrder, async (c) => {
    if (!c.env.STRIPE_SECRET_KEY || !c.env.STRIPE_WEBHOOK_SECRET) {
      throw new ApiError(
        501,
        "payments_not_configured",
        "Payments are not configured; orders are confirmed by the admin.",
      );
    }
    const { order_id } = c.req.valid("param");
    const urls = c.req.valid("json");
    checkReturnUrls(c.env, urls);
    const actor = actorOf(c.get("principal"));
    const outcome = await onOrder<OrderCheckoutOutcome>(c, order_id, (o) => o.checkout(actor, urls), SAFE_TO_RETRY);
    if (!outcome.ok) throw orderRejectionError(outcome);
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
