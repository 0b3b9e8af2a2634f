import { Hono } from "hono";
import * as q from "../../db/queries";
import type { Rejection } from "../../do/ticket-seller";
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
    case "unavailable":
      return unavailable("The purchase could not be completed; nothing was bought. Retry shortly.");
  }
}

export const ticketsRouter = new Hono<{ Bindings: Env }>()
  .post("/", jsonBody, validate("json", createTicketSchema), async (c) => {
    const { price, ...rest } = c.req.valid("json");
    const row = await q.createTicket(q.database(c.env.DB), { ...rest, price_minor: Math.round(price * 100) });
    return c.json(toTicket(row));
  })
  .post("/buy", jsonBody, validate("json", buySchema), async (c) => {
    const { user_id, ticket_id, quantity } = c.req.valid("json");
    const seller = c.env.TICKET_SELLER.getByName(String(ticket_id));
    const outcome = await seller.buy(ticket_id, user_id, quantity);
    if (!outcome.ok) throw refusalError(outcome);
    return c.json(toPurchase(outcome.purchase));
  })
  .get("/", validate("query", listQuery), async (c) => {
    const { skip, limit } = c.req.valid("query");
    const rows = await q.listTickets(q.database(c.env.DB), skip, limit);
    return c.json(rows.map(toTicket));
  })
  .get("/user/:user_id", validate("param", userIdParam), async (c) => {
    const rows = await q.listPurchasesByUser(q.database(c.env.DB), c.req.valid("param").user_id);
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
