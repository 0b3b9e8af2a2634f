import type { OpenAPIHono } from "@hono/zod-openapi";
import { EVENT_TYPES, type EventType } from "../events/types";
import type { AppEnv } from "./context";
import { eventSchemas, webhookHeaders } from "./schemas/events";

// The OpenAPI document at /openapi.json: the routes' own definitions, plus
// what only the document says (how to authenticate, where the API runs, what
// each tag is about). openapi/openapi.json is a copy, checked by the tests.

const TOKENS =
  "Locally, with `npm run dev` running, `npm run -s token -- --admin` (the admin), `npm run -s token -- --user 42` " +
  "(user 42) or `npm run -s token -- --gate 1` (a scanner of game 1) prints an `Authorization` header: paste " +
  "the token after `Bearer ` into **Authorize**.";

const description = `Sells tickets for sports games.

**Credentials.** Operations with a lock take \`Authorization: Bearer <token>\`: the admin token, a user's JWT (acts for that user) or a gate scanner's JWT (scans the games it lists). ${TOKENS}

**Errors.** Every error is an RFC 9457 problem document (\`application/problem+json\`) with a stable \`code\`; each error answer below has an example per code it can carry.

**Retries.** \`POST /tickets\`, \`/tickets/buy\`, \`/tickets/hold\` and \`/orders\` take an \`Idempotency-Key\`: a new one per order, the same one to retry it.

**Webhooks.** The events sent to the endpoints registered with \`POST /webhooks\` are listed under Webhooks, with their payloads and signature headers.`;

/** When each event is sent. */
const events: Record<EventType, string> = {
  "ticket.created": "A ticket was created (`POST /tickets`): the ticket as D1 holds it when the event is sent.",
  "ticket.updated": "A ticket was changed (`PATCH /tickets/{ticket_id}`): the ticket after the change.",
  "ticket.sold_out": "A sale, hold or change took the last free units: the ticket, with `available` 0.",
  "purchase.held": "A hold was made (`POST /tickets/hold`).",
  "purchase.updated":
    "A purchase changed in place: a hold's new end after a checkout (`expires_at`), or a partial refund made.",
  "purchase.confirmed": "A purchase was confirmed: bought at once, or a hold confirmed by the admin or paid.",
  "purchase.cancelled":
    "A purchase was cancelled: by its owner or the admin, by Stripe's expired session, or with its last entry.",
  "purchase.expired": "A hold ended unpaid at `expires_at`; its units went back to the ticket.",
  "purchase.refunded": "A purchase ended refunded, once Stripe has made the refund.",
  "entry.checked_in":
    "An entry was admitted at a gate (its first admission only); `conflict` or `admitted_with` for offline admissions.",
  "entry.check_in_undone": "The admin undid an entry's check-in (`DELETE /checkins/{entry_id}`): it is valid again.",
  "entry.cancelled": "An entry was cancelled before check-in; its unit went back to the ticket.",
  "entry.reissued": "An entry's code was reissued: the new entry, with `replaces`, the entry now revoked.",
  "order.held":
    "An order was placed: every line is held (`POST /orders`). Its lines' purchase events carry `order_id`.",
  "order.updated": "An order's checkout lengthened it: its new `expires_at` (every line is held as long).",
  "order.confirmed": "An order was confirmed, every line with it: paid, or by the box office.",
  "order.cancelled": "An order was cancelled: by its owner or the box office, or its session expired at Stripe.",
  "order.expired": "An order's deadline passed unpaid: every line's units went back.",
  "order.refunded":
    "An order's payment is given back whole (paid after it expired with a line's units gone) or, after the box " +
    "office cancelled a paid order, once every line's refund was made.",
};

const camel = (type: EventType) => type.replace(/[._](\w)/g, (_, c: string) => c.toUpperCase());

export function serveDocument(app: OpenAPIHono<AppEnv>): void {
  for (const type of EVENT_TYPES) {
    app.openAPIRegistry.registerWebhook({
      method: "post",
      path: type,
      operationId: camel(type),
      summary: type,
      description: `${events[type]} Sent to the endpoints registered for it, signed (Standard Webhooks).`,
      tags: ["webhooks"],
      security: [], // the receiver checks webhook-signature instead
      request: {
        headers: webhookHeaders,
        body: { content: { "application/json": { schema: eventSchemas[type] } }, required: true },
      },
      responses: {
        200: { description: "Delivered: any 2xx answer within 10 s" },
        410: { description: "Gone: the endpoint is disabled, and nothing more is sent to it" },
        default: {
          description:
            "Anything else (no answer in 10 s, a 5xx, a redirect, which is not followed): retried after 1 minute, " +
            "doubling to 12 hours, 15 times; then the delivery is dead and an admin can retry it",
        },
      },
    });
  }

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
        name: "orders",
        description:
          "A basket over several tickets: held all or nothing (each line in its ticket's object), paid once with one " +
          "Stripe Checkout Session, confirmed or cancelled as a whole; a fan's orders with their entries.",
      },
      {
        name: "payments",
        description: "Stripe's webhook: confirms, cancels or refunds from Checkout events. Called by Stripe only.",
      },
      {
        name: "seating",
        description:
          "A game's seat map (JSON or CSV), which seats are free (a bitmap per row), and seats taken off sale. Each " +
          "block's seats are owned by the block's Durable Object; seated tickets hold and buy them there.",
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
