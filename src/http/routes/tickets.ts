import { waitUntil } from "cloudflare:workers";
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { etag } from "hono/etag";
import * as q from "../../db/queries";
import type { SeatCounts } from "../../db/schema";
import { sendCreations } from "../../events/consumer";
import { toPurchase, toTicket } from "../../present";
import { ticketProblems } from "../../ticket/rules";
import type { PurchaseOutcome, ResyncOutcome, UpdateOutcome } from "../../ticket/ticket-seller";
import { assertActsFor, auth, buyerOf, keysUnavailable, notYours } from "../auth";
import { cacheFor } from "../cache";
import type { AppEnv } from "../context";
import { afterCursor, cursorOf } from "../cursor";
import { idempotencyKey, keyReused } from "../idempotency";
import { bearer, json, objectCall, openApiRouter, problems } from "../openapi";
import { notFound, outcomeUnknown } from "../problem";
import { read } from "../read-model";
import {
  buySchema,
  createTicketSchema,
  gameIdParam,
  heldExample,
  idempotencyHeader,
  listQuery,
  patchTicketSchema,
  purchaseSchema,
  ticketIdParam,
  ticketSchema,
  userIdParam,
  userPurchasesQuery,
} from "../schemas";
import { onTicket, rejectionError } from "../ticket-object";
import { jsonBody } from "../validate";

/** A seated ticket's stock in its own row: a bound its units never reach (a game has at most 100,000 seats). */
const SEATED_STOCK = 1_000_000;

/** A best-available pick's time inside its block, and whether it left a single empty seat (for the benchmark). */
const seatPickTiming = (p: { ms: number; lone: boolean; alternative: boolean }) =>
  `seat-pick;dur=${p.ms};desc="lone=${Number(p.lone)} alternative=${Number(p.alternative)}"`;

/** An order the object has not started by then is not run: its client has given up. */
const ORDER_DEADLINE_MS = 10_000;
const ORDER_RETRY = "Retry with the same Idempotency-Key: it answers the purchase if there was one.";
const PATCH_RETRY = "A PATCH sets values: retrying it is safe.";
const RESYNC_RETRY = "A resync is safe to repeat.";

// Stripe's convention: an answer repeated for a known Idempotency-Key says so.
const REPLAYED = { "Idempotent-Replayed": "true" } as const;
const replayed = z.object({
  "Idempotent-Replayed": z
    .literal("true")
    .optional()
    .openapi({ description: "Present on the answer to a repeat of an earlier request with the same Idempotency-Key" }),
});

const createTicket = createRoute({
  operationId: "createTicket",
  method: "post",
  path: "/",
  summary: "Create a ticket",
  tags: ["tickets"],
  security: bearer,
  middleware: [auth("admin"), jsonBody] as const,
  request: { headers: idempotencyHeader, body: { ...json(createTicketSchema, "The ticket"), required: true } },
  responses: {
    200: { ...json(ticketSchema, "The ticket created (or, for a repeated key, created before)"), headers: replayed },
    ...problems([400, 401, 403, 413, 415, 422, 503], {
      422: { examples: [keyReused("ticket creation")] },
      503: {
        description:
          "`unavailable`: a user's token could not be checked; nothing was done. `outcome_unknown`: D1 did not " +
          "answer, so the ticket may or may not exist; retry with the same `Idempotency-Key`",
        examples: [
          keysUnavailable(),
          outcomeUnknown("D1 did not answer; the ticket may or may not exist. Retry with the same Idempotency-Key."),
        ],
      },
    }),
  },
});

const buy = createRoute({
  operationId: "buyTicket",
  method: "post",
  path: "/buy",
  summary: "Buy units of a ticket",
  description:
    "Admins buy for any user; a user only for themselves. The purchase is `confirmed` at once (box office, free " +
    "tickets, admin sales). The ticket's Durable Object decides and records it in one transaction; the answer " +
    "comes once the read model holds it (waiting at most 2 s).",
  tags: ["purchases"],
  security: bearer,
  middleware: [auth("admin", "user"), jsonBody] as const,
  request: { headers: idempotencyHeader, body: { ...json(buySchema, "The order"), required: true } },
  responses: {
    200: { ...json(purchaseSchema, "The purchase"), headers: replayed },
    ...problems([400, 401, 403, 404, 409, 413, 415, 422, 503], {
      403: { examples: [notYours()] },
      409: {
        description:
          "Refused: `sold_out` (with `available`), `sales_closed` (with the sales window when outside it), `user_limit` (with `max_per_user`, `bought`), or for seats named, `seat_taken` (with `seats`)",
        examples: ["sold_out", "sales_closed", "user_limit", "seat_taken", "hold_expired"],
      },
      503: objectCall(ORDER_RETRY),
    }),
  },
});

