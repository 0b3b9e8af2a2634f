import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { AppEnv } from "./context";

/**
 * Whether to write the request log line: "on", "off", or "auto" (the
 * default): on where deployed (Workers Logs keeps it), off under wrangler
 * dev (ENVIRONMENT=development), which prints its own line per request, so a
 * local request is not printed twice.
 */
const logs = (env: Env) => env.REQUEST_LOG === "on" || (env.REQUEST_LOG !== "off" && env.ENVIRONMENT !== "development");

/**
 * One structured log line per request (see `logs`), and its duration in
 * Server-Timing. Runs inside hono/request-id, so the id is already set and echoed.
 */
export const observe: MiddlewareHandler<AppEnv> = async (c, next) => {
  const start = performance.now();
  await next();
  const ms = Math.round((performance.now() - start) * 10) / 10;
  c.res.headers.append("Server-Timing", `app;dur=${ms}`);
  if (!logs(c.env)) return;
  console.log(
    JSON.stringify({
      request_id: c.get("requestId"),
      method: c.req.method,
      route: routePath(c, -1),
      status: c.res.status,
      duration_ms: ms,
      ticket_id: c.get("ticketId"),
    }),
  );
};
