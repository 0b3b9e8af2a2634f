import type { Context } from "hono";
import type { IdempotencyKey } from "../db/queries";
import { principalKey, sha256 } from "./auth";
import type { AppEnv } from "./context";
import { ApiError, invalid } from "./problem";

/**
 * The key was first used for a different request, whose result it keeps. Keys are scoped to the caller and,
 * for orders, to the ticket; an order's key is bound to its body and to buy or hold.
 */
export const keyReused = (scope: "ticket creation" | "order") =>
  new ApiError(
    422,
    "idempotency_key_reused",
    scope === "order"
      ? "This Idempotency-Key was already used for a different order of this ticket: another body, or a hold " +
          "where this is a purchase (or the reverse). A new order needs a new key."
      : "This Idempotency-Key was already used to create a ticket with a different body. A new ticket needs a new key.",
  );

/**
 * The request's Idempotency-Key (IETF httpapi draft: a structured-field
 * string; a bare token is accepted too), scoped to the caller and bound to a
 * hash of the validated body.
 */
export async function idempotencyKey(c: Context<AppEnv>, body: unknown): Promise<IdempotencyKey | undefined> {
  const raw = c.req.header("Idempotency-Key");
  if (raw === undefined) return undefined;
  const key = /^"(.*)"$/.exec(raw)?.[1] ?? raw;
  if (!/^[\x21\x23-\x7e]{1,255}$/.test(key)) {
    throw invalid([{ field: "Idempotency-Key", message: "must be 1 to 255 visible ASCII characters" }]);
  }
  const digest = new Uint8Array(await sha256(JSON.stringify(body)));
  const hash = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { principal: principalKey(c.get("principal")), key, hash };
}