const hold = createRoute({
  operationId: "holdTicket",
  method: "post",
  path: "/hold",
  summary: "Hold units of a ticket while the buyer pays",
  description:
    "Like a purchase, but `held` until `expires_at` (the ticket's `hold_seconds`): then it is `expired` and its " +
    "units go back, to the second. Confirm it (`POST /purchases/{id}/confirm`), pay for it " +
    "(`POST /purchases/{id}/checkout`) or cancel it. Held units count against `max_per_user`.",
  tags: ["purchases"],
  security: bearer,
  middleware: [auth("admin", "user"), jsonBody] as const,
  request: { headers: idempotencyHeader, body: { ...json(buySchema, "The order"), required: true } },
  responses: {
    201: {
      content: { "application/json": { schema: purchaseSchema, example: heldExample } },
      description: "The hold (a replay with the same key answers the same purchase, as it now is)",
      headers: z.object({ Location: z.string().openapi({ example: "/purchases/1000000000" }) }).extend(replayed.shape),
    },
    ...problems([400, 401, 403, 404, 409, 413, 415, 422, 503], {
      403: { examples: [notYours()] },
      409: {
        description:
          "Refused: `sold_out` (with `available`), `sales_closed`, `user_limit` (held and confirmed units count), or " +
          "for seats named, `seat_taken` (with `seats`: held, sold or off sale)",
        examples: ["sold_out", "sales_closed", "user_limit", "seat_taken", "hold_expired"],
      },
      503: objectCall(ORDER_RETRY),
    }),
  },
});

const patchTicket = createRoute({
  operationId: "updateTicket",
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
      409: {
        description: "`stock_below_sold` or `currency_locked` (with `sold` and `held`)",
        examples: ["stock_below_sold", "currency_locked"],
      },
      503: objectCall(PATCH_RETRY),
    }),
  },
});

const resync = createRoute({
  operationId: "resyncTicket",
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
      z
        .object({ ticket_id: z.int(), purchases: z.int() })
        .openapi("Resync", { example: { ticket_id: 1, purchases: 126 } }),
      "The read model now matches the object",
    ),
    ...problems([400, 401, 403, 404, 503], {
      503: objectCall(RESYNC_RETRY),
    }),
  },
});

const listTickets = createRoute({
  operationId: "listTickets",
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
  operationId: "listUserPurchases",
  method: "get",
  path: "/user/{user_id}",
  summary: "A user's purchases, newest first",
  tags: ["purchases"],
  security: bearer,
  middleware: [auth("admin", "user")] as const,
  request: { params: userIdParam, query: userPurchasesQuery },
  responses: {
    200: {
      ...json(purchaseSchema.array(), "The purchases in every state (or in `status`), newest first"),
      headers: z.object({
        Link: z.string().optional().openapi({
          description: 'With `limit`, when there are more: `<...?limit=20&cursor=...>; rel="next"`',
          example:
            '</tickets/user/42?limit=20&cursor=WyIyMDI2LTExLTI5VDE5OjQwOjAxLjAwMFoiLDEwMDAwMDAwMDBd>; rel="next"',
        }),
      }),
    },
    ...problems([400, 401, 403, 404, 503], {
      403: { examples: [notYours()] },
      404: {
        description: "The user has no purchases (without a `status` filter)",
        examples: [notFound("This user has no purchases.")],
      },
    }),
  },
});

// The catalogue is public and cacheable: availability is at most 2 seconds old.
const catalogue = [cacheFor(2), etag()];
const notModified = { 304: { description: "Not modified: your copy (If-None-Match) is current" } };

const gameTickets = createRoute({
  operationId: "listGameTickets",
  method: "get",
  path: "/game/{game_id}",
  summary: "A game's tickets",
  tags: ["tickets"],
  security: [],
  middleware: catalogue,
  request: { params: gameIdParam },
  responses: {
    200: json(ticketSchema.array(), "Tickets ordered by id"),
    ...notModified,
    ...problems([400, 404, 503], { 404: { examples: [notFound("This game has no tickets.")] } }),
  },
});

