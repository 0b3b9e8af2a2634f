import type { Context } from "hono";
import type { OrderRejection } from "../order/decisions";
import type { OrderCoordinator } from "../order/order-coordinator";
import type { AppEnv } from "./context";
import { ApiError, notFound, outcomeUnknown, overloaded } from "./problem";
import { rejectionError } from "./ticket-object";

// Calling an order's object from the Worker, and turning its refusals into problems.

/** An order's id: `ord_` and 32 hex digits; with an Idempotency-Key, derived from it and its caller. */
export const ORDER_ID = /^ord_[0-9a-f]{32}$/;

export async function orderId(principal: string, key: string | undefined): Promise<string> {
  if (key === undefined) return `ord_${crypto.randomUUID().replaceAll("-", "")}`;
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${principal}\n${key}`)),
  );
  return `ord_${[...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Runs `call` on the order's object; a call that fails on the way may or may not have run: a 503 that says so. */
export async function onOrder<T>(
  c: Context<AppEnv>,
  id: string,
  call: (order: DurableObjectStub<OrderCoordinator>) => Promise<T>,
  retry: string,
): Promise<T> {
  try {
    return await call(c.env.ORDERS.getByName(id));
  } catch (err) {
    console.error(
      JSON.stringify({ level: "error", message: "order object call failed", order_id: id, error: String(err) }),
    );
    if ((err as { overloaded?: boolean }).overloaded) {
      throw overloaded("The order is too busy to take this now; nothing was done. Retry shortly.");
    }
    throw outcomeUnknown(`The order did not answer; this may or may not have been done. ${retry}`);
  }
}

export const NO_ORDER = notFound("No order has this id.");

export function orderRejectionError(r: OrderRejection): ApiError {
  switch (r.code) {
    case "order_refused":
      return new ApiError(409, "order_refused", "A line of the order cannot be held now; nothing is held.", {
        lines: r.lines,
      });
    case "currency_mismatch":
      return new ApiError(409, "currency_mismatch", "An order's tickets must be sold in one currency.", {
        currencies: r.currencies,
      });
    case "order_not_found":
      return NO_ORDER;
    case "order_invalid_state":
      return new ApiError(409, "invalid_state", `Not possible for an order that is ${r.status}.`, {
        order_status: r.status,
      });
    default:
      return rejectionError(r);
  }
}
