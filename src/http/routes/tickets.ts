import { Hono } from "hono";
import * as q from "../../db/queries";
import type { BuyOutcome, OrderRequest, Rejection } from "../../do/ticket-seller";
import { assertActsFor, auth } from "../auth";
import type { AppEnv } from "../context";
import { idempotencyKey, keyReused } from "../idempotency";
import { toPurchase, toTicket } from "../present";
import { ApiError, invalid, notFound, unavailable } from "../problem";
import { buySchema, createTicketSchema, gameIdParam, listQuery, ticketIdParam, userIdParam } from "../schemas";
import { jsonBody, validate } from "../validate";

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
    console.error(JSON.stringify({ level: "error", message: "ticket seller call failed", ticket_id: ticketId, error: String(err) }));
    throw unavailable("The ticket could not take the order right now. Retry with the same Idempotency-Key.");
  }
}

export const ticketsRouter = new Hono<AppEnv>()
  .post("/", auth("admin"), jsonBody, validate("json", createTicketSchema), async (c) => {
    const body = c.req.valid("json");
    const { price, ...rest } = body;
    const row = await q.createTicketOnce(
      q.database(c.env.DB),
      { ...rest, price_minor: Math.round(price * 100) },
      await idempotencyKey(c, body),
    );
    if (row === "key_reused") throw keyReused();
    return c.json(toTicket(row));
  })
  .post("/buy", auth("admin", "user"), jsonBody, validate("json", buySchema), async (c) => {
    const body = c.req.valid("json");
    assertActsFor(c.get("principal"), body.user_id);
    const { user_id, quantity } = body;
    const outcome = await sell(c.env, body.ticket_id, { user_id, quantity, idempotency: await idempotencyKey(c, body) });
    if (!outcome.ok) throw refusalError(outcome);
    return c.json(toPurchase(outcome.purchase));
  })
  .get("/", auth("admin"), validate("query", listQuery), async (c) => {
    const { skip, limit } = c.req.valid("query");
    const rows = await q.listTickets(q.database(c.env.DB), skip, limit);
    return c.json(rows.map(toTicket));
  })
  .get("/user/:user_id", auth("admin", "user"), validate("param", userIdParam), async (c) => {
    const { user_id } = c.req.valid("param");
    assertActsFor(c.get("principal"), user_id);
    const rows = await q.listPurchasesByUser(q.database(c.env.DB), user_id);
    if (rows.length === 0) throw notFound("This user has no purchases.");
    return c.json(rows.map(toPurchase));
  })
  .get("/game/:game_id", validate("param", gameIdParam), async (c) => {
    const rows = await q.listTicketsByGame(q.database(c.env.DB), c.req.valid("param").game_id);
    if (rows.length === 0) throw notFound("This game has no tickets.");
    return c.json(rows.map(toTicket));
  })
  .get("/:ticket_id", validate("param", ticketIdParam), async (c) => {
    const row = await q.getTicket(q.database(c.env.DB), c.req.valid("param").ticket_id);
    if (!row) throw notFound("No ticket has this id.");
    return c.json(toTicket(row));
  });