const getTicket = createRoute({
  operationId: "getTicket",
  method: "get",
  path: "/{ticket_id}",
  summary: "One ticket",
  tags: ["tickets"],
  security: [],
  middleware: catalogue,
  request: { params: ticketIdParam },
  responses: { 200: json(ticketSchema, "The ticket"), ...notModified, ...problems([400, 404, 503]) },
});

type ShownTicket = ReturnType<typeof toTicket>;
type TicketRows = Parameters<typeof toTicket>[0][];

/**
 * Tickets as the API shows them: a seated one with its categories' seats
 * counted over the game's blocks (D1). `after`: the answer of a change that
 * is made, which a failed read of the counts must not turn into a 503.
 */
async function presentTickets(c: Context<AppEnv>, rows: TicketRows, after = false): Promise<ShownTicket[]> {
  const games = rows.filter((r) => r.seating !== null).map((r) => r.game_id);
  if (games.length === 0) return rows.map((r) => toTicket(r));
  const counts = await read(c, (db) => q.seatCountsOf(db, games)).catch((err) => {
    if (!after) throw err;
    return new Map<number, SeatCounts>();
  });
  return rows.map((r) => toTicket(r, r.seating === null ? undefined : (counts.get(r.game_id) ?? {})));
}

/** Sends a purchase or a hold to the ticket's object. */
async function order(c: Context<AppEnv>, given: z.infer<typeof buySchema>, kind: "buy" | "hold") {
  const { seats, best_available, ...rest } = given;
  // Hashed for its Idempotency-Key as before seats existed: an unseated order's body is unchanged.
  const body = {
    ...rest,
    user_id: buyerOf(c.get("principal"), given.user_id),
    quantity: given.quantity ?? seats?.length ?? 1,
    ...(seats ? { seats } : {}),
    ...(best_available ? { best_available } : {}),
  };
  c.set("ticketId", body.ticket_id);
  const request = {
    user_id: body.user_id,
    quantity: body.quantity,
    seats,
    best: best_available,
    // A key is bound to what it asked for: the same key and body as a hold and as a purchase are two orders.
    idempotency: await idempotencyKey(c, kind === "hold" ? { hold: true, ...body } : body),
    deadline: Date.now() + ORDER_DEADLINE_MS,
  };
  const outcome = await onTicket<PurchaseOutcome>(
    c,
    body.ticket_id,
    (t) => (kind === "hold" ? t.hold(body.ticket_id, request) : t.buy(body.ticket_id, request)),
    ORDER_RETRY,
  );
  if (!outcome.ok) throw rejectionError(outcome);
  return outcome;
}

