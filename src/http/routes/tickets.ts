import { createRoute, type RouteConfig, z } from "@hono/zod-openapi";
import { etag } from "hono/etag";
import * as q from "../../db/queries";
import { ticketProblems } from "../../do/rules";
import type { BuyOutcome, ResyncOutcome, UpdateOutcome } from "../../do/ticket-seller";
import { assertActsFor, auth } from "../auth";
import { cacheFor } from "../cache";
import { idempotencyKey, keyReused } from "../idempotency";
import { openApiRouter } from "../openapi";
import { toPurchase, toTicket } from "../present";
import { notFound, outcomeUnknown, unavailable } from "../problem";
import {
  buySchema,
  createTicketSchema,
  gameIdParam,
  idempotencyHeader,
  listQuery,
  patchTicketSchema,
  problemSchema,
  purchaseSchema,
  ticketIdParam,
  ticketSchema,
  userIdParam,
} from "../schemas";
import { onTicket, rejectionError } from "../ticket-object";
import { jsonBody } from "../validate";

/** An order the object has not started by then is not run: its client has given up. */
const ORDER_DEADLINE_MS = 10_000;

/** A read of the read model; D1 failing is a 503 (nothing was changed), never a 500. */
async function read<T>(query: PromiseLike<T>): Promise<T> {
  try {
    return await query;
  } catch (err) {
    console.error(JSON.stringify({ level: "error", message: "read model query failed", error: String(err) }));
    throw unavailable("The read model is unavailable; nothing was changed. Retry shortly.");
  }
}

const json = <T>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
const descriptions: Record<number, string> = {
  400: "Invalid request: the failing fields are listed in `errors`",
  401: "Missing or invalid credentials",
  403: "These credentials may not do this",
  404: "Not found",
  409: "Refused",
  413: "Body over 16 KiB",
  415: "Body not sent as JSON",
  422: "Idempotency-Key already used with another body",
  503: "`unavailable`: the read model (D1) is down; retry after `Retry-After` seconds",
};
const problems = (statuses: number[], overrides: Record<number, string> = {}): RouteConfig["responses"] =>
  Object.fromEntries(
    statuses.map((s) => [
      s,
      {
        content: { "application/problem+json": { schema: problemSchema } },
        description: overrides[s] ?? descriptions[s]!,
      },
    ]),
  );
const bearer = [{ bearerAuth: [] }];
const RETRY_WITH_KEY =
  "`unavailable` or `overloaded`: nothing was done, for certain; retry after `Retry-After` seconds. " +
  "`outcome_unknown`: the ticket's object did not answer, so this may or may not have been done; " +
  "retry with the same `Idempotency-Key`, which answers the first result if there was one.";

const createTicket = createRoute({
  method: "post",
  path: "/",
  summary: "Create a ticket",
  tags: ["tickets"],
  security: bearer,
  middleware: [auth("admin"), jsonBody] as const,
  request: { headers: idempotencyHeader, body: { ...json(createTicketSchema, "The ticket"), required: true } },
  responses: {
    200: json(ticketSchema, "The ticket created"),
    ...problems([400, 401, 403, 413, 415, 422, 503], {
      503: "`outcome_unknown`: D1 did not answer, so the ticket may or may not exist; retry with the same `Idempotency-Key`",
    }),
  },
});

const buy = createRoute({
  method: "post",
  path: "/buy",
  summary: "Buy units of a ticket",
  description:
    "Admins buy for any user; a user only for themselves. The ticket's Durable Object decides and records the " +
    "purchase in one transaction; the answer comes once the read model holds it (waiting at most 2 s).",
  tags: ["purchases"],
  security: bearer,
  middleware: [auth("admin", "user"), jsonBody] as const,
  request: { headers: idempotencyHeader, body: { ...json(buySchema, "The order"), required: true } },
  responses: {
    200: json(purchaseSchema, "The purchase"),
    ...problems([400, 401, 403, 404, 409, 413, 415, 422, 503], {
      409: "Refused: `sold_out` (with `available`), `sales_closed` (with the sales window when outside it), or `user_limit` (with `max_per_user`, `bought`)",
      503: RETRY_WITH_KEY,
    }),
  },
});

