import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

// RFC 9457 problem documents: the only error shape this API sends.

export interface FieldError {
  field: string;
  message: string;
}

/** Every stable `code`, with its title. */
const titles = {
  validation_error: "Invalid request",
  unauthorized: "Unauthorized",
  forbidden: "Forbidden",
  not_found: "Not found",
  sold_out: "Sold out",
  seat_taken: "Seat taken",
  seatmap_in_use: "Seat map in use",
  sales_closed: "Sales closed",
  user_limit: "Per-user limit reached",
  stock_below_sold: "Stock below units sold",
  currency_locked: "Currency locked",
  hold_expired: "Hold expired",
  invalid_state: "Not possible in this state",
  payment_provider_error: "Payment provider error",
  payments_not_configured: "Payments not configured",
  invalid_signature: "Invalid signature",
  checked_in: "Already checked in",
  reissue_limit: "Reissue limit reached",
  not_chargeable: "Amount not chargeable",
  payment_refunded: "Payment refunded",
  part_of_order: "Part of an order",
  order_refused: "Order refused",
  currency_mismatch: "Currencies differ",
  idempotency_key_reused: "Idempotency key reused",
  payload_too_large: "Payload too large",
  unsupported_media_type: "Unsupported media type",
  unavailable: "Service unavailable",
  overloaded: "Overloaded",
  outcome_unknown: "Outcome unknown",
  internal: "Internal server error",
} as const;

export type ProblemCode = keyof typeof titles;
export const PROBLEM_CODES = Object.keys(titles) as [ProblemCode, ...ProblemCode[]];

/** Thrown anywhere in a request; `onError` turns it into the problem response. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ProblemCode,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export const notFound = (detail: string) => new ApiError(404, "not_found", detail);

/** A seat map cannot change once a seat of it is held or sold: `seats` names some. */
export const seatmapInUse = (seats: string[]) =>
  new ApiError(409, "seatmap_in_use", "Seats of this game are held or sold: its seat map cannot change now.", {
    seats,
  });

export const invalid = (errors: FieldError[]) =>
  new ApiError(400, "validation_error", errors.map((e) => `${e.field}: ${e.message}`).join("; "), {
    errors,
  });

/** 503s say whether anything was done: `unavailable` and `overloaded` only when nothing was, for certain. */
export const unavailable = (detail: string) => new ApiError(503, "unavailable", detail, {}, { "Retry-After": "1" });
export const overloaded = (detail: string) => new ApiError(503, "overloaded", detail, {}, { "Retry-After": "1" });
export const outcomeUnknown = (detail: string) =>
  new ApiError(503, "outcome_unknown", detail, {}, { "Retry-After": "1" });

/** The problem document of an error: the body `problem()` sends, and the OpenAPI document's examples. */
export const problemBody = (err: ApiError) => ({
  type: `https://tickets.example/problems/${err.code.replaceAll("_", "-")}`,
  title: titles[err.code],
  status: err.status,
  detail: err.detail,
  code: err.code,
  ...err.extra,
});

export function problem(c: Context, err: ApiError): Response {
  return c.json(problemBody(err), err.status, { ...err.headers, "Content-Type": "application/problem+json" });
}

/** Maps anything thrown to a problem; unknown errors are logged, never echoed. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) {
    // Hono raises these for unreadable bodies (e.g. malformed JSON).
    if (err.status === 413) return new ApiError(413, "payload_too_large", err.message);
    if (err.status === 415)
      return new ApiError(415, "unsupported_media_type", "This endpoint does not take a body of this media type.");
    if (err.status < 500) return invalid([{ field: "body", message: err.message }]);
  }
  console.error(JSON.stringify({ level: "error", message: String(err), stack: (err as Error)?.stack }));
  return new ApiError(500, "internal", "An unexpected error occurred.");
}
