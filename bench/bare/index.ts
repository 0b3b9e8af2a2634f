// The platform's own speed, for `npm run bench` to measure this API against:
// a Hono Worker with one route, served by the same wrangler as the API.
import { Hono } from "hono";

const app = new Hono();
app.get("/health", (c) => c.json({ status: "ok" }));

export default app;