export const ticketsRouter = openApiRouter()
  .openapi(createTicket, async (c) => {
    const body = c.req.valid("json");
    const { price, seating, stock, ...rest } = body;
    const refused = ticketProblems(body);
    if (refused) throw rejectionError(refused);
    let row: Awaited<ReturnType<typeof q.createTicketOnce>>;
    try {
      row = await q.createTicketOnce(
        q.database(c.get("d1").primary), // its bookmark goes back with the answer
        {
          ...rest,
          price_minor: Math.round(price * 100),
          // A seated ticket's stock is its seats, counted in their blocks: its own row only bounds its units.
          stock: seating ? SEATED_STOCK : stock!,
          seating: seating ? JSON.stringify(seating) : null,
        },
        await idempotencyKey(c, body),
      );
    } catch (err) {
      console.error(JSON.stringify({ level: "error", message: "ticket creation failed", error: String(err) }));
      throw outcomeUnknown("D1 did not answer; the ticket may or may not exist. Retry with the same Idempotency-Key.");
    }
    if (row === "key_reused") throw keyReused("ticket creation");
    const { ticket, replayed } = row;
    // Its ticket.created event, written with it, goes to the queue now (or on the cron's sweep).
    waitUntil(
      sendCreations(c.env).catch((err) =>
        console.error(
          JSON.stringify({ level: "error", message: "sending creation events failed", error: String(err) }),
        ),
      ),
    );
    // A ticket id names its object: it must survive the trip through JSON and numbers.
    if (!Number.isSafeInteger(ticket.id)) throw new Error(`ticket id ${ticket.id} is past Number.MAX_SAFE_INTEGER`);
    // Hand the new ticket to its object now, so its first sale needs no D1 read;
    // if this fails, the object takes it over from D1 on first use instead.
    await c.env.TICKET_SELLER.getByName(String(ticket.id))
      .adopt(ticket.id, ticket)
      .catch((err) =>
        console.error(
          JSON.stringify({ level: "error", message: "adopt failed", ticket_id: ticket.id, error: String(err) }),
        ),
      );
    const [shown] = await presentTickets(c, [ticket], true);
    return c.json(shown!, 200, replayed ? REPLAYED : {});
  })
  .openapi(buy, async (c) => {
    const { purchase, replayed, pick } = await order(c, c.req.valid("json"), "buy");
    if (pick) c.header("Server-Timing", seatPickTiming(pick), { append: true });
    return c.json(toPurchase(purchase), 200, replayed ? REPLAYED : {});
  })
  .openapi(hold, async (c) => {
    const { purchase, replayed, pick } = await order(c, c.req.valid("json"), "hold");
    if (pick) c.header("Server-Timing", seatPickTiming(pick), { append: true });
    return c.json(toPurchase(purchase), 201, { Location: `/purchases/${purchase.id}`, ...(replayed ? REPLAYED : {}) });
  })
  .openapi(patchTicket, async (c) => {
    const { ticket_id } = c.req.valid("param");
    c.set("ticketId", ticket_id);
    const { price, game_id: _, ...rest } = c.req.valid("json");
    const patch = price === undefined ? rest : { ...rest, price_minor: Math.round(price * 100) };
    const outcome = await onTicket<UpdateOutcome>(c, ticket_id, (t) => t.update(ticket_id, patch), PATCH_RETRY);
    if (!outcome.ok) throw rejectionError(outcome);
    const [shown] = await presentTickets(c, [outcome.ticket], true);
    return c.json(shown!, 200);
  })
  .openapi(resync, async (c) => {
    const { ticket_id } = c.req.valid("param");
    c.set("ticketId", ticket_id);
    const outcome = await onTicket<ResyncOutcome>(c, ticket_id, (t) => t.resync(ticket_id), RESYNC_RETRY);
    if (!outcome.ok) throw rejectionError(outcome);
    return c.json({ ticket_id, purchases: outcome.purchases }, 200);
  })
  .openapi(listTickets, async (c) => {
    const { skip, limit } = c.req.valid("query");
    const rows = await read(c, (db) => q.listTickets(db, skip, limit));
    return c.json(await presentTickets(c, rows), 200);
  })
  .openapi(userPurchases, async (c) => {
    const { user_id } = c.req.valid("param");
    const { status, limit, cursor } = c.req.valid("query");
    assertActsFor(c.get("principal"), user_id);
    const after = cursor ? afterCursor<number>(cursor, "number") : null;
    const paged = limit ?? (after ? 20 : undefined);
    const rows = await read(c, (db) => q.listPurchasesByUser(db, user_id, status, after, paged && paged + 1));
    if (rows.length === 0 && !status && !after) throw notFound("This user has no purchases.");
    const page = paged === undefined ? rows : rows.slice(0, paged);
    const last = page.at(-1);
    if (paged === undefined || rows.length <= paged || !last) return c.json(page.map(toPurchase), 200);
    const next = new URLSearchParams({
      ...(status ? { status } : {}),
      limit: String(paged),
      cursor: cursorOf(last.created_at, last.id),
    });
    return c.json(page.map(toPurchase), 200, { Link: `</tickets/user/${user_id}?${next}>; rel="next"` });
  })
  .openapi(gameTickets, async (c) => {
    const rows = await read(c, (db) => q.listTicketsByGame(db, c.req.valid("param").game_id));
    if (rows.length === 0) throw notFound("This game has no tickets.");
    return c.json(await presentTickets(c, rows), 200);
  })
  .openapi(getTicket, async (c) => {
    const { ticket_id } = c.req.valid("param");
    c.set("ticketId", ticket_id);
    const row = await read(c, (db) => q.getTicket(db, ticket_id));
    if (!row) throw notFound("No ticket has this id.");
    const [shown] = await presentTickets(c, [row]);
    return c.json(shown!, 200);
  });