const patchTicket = createRoute({
  method: "patch",
  path: "/{ticket_id}",
  summary: "Change a ticket",
  description:
    "Through the ticket's Durable Object: the change applies to the very next order. A new price applies to " +
    "new purchases only; lower limits leave existing purchases as they are. The game cannot change.",
  tags: ["tickets"],
  security: bearer,
  middleware: [auth("admin"), jsonBody] as const,
  request: {
    params: ticketIdParam,
    body: {
      content: {
        "application/merge-patch+json": { schema: patchTicketSchema },
        "application/json": { schema: patchTicketSchema },
      },
      description: "The fields to change",
      required: true,
    },
  },
  responses: {
    200: json(ticketSchema, "The ticket as its object now holds it"),
    ...problems([400, 401, 403, 404, 409, 413, 415, 503], {
      409: "`stock_below_sold` (with `sold`), or `currency_locked` (with `sold`)",
      503: "`unavailable`: nothing was changed. `outcome_unknown`: the change may or may not have been made; a PATCH sets values, so retrying it is safe",
    }),
  },
});

const resync = createRoute({
  method: "post",
  path: "/{ticket_id}/resync",
  summary: "Rebuild a ticket's read model from its object",
  description:
    "Rewrites the ticket and all its purchases in D1 from the ticket's Durable Object, and deletes D1 purchases of " +
    "the ticket the object does not have. Safe to repeat.",
  tags: ["tickets"],
  security: bearer,
  middleware: [auth("admin")] as const,
  request: { params: ticketIdParam },
  responses: {
    200: json(
      z.object({ ticket_id: z.int(), purchases: z.int() }).openapi("Resync"),
      "The read model now matches the object",
    ),
    ...problems([400, 401, 403, 404, 503], {
      503: "`unavailable` or `outcome_unknown`: D1 failed during the resync, which may be partly done; repeat it",
    }),
  },
});

const listTickets = createRoute({
  method: "get",
  path: "/",
  summary: "List all tickets (debug)",
  tags: ["tickets"],
  security: bearer,
  middleware: [auth("admin")] as const,
  request: { query: listQuery },
  responses: { 200: json(ticketSchema.array(), "Tickets ordered by id"), ...problems([400, 401, 403, 503]) },
});

const userPurchases = createRoute({
  method: "get",
  path: "/user/{user_id}",
  summary: "A user's purchases, newest first",
  tags: ["purchases"],
  security: bearer,
  middleware: [auth("admin", "user")] as const,
  request: { params: userIdParam },
  responses: { 200: json(purchaseSchema.array(), "The purchases"), ...problems([400, 401, 403, 404, 503]) },
});

// The catalogue is public and cacheable: availability is at most 2 seconds old.
const catalogue = [cacheFor(2), etag()];
const notModified = { 304: { description: "Not modified: your copy (If-None-Match) is current" } };

const gameTickets = createRoute({
  method: "get",
  path: "/game/{game_id}",
  summary: "A game's tickets",
  tags: ["tickets"],
  middleware: catalogue,
  request: { params: gameIdParam },
  responses: {
    200: json(ticketSchema.array(), "Tickets ordered by id"),
    ...notModified,
    ...problems([400, 404, 503]),
  },
});

const getTicket = createRoute({
  method: "get",
  path: "/{ticket_id}",
  summary: "One ticket",
  tags: ["tickets"],
  middleware: catalogue,
  request: { params: ticketIdParam },
  responses: { 200: json(ticketSchema, "The ticket"), ...notModified, ...problems([400, 404, 503]) },
});

