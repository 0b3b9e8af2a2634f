import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { queue, scheduled } from "./events/consumer";
import type { QueueMessage } from "./events/types";
import type { AppEnv } from "./http/context";
import { BOOKMARK_HEADER, d1Session } from "./http/d1-session";
import { docsPage } from "./http/docs";
import { observe } from "./http/observe";
import { ApiError, problem, toApiError } from "./http/problem";
import { checkinsRouter } from "./http/routes/checkins";
import { entriesRouter } from "./http/routes/entries";
import { gamesRouter } from "./http/routes/games";
import { paymentsRouter } from "./http/routes/payments";
import { purchasesRouter } from "./http/routes/purchases";
import { ticketsRouter } from "./http/routes/tickets";
import { webhooksRouter } from "./http/routes/webhooks";
import { healthSchema } from "./http/schemas";

export { TicketSeller } from "./do/ticket-seller";

const health = createRoute({
  method: "get",
  path: "/health",
  summary: "Liveness; touches no storage",
  tags: ["service"],
  responses: { 200: { content: { "application/json": { schema: healthSchema } }, description: "Up" } },
});

// A browser pointed at the API's root lands on its reference.
const root = createRoute({
  method: "get",
  path: "/",
  summary: "The interactive reference (redirects to /docs)",
  tags: ["service"],
  responses: { 302: { description: "To /docs", headers: z.object({ Location: z.literal("/docs") }) } },
});

const app = new OpenAPIHono<AppEnv>();
app.use(requestId({ limitLength: 128 }));
app.use(observe);
app.use(secureHeaders());
app.use(d1Session);
app.use(
  cors({
    // Browsers only from the configured origins; other clients are unaffected.
    origin: (origin, c) =>
      c.env.CORS_ORIGINS.split(",")
        .map((o: string) => o.trim())
        .includes(origin)
        ? origin
        : null,
    allowMethods: ["GET", "POST", "PATCH", "DELETE"],
    allowHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id", BOOKMARK_HEADER],
    exposeHeaders: ["Retry-After", "X-Request-Id", "ETag", "Server-Timing", "Idempotent-Replayed", BOOKMARK_HEADER],
    maxAge: 600,
  }),
);

const routes = app
  .openapi(health, (c) => c.json({ status: "ok" as const }, 200))
  .openapi(root, (c) => c.redirect("/docs", 302))
  .route("/tickets", ticketsRouter)
  .route("/purchases", purchasesRouter)
  .route("/payments", paymentsRouter)
  .route("/checkins", checkinsRouter)
  .route("/entries", entriesRouter)
  .route("/games", gamesRouter)
  .route("/webhooks", webhooksRouter);

app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
  type: "http",
  scheme: "bearer",
  description:
    "The admin token, or a user's JWT (HS256 with the API's secret, or RS256/ES256 from the identity provider).",
});
app.doc31("/openapi.json", {
  openapi: "3.1.0",
  info: {
    title: "Ticket sales API",
    version: "1.0.0",
    description:
      "Sells tickets for sports games. Every error is an RFC 9457 problem document (application/problem+json) with a stable `code`.",
  },
  tags: [
    { name: "tickets" },
    { name: "purchases" },
    { name: "payments" },
    { name: "entries" },
    { name: "gate" },
    { name: "webhooks" },
    { name: "service" },
  ],
});
app.get("/docs", (c) => c.html(docsPage));
app.get("/docs/", (c) => c.html(docsPage));

app.onError((err, c) => problem(c, toApiError(err)));
app.notFound((c) => problem(c, new ApiError(404, "not_found", `No route for ${c.req.method} ${c.req.path}.`)));

/** For `hc<AppType>()` from hono/client: a client typed end to end. */
export type AppType = typeof routes;
export { app };

// HTTP; the events queue's consumer; the cron that sweeps unsent events.
export default {
  fetch: app.fetch,
  queue,
  scheduled: (_controller, env) => scheduled(env),
} satisfies ExportedHandler<Env, QueueMessage>;
