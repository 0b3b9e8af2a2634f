import { Hono } from "hono";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "./http/context";
import { ApiError, problem, toApiError } from "./http/problem";
import { ticketsRouter } from "./http/routes/tickets";

export { TicketSeller } from "./do/ticket-seller";

const app = new Hono<AppEnv>()
  .use(secureHeaders())
  .use(
    cors({
      // Browsers only from the configured origins; other clients are unaffected.
      origin: (origin, c) => (c.env.CORS_ORIGINS.split(",").map((o: string) => o.trim()).includes(origin) ? origin : null),
      allowMethods: ["GET", "POST"],
      allowHeaders: ["Authorization", "Content-Type", "Idempotency-Key"],
      exposeHeaders: ["Retry-After"],
      maxAge: 600,
    }),
  )
  // Liveness: answers without touching D1.
  .get("/health", (c) => c.json({ status: "ok" }))
  .route("/tickets", ticketsRouter);

app.onError((err, c) => problem(c, toApiError(err)));
app.notFound((c) => problem(c, new ApiError(404, "not_found", `No route for ${c.req.method} ${c.req.path}.`)));

export type AppType = typeof app;
export default app;
