import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { AppEnv } from "./context";

/**
 * One structured log line per request (unless REQUEST_LOG is "off", as in the
 * tests), and its duration in Server-Timing.
 * Runs inside hono/request-id, so the id is already set and echoed.
 */
export const observe: MiddlewareHandler<AppEnv> = async (c, next) => {
  const start = performance.now();
  await next();
  const ms = Math.round((performance.now() - start) * 10) / 10;
  c.res.headers.append("Server-Timing", `app;dur=${ms}`);
  if (c.env.REQUEST_LOG === "off") return;
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
