import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Setup files may run more than once; only pending migrations are applied.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

// Purchase ids restart in every test file's own D1, but the stand-in for
// Stripe lives for the whole run and keeps its idempotency keys (which name
// purchases): each file's ids start somewhere else.
await env.DB.prepare("UPDATE sequences SET next = next + ? WHERE name = 'purchases'")
  .bind(Math.floor(Math.random() * 1e6) * 100_000)
  .run();
