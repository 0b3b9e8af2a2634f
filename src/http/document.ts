import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./context";

// The OpenAPI document at /openapi.json: the routes' own definitions, plus
// what only the document says (how to authenticate, where the API runs, what
// each tag is about). openapi/openapi.json is a copy, checked by the tests.

const TOKENS =
  "Locally, with `npm run dev` running, `npm run -s token -- --admin` prints the admin's `Authorization` header, " +
  "`npm run -s token -- --user 42` user 42's, and `npm run -s token -- --gate 1` a scanner's for game 1; " +
  "paste the part after `Bearer ` into **Authorize**.";

const description = `Sells tickets for sports games.

**Credentials.** Operations with a lock take \`Authorization: Bearer <token>\`: the admin token, a user's JWT (acts for that user) or a gate scanner's JWT (scans the games it lists). ${TOKENS}

**Errors.** Every error is an RFC 9457 problem document (\`application/problem+json\`) with a stable \`code\`; each error answer below has an example per code it can carry.

**Retries.** \`POST /tickets\`, \`/tickets/buy\` and \`/tickets/hold\` take an \`Idempotency-Key\`: a new one per order, the same one to retry it.

**Webhooks.** The events sent to the endpoints registered with \`POST /webhooks\` are listed under Webhooks, with their payloads and signature headers.`;

export function serveDocument(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description:
      "The admin token, or a user's or gate scanner's JWT (HS256 with the API's secret, or RS256/ES256 from the " +
      `identity provider). ${TOKENS}`,
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "Ticket sales API", version: "1.0.0", description },
    servers: [
      { url: "http://localhost:8787", description: "Local development (`npm run dev`)" },
      {
        url: "https://{host}",
        description: "A deployment (`npm run deploy`): set `host` to its workers.dev host or custom domain",
        variables: {
          host: {
            default: "ticket-sales-api.your-subdomain.workers.dev",
            description: "ticket-sales-api.<your workers.dev subdomain>.workers.dev, or the worker's custom domain",
          },
        },
      },
    ],
    tags: [
      {
        name: "tickets",
        description:
          "A game's ticket types and their availability: the public catalogue (cacheable for 2 s) and the admin's " +
          "create, change, list and resync. Each ticket is owned by its Durable Object.",
      },
      {
        name: "purchases",
        description:
          "Buy or hold units of a ticket (with an `Idempotency-Key`), then a purchase's life: read it exactly, " +
          "confirm, cancel, pay with Stripe Checkout.",
      },
      {
        name: "payments",
        description: "Stripe's webhook: confirms, cancels or refunds from Checkout events. Called by Stripe only.",
      },
      {
        name: "entries",
        description:
          "A confirmed purchase's entries, one per person admitted, each with a signed code: cancel one before " +
          "check-in, or reissue its code.",
      },
      {
        name: "gate",
        description:
          "Check-in for scanners with a gate token: scan a code, upload offline scans, the public keys that verify " +
          "codes offline and the feed of changes; the admin undoes a mistaken scan.",
      },
      {
        name: "webhooks",
        description:
          "Admin: endpoints that receive the events listed under Webhooks (signed, at least once), and their deliveries.",
      },
      { name: "service", description: "Liveness, for load balancers and monitors." },
    ],
  });
}