export const ticketsRouter = openApiRouter()
  .openapi(createTicket, async (c) => {
    const body = c.req.valid("json");
    const { price, ...rest } = body;
    const refused = ticketProblems(body);
    if (refused) throw rejectionError(refused);
    let row: Awaited<ReturnType<typeof q.createTicketOnce>>;
    try {
      row = await q.createTicketOnce(
        q.database(c.env.DB),
        { ...rest, price_minor: Math.round(price * 100) },
        await idempotencyKey(c, body),
      );
    } catch (err) {
      console.error(JSON.stringify({ level: "error", message: "ticket creation failed", error: String(err) }));
      throw outcomeUnknown("D1 did not answer; the ticket may or may not exist. Retry with the same Idempotency-Key.");
    }
    if (row === "key_reused") throw keyReused();
    // Hand the new ticket to its object now, so its first sale needs no D1 read;
    // if this fails, the object takes it over from D1 on first use instead.
    const created = row;
    await c.env.TICKET_SELLER.getByName(String(row.id))
      .adopt(row.id, row)
      .catch((err) =>
        console.error(
          JSON.stringify({ level: "error", message: "adopt failed", ticket_id: created.id, error: String(err) }),
        ),
      );
    return c.json(toTicket(row), 200);
  })
  .openapi(buy, async (c) => {
    const body = c.req.valid("json");
    assertActsFor(c.get("principal"), body.user_id);
    c.set("ticketId", body.ticket_id);
    const { user_id, quantity } = body;
    const order = {
      user_id,
      quantity,
      idempotency: await idempotencyKey(c, body),
      deadline: Date.now() + ORDER_DEADLINE_MS,
    };
    const outcome = await onTicket<BuyOutcome>(
      c.env,
      body.ticket_id,
      (t) => t.buy(body.ticket_id, order),
      "Retry with the same Idempotency-Key: it answers the purchase if there was one.",
    );
    if (!outcome.ok) throw rejectionError(outcome);
    return c.json(toPurchase(outcome.purchase), 200);
  })
  .openapi(patchTicket, async (c) => {
    const { ticket_id } = c.req.valid("param");
    c.set("ticketId", ticket_id);
    const { price, game_id: _, ...rest } = c.req.valid("json");
    const patch = price === undefined ? rest : { ...rest, price_minor: Math.round(price * 100) };
    const outcome = await onTicket<UpdateOutcome>(
      c.env,
      ticket_id,
      (t) => t.update(ticket_id, patch),
      "A PATCH sets values: retrying it is safe.",
    );
    if (!outcome.ok) throw rejectionError(outcome);
    return c.json(toTicket(outcome.ticket), 200);
  })
  .openapi(resync, async (c) => {
    const { ticket_id } = c.req.valid("param");
    c.set("ticketId", ticket_id);
    const outcome = await onTicket<ResyncOutcome>(
      c.env,
      ticket_id,
      (t) => t.resync(ticket_id),
      "A resync is safe to repeat.",
    );
    if (!outcome.ok) throw rejectionError(outcome);
    return c.json({ ticket_id, purchases: outcome.purchases }, 200);
  })
  .openapi(listTickets, async (c) => {
    const { skip, limit } = c.req.valid("query");
    const rows = await read(q.listTickets(q.database(c.env.DB), skip, limit));
    return c.json(rows.map(toTicket), 200);
  })
  .openapi(userPurchases, async (c) => {
    const { user_id } = c.req.valid("param");
    assertActsFor(c.get("principal"), user_id);
    const rows = await read(q.listPurchasesByUser(q.database(c.env.DB), user_id));
    if (rows.length === 0) throw notFound("This user has no purchases.");
    return c.json(rows.map(toPurchase), 200);
  })
  .openapi(gameTickets, async (c) => {
    const rows = await read(q.listTicketsByGame(q.database(c.env.DB), c.req.valid("param").game_id));
    if (rows.length === 0) throw notFound("This game has no tickets.");
    return c.json(rows.map(toTicket), 200);
  })
  .openapi(getTicket, async (c) => {
    const { ticket_id } = c.req.valid("param");
    c.set("ticketId", ticket_id);
    const row = await read(q.getTicket(q.database(c.env.DB), ticket_id));
    if (!row) throw notFound("No ticket has this id.");
    return c.json(toTicket(row), 200);
  });
