import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import { etag } from "hono/etag";
import * as q from "../../db/queries";
import type { BuyOutcome, OrderRequest, Rejection } from "../../do/ticket-seller";
import { assertActsFor, auth } from "../auth";
import { cacheFor } from "../cache";
import { idempotencyKey, keyReused } from "../idempotency";
import { openApiRouter } from "../openapi";
import { toPurchase, toTicket } from "../present";
import { ApiError, invalid, notFound, unavailable } from "../problem";
import {
  buySchema,
  createTicketSchema,
  gameIdParam,
  idempotencyHeader,
  listQuery,
  problemSchema,
  purchaseSchema,
  ticketIdParam,
  ticketSchema,
  userIdParam,
} from "../schemas";
import { jsonBody } from "../validate";

function refusalError(refusal: Rejection): ApiError {
  switch (refusal.code) {
    case "not_found":
      return notFound("No ticket has this id.");
    case "over_max_per_order":
      return invalid([{ field: "quantity", message: `must be at most ${refusal.max_per_order} for this ticket` }]);
    case "sales_closed":
      return new ApiError(409, "sales_closed", "This ticket is not on sale.");
    case "sold_out":
      return new ApiError(409, "sold_out", `Only ${refusal.available} left.`, { available: refusal.available });
    case "user_limit":
      return new ApiError(
        409,
        "user_limit",
        `At most ${refusal.max_per_user} per user; this user has ${refusal.bought}.`,
        { max_per_user: refusal.max_per_user, bought: refusal.bought },
      );
    case "key_reused":
      return keyReused();
    case "unavailable":
      return unavailable("The purchase could not be completed; nothing was bought. Retry shortly.");
  }
}

/** Sends the order to the ticket's own seller object. */
async function sell(env: Env, ticketId: number, order: OrderRequest): Promise<BuyOutcome> {
  try {
    return await env.TICKET_SELLER.getByName(String(ticketId)).buy(ticketId, order);
  } catch (err) {
    // The object was reset, overloaded or unreachable: the outcome is unknown,
    // so no retry here; the client retries, with its Idempotency-Key if it has one.
    console.error(
      JSON.stringify({ level: "error", message: "ticket seller call failed", ticket_id: ticketId, error: String(err) }),
    );
    throw unavailable("The ticket could not take the order right now. Retry with the same Idempotency-Key.");
  }
}

const json = <T>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
const problems = (...statuses: number[]): RouteConfig["responses"] =>
  Object.fromEntries(
    statuses.map((s) => [
      s,
      { content: { "application/problem+json": { schema: problemSchema } }, description: descriptions[s]! },
    ]),
  );
const descriptions: Record<number, string> = {
  400: "Invalid request: the failing fields are listed in `errors`",
  401: "Missing or invalid credentials",
  403: "These credentials may not do this",
  404: "Not found",
  409: "Refused: `sold_out` (with `available`), `sales_closed`, or `user_limit` (with `max_per_user`, `bought`)",
  413: "Body over 16 KiB",
  415: "Body not sent as application/json",
  422: "Idempotency-Key already used with another body",
  503: "Could not complete now; nothing was done. Retry after `Retry-After` seconds",
};
const bearer = [{ bearerAuth: [] }];

const createTicket = createRoute({
  method: "post",
  path: "/",
  summary: "Create a ticket",
  tags: ["tickets"],
  security: bearer,
  middleware: [auth("admin"), jsonBody] as const,
  request: { headers: idempotencyHeader, body: { ...json(createTicketSchema, "The ticket"), required: true } },
  responses: { 200: json(ticketSchema, "The ticket created"), ...problems(400, 401, 403, 413, 415, 422) },
});

const buy = createRoute({
  method: "post",
  path: "/buy",
  summary: "Buy units of a ticket",
  description:
    "Admins buy for any user; a user only for themselves. Purchases of one ticket are serialized by its Durable Object.",
  tags: ["purchases"],
  security: bearer,
  middleware: [auth("admin", "user"), jsonBody] as const,
  request: { headers: idempotencyHeader, body: { ...json(buySchema, "The order"), required: true } },
  responses: { 200: json(purchaseSchema, "The purchase"), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
});

const listTickets = createRoute({
  method: "get",
  path: "/",
  summary: "List all tickets (debug)",
  tags: ["tickets"],
  security: bearer,
  middleware: [auth("admin")] as const,
  request: { query: listQuery },
  responses: { 200: json(ticketSchema.array(), "Tickets ordered by id"), ...problems(400, 401, 403) },
});

const userPurchases = createRoute({
  method: "get",
  path: "/user/{user_id}",
  summary: "A user's purchases, newest first",
  tags: ["purchases"],
  security: bearer,
  middleware: [auth("admin", "user")] as const,
  request: { params: userIdParam },
  responses: { 200: json(purchaseSchema.array(), "The purchases"), ...problems(400, 401, 403, 404) },
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
  responses: { 200: json(ticketSchema.array(), "Tickets ordered by id"), ...notModified, ...problems(400, 404) },
});

const getTicket = createRoute({
  method: "get",
  path: "/{ticket_id}",
  summary: "One ticket",
  tags: ["tickets"],
  middleware: catalogue,
  request: { params: ticketIdParam },
  responses: { 200: json(ticketSchema, "The ticket"), ...notModified, ...problems(400, 404) },
});

export const ticketsRouter = openApiRouter()
  .openapi(createTicket, async (c) => {
    const body = c.req.valid("json");
    const { price, ...rest } = body;
    const row = await q.createTicketOnce(
      q.database(c.env.DB),
      { ...rest, price_minor: Math.round(price * 100) },
      await idempotencyKey(c, body),
    );
    if (row === "key_reused") throw keyReused();
    return c.json(toTicket(row), 200);
  })
  .openapi(buy, async (c) => {
    const body = c.req.valid("json");
    assertActsFor(c.get("principal"), body.user_id);
    c.set("ticketId", body.ticket_id);
    const { user_id, quantity } = body;
    const outcome = await sell(c.env, body.ticket_id, {
      user_id,
      quantity,
      idempotency: await idempotencyKey(c, body),
    });
    if (!outcome.ok) throw refusalError(outcome);
    return c.json(toPurchase(outcome.purchase), 200);
  })
  .openapi(listTickets, async (c) => {
    const { skip, limit } = c.req.valid("query");
    const rows = await q.listTickets(q.database(c.env.DB), skip, limit);
    return c.json(rows.map(toTicket), 200);
  })
  .openapi(userPurchases, async (c) => {
    const { user_id } = c.req.valid("param");
    assertActsFor(c.get("principal"), user_id);
    const rows = await q.listPurchasesByUser(q.database(c.env.DB), user_id);
    if (rows.length === 0) throw notFound("This user has no purchases.");
    return c.json(rows.map(toPurchase), 200);
  })
  .openapi(gameTickets, async (c) => {
    const rows = await q.listTicketsByGame(q.database(c.env.DB), c.req.valid("param").game_id);
    if (rows.length === 0) throw notFound("This game has no tickets.");
    return c.json(rows.map(toTicket), 200);
  })
  .openapi(getTicket, async (c) => {
    const { ticket_id } = c.req.valid("param");
    c.set("ticketId", ticket_id);
    const row = await q.getTicket(q.database(c.env.DB), ticket_id);
    if (!row) throw notFound("No ticket has this id.");
    return c.json(toTicket(row), 200);
  });
