import type { Context } from "hono";
import type { IdempotencyKey } from "../db/queries";
import { principalKey, sha256 } from "./auth";
import type { AppEnv } from "./context";
import { ApiError, invalid } from "./problem";

export const keyReused = () =>
  new ApiError(422, "idempotency_key_reused", "This Idempotency-Key was already used with a different request body.");

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
