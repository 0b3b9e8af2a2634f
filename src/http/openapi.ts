import { OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import { forbidden } from "./auth";
import type { AppEnv } from "./context";
import { keyReused } from "./idempotency";
import { orderRejectionError } from "./order-object";
import {
  ApiError,
  invalid,
  notFound,
  outcomeUnknown,
  type ProblemCode,
  problemBody,
  seatmapInUse,
  unavailable,
} from "./problem";
import { problemSchema } from "./schemas";
import { noAnswer, rejectionError } from "./ticket-object";
import { fieldErrors, type Issue, MAX_BODY_BYTES, tooLarge } from "./validate";

/** A router whose zod validation failures become the one 400 problem shape. */
export const openApiRouter = () =>
  new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw invalid(fieldErrors(result.error.issues as Issue[]));
    },
  });

// Pieces of route definitions shared by the routers.

export const json = <T>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

type Documented = Exclude<ProblemCode, "internal">; // a 500 is never documented
/** A problem an answer may carry: its code (the example below), or the error itself where its detail is the route's own. */
type Example = Documented | ApiError;

// One realistic example per code, from the constructors the routes use.
const examples: Record<Documented, ApiError> = {
  validation_error: invalid([{ field: "quantity", message: "Too small: expected number to be >=1" }]),
  unauthorized: new ApiError(401, "unauthorized", "This endpoint needs credentials."),
  forbidden: forbidden("Your credentials do not allow this."),
  not_found: notFound("No ticket has this id."),
  sold_out: rejectionError({ ok: false, code: "sold_out", available: 1 }),
  seat_taken: rejectionError({ ok: false, code: "seat_taken", seats: ["N1-A-13"] }),
  seatmap_in_use: seatmapInUse(["N1-A-12", "N1-A-13"]),
  sales_closed: rejectionError({
    ok: false,
    code: "sales_closed",
    sales_start: "2026-12-01T10:00:00.000Z",
    sales_end: "2026-12-05T18:00:00.000Z",
  }),
  user_limit: rejectionError({ ok: false, code: "user_limit", max_per_user: 4, bought: 3 }),
  stock_below_sold: rejectionError({ ok: false, code: "stock_below_sold", sold: 480, held: 12 }),
  currency_locked: rejectionError({ ok: false, code: "currency_locked", sold: 480, held: 12 }),
  hold_expired: rejectionError({ ok: false, code: "hold_expired", available: 0 }),
  invalid_state: rejectionError({ ok: false, code: "invalid_state", status: "cancelled" }),
  payment_provider_error: rejectionError({ ok: false, code: "payment_provider", reason: "HTTP 500" }),
  payments_not_configured: new ApiError(
    501,
    "payments_not_configured",
    "Payments are not configured; holds are confirmed by the admin.",
  ),
  invalid_signature: new ApiError(400, "invalid_signature", "The Stripe-Signature header does not sign this body."),
  checked_in: rejectionError({ ok: false, code: "checked_in" }),
  reissue_limit: rejectionError({ ok: false, code: "reissue_limit" }),
  not_chargeable: rejectionError({
    ok: false,
    code: "not_chargeable",
    currency: "EUR",
    reason: "below_minimum",
    minimum_minor: 50,
  }),
  payment_refunded: rejectionError({ ok: false, code: "payment_refunded" }),
  part_of_order: rejectionError({ ok: false, code: "part_of_order", order_id: "ord_5f0c8a52b1d94e7c9a3b6d1e2f4a7c80" }),
  order_refused: orderRejectionError({
    ok: false,
    code: "order_refused",
    lines: [{ ticket_id: 2, code: "sold_out", available: 1 }],
  }),
  currency_mismatch: orderRejectionError({ ok: false, code: "currency_mismatch", currencies: ["EUR", "GBP"] }),
  idempotency_key_reused: keyReused("order"),
  payload_too_large: tooLarge(MAX_BODY_BYTES),
  unsupported_media_type: new ApiError(415, "unsupported_media_type", "Send the body as application/json."),
  unavailable: unavailable("The read model is unavailable; nothing was changed. Retry shortly."),
  overloaded: rejectionError({ ok: false, code: "overloaded" }),
  outcome_unknown: outcomeUnknown("D1 did not answer; this may or may not have been done. Retrying it is safe."),
};

/** The 503 of a call to a ticket's object, with the route's advice (`onTicket`'s `retry`) when it did not answer. */
export const objectCall = (retry: string) => ({
  description:
    "`unavailable` or `overloaded`: nothing was done, for certain; retry after `Retry-After` seconds. " +
    `\`outcome_unknown\`: the ticket's object did not answer, so this may or may not have been done. ${retry}`,
  examples: [
    rejectionError({ ok: false, code: "unavailable", reason: "the ticket could not be read" }),
    "overloaded" as const,
    noAnswer(retry),
  ],
});
export const NO_ENTRY = notFound("No entry has this id.");
export const ENTRY_STATE = rejectionError({ ok: false, code: "invalid_entry_state", status: "revoked" });

const defaults: Record<number, { description: string; examples?: Example[] }> = {
  400: { description: "Invalid request: the failing fields are listed in `errors`", examples: ["validation_error"] },
  401: { description: "Missing or invalid credentials", examples: ["unauthorized"] },
  403: { description: "These credentials may not do this", examples: ["forbidden"] },
  404: { description: "Not found", examples: ["not_found"] },
  409: { description: "Refused" }, // the route says which refusals
  413: { description: "Body too large", examples: ["payload_too_large"] },
  415: { description: "Body not sent as JSON", examples: ["unsupported_media_type"] },
  422: {
    description: "Idempotency-Key already used for a different request",
    examples: ["idempotency_key_reused"],
  },
  501: { description: "Not configured", examples: ["payments_not_configured"] },
  502: { description: "An upstream service failed", examples: ["payment_provider_error"] },
  503: {
    description: "`unavailable`: the read model (D1) is down; retry after `Retry-After` seconds",
    examples: ["unavailable"],
  },
};

/**
 * Problem responses for `statuses`, each with an example per problem it may carry (named by its code): the
 * status's usual ones, or the route's own. The first example is the one a reader sees first.
 */
export const problems = (
  statuses: number[],
  routes: Record<number, { description?: string; examples?: Example[] }> = {},
): RouteConfig["responses"] =>
  Object.fromEntries(
    statuses.map((s) => {
      const given = { ...defaults[s], ...routes[s] };
      const errors = (given.examples ?? []).map((e) => (typeof e === "string" ? examples[e] : e));
      return [
        s,
        {
          description: given.description!,
          content: {
            "application/problem+json": {
              schema: problemSchema,
              examples: Object.fromEntries(
                errors.map((e) => {
                  const value = problemBody(e);
                  return [e.code, { summary: value.title, value }];
                }),
              ),
            },
          },
        },
      ];
    }),
  );

export const bearer = [{ bearerAuth: [] }];
