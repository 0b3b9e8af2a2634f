import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { queue, scheduled } from "./events/consumer";
import type { QueueMessage } from "./events/types";
import type { AppEnv } from "./http/context";
import { BOOKMARK_HEADER, d1Session } from "./http/d1-session";
import { docsPage } from "./http/docs";
import { serveDocument } from "./http/document";
import { observe } from "./http/observe";
import { ApiError, problem, toApiError } from "./http/problem";
import { checkinsRouter } from "./http/routes/checkins";
import { entriesRouter } from "./http/routes/entries";
import { gamesRouter } from "./http/routes/games";
import { ordersRouter } from "./http/routes/orders";
import { paymentsRouter } from "./http/routes/payments";
import { purchasesRouter } from "./http/routes/purchases";
import { seatingRouter } from "./http/routes/seating";
import { ticketsRouter } from "./http/routes/tickets";
import { usersRouter } from "./http/routes/users";
import { webhooksRouter } from "./http/routes/webhooks";
import { healthSchema } from "./http/schemas";

export { OrderCoordinator } from "./order/order-coordinator";
export { SeatBlock } from "./seating/seat-block";
export { TicketSeller } from "./ticket/ticket-seller";

const health = createRoute({
  operationId: "getHealth",
  method: "get",
  path: "/health",
  summary: "Liveness; touches no storage",
  tags: ["service"],
  security: [],
  responses: { 200: { content: { "application/json": { schema: healthSchema } }, description: "Up" } },
});

// A browser pointed at the API's root lands on its reference.
const root = createRoute({
  operationId: "redirectToDocs",
  method: "get",
  path: "/",
  summary: "The interactive reference (redirects to /docs)",
  tags: ["service"],
  security: [],
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
  .route("/games", seatingRouter)
  .route("/webhooks", webhooksRouter)
  .route("/orders", ordersRouter)
  .route("/users", usersRouter);

serveDocument(app);
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
