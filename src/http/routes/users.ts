import { createRoute } from "@hono/zod-openapi";
import * as q from "../../db/queries";
import type { OrderLine } from "../../db/schema";
import type { HeldLine } from "../../order/order-coordinator";
import type { LineRow, OrderRow } from "../../order/schema";
import type { LinesOutcome } from "../../ticket/ticket-seller";
import { assertActsFor, auth } from "../auth";
import { afterCursor, cursorOf } from "../cursor";
import { bearer, json, openApiRouter, problems } from "../openapi";
import { read } from "../read-model";
import { userIdParam } from "../schemas";
import { orderListQuery, orderListSchema } from "../schemas/orders";
import { presentOrder } from "./orders";

// A fan's own view: their orders, newest first, each with its lines and the
// entries (codes included) of those confirmed.

const userOrders = createRoute({
  operationId: "listUserOrders",
  method: "get",
  path: "/{user_id}/orders",
  summary: "A fan's orders, newest first, with their lines and entries",
  description:
    "From the read model (it trails the orders' objects by a D1 round trip); each confirmed line's entries, with " +
    "their codes, from its ticket's object. `limit` 1 to 100 (20), and `cursor`: the `next_cursor` of the page before.",
  tags: ["orders"],
  security: bearer,
  middleware: [auth("admin", "user")] as const,
  request: { params: userIdParam, query: orderListQuery },
  responses: { 200: json(orderListSchema, "A page of orders"), ...problems([400, 401, 403, 503]) },
});

export const usersRouter = openApiRouter().openapi(userOrders, async (c) => {
  const { user_id } = c.req.valid("param");
  const { limit, cursor } = c.req.valid("query");
  assertActsFor(c.get("principal"), user_id);
  const after = cursor ? afterCursor<string>(cursor, "string") : null;
  const rows = await read(c, (db) => q.listOrdersOfUser(db, user_id, after, limit + 1));
  const page = rows.slice(0, limit);
  const purchases =
    page.length === 0
      ? []
      : await read(c, (db) =>
          q.linesOfOrders(
            db,
            page.map((o) => o.id),
          ),
        );
  // The entries of confirmed lines, from their tickets: one call per ticket.
  const confirmed = purchases.filter((p) => p.status === "confirmed");
  const byTicket = new Map<number, typeof confirmed>();
  for (const p of confirmed) byTicket.set(p.ticket_id, [...(byTicket.get(p.ticket_id) ?? []), p]);
  const held: HeldLine[] = [];
  await Promise.all(
    [...byTicket].map(async ([ticketId, ps]) => {
      const answer = (await c.env.TICKET_SELLER.getByName(String(ticketId))
        .lines(
          ticketId,
          ps.map((p) => p.id),
        )
        .catch(() => null)) as LinesOutcome | null;
      if (answer?.ok) held.push(...answer.lines.map((l) => ({ ...l, ticket_id: ticketId })));
    }),
  );
  const orders = await Promise.all(
    page.map((o) => {
      const lines = (o.lines as OrderLine[]).map(
        (l, position): LineRow => ({
          ...l,
          position,
          answer: "held",
          refusal: null,
          currency: o.currency,
          hold_ends: null,
          settled: null,
          kept: false,
          refunded_minor: purchases.find((p) => p.id === l.purchase_id)?.refunded_minor ?? 0,
          ask: null,
          seats: l.seats ? JSON.stringify(l.seats) : null,
        }),
      );
      const order = { ...o, state: o.status } as unknown as OrderRow;
      const mine = held.filter((h) => lines.some((l) => l.purchase_id === h.purchase.id));
      return presentOrder(c.env, { order, lines }, mine);
    }),
  );
  const last = page.at(-1);
  return c.json({ orders, next_cursor: rows.length > limit && last ? cursorOf(last.created_at, last.id) : null }, 200);
});
