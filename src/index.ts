import { Hono } from "hono";
import { ApiError, problem, toApiError } from "./http/problem";
import { ticketsRouter } from "./http/routes/tickets";

export { TicketSeller } from "./do/ticket-seller";

const app = new Hono<{ Bindings: Env }>()
  // Liveness: answers without touching D1.
  .get("/health", (c) => c.json({ status: "ok" }))
  .route("/tickets", ticketsRouter);

app.onError((err, c) => problem(c, toApiError(err)));
app.notFound((c) => problem(c, new ApiError(404, "not_found", `No route for ${c.req.method} ${c.req.path}.`)));

export type AppType = typeof app;
export default app;
