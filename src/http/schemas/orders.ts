import { z } from "@hono/zod-openapi";
import { ORDER_STATUSES } from "../../order/schema";
import { PURCHASE_STATUSES } from "../../ticket/schema";
import { currency, digits, entryExample, entrySchema, id, timestamp } from "../schemas";
import { bestAvailableSchema, seatIdSchema } from "./seating";

// An order (a basket over several tickets): its request, its answer, its list.

const ORDER = "ord_5f0c8a52b1d94e7c9a3b6d1e2f4a7c80";
const CREATED = "2026-11-29T19:40:01.000Z";

export const orderIdParam = z.object({
  order_id: z
    .string()
    .regex(/^ord_[0-9a-f]{32}$/, "must be an order id (ord_ and 32 hex digits)")
    .openapi({ param: { name: "order_id", in: "path" }, example: ORDER }),
});

/** A line's ticket, and a seated line's block: each once in an order. */
const lineIdentity = (l: { ticket_id: number; seats?: string[]; best_available?: { block?: string } }) =>
  `${l.ticket_id}/${l.seats?.[0]?.split("-")[0] ?? l.best_available?.block ?? ""}`;

export const orderCreateSchema = z
  .strictObject({
    user_id: id
      .optional()
      .openapi({ description: "Whom it is for; a user's own token may leave it out (the admin may not)" }),
    lines: z
      .array(
        z
          .strictObject({
            ticket_id: id,
            quantity: z.int().min(1).max(100).default(1),
            seats: z
              .array(seatIdSchema)
              .min(1)
              .max(100)
              .refine((s) => new Set(s).size === s.length, "must not repeat a seat")
              .refine((s) => new Set(s.map((x) => x.split("-")[0])).size === 1, "must all be of one block")
              .optional()
              .openapi({ description: "A seated ticket's seats in one block: another block is another line" }),
            best_available: bestAvailableSchema.optional(),
          })
          // quantity is 1 by default: with seats, their number.
          .refine((l) => !l.seats || l.quantity === 1 || l.quantity === l.seats.length, {
            path: ["quantity"],
            message: "must be the number of seats named",
          }),
      )
      .min(1)
      .max(20)
      .refine(
        (lines) => new Set(lines.map(lineIdentity)).size === lines.length,
        "must name each ticket once (a seated ticket once per block)",
      )
      .openapi({
        description:
          "1 to 20 lines, each of another ticket (a seated ticket's seats: one line per block), all sold in one currency",
      }),
  })
  .openapi("OrderCreate", {
    example: {
      user_id: 42,
      lines: [
        { ticket_id: 1, quantity: 2 },
        { ticket_id: 2, quantity: 1 },
      ],
    },
  });

const lineExample = {
  ticket_id: 1,
  game_id: 1,
  name: "North Stand",
  type: "adult",
  quantity: 2,
  unit_price: 35.5,
  total_price: 71,
  purchase_id: 1000000007,
  status: "confirmed" as const,
  entries: [entryExample],
};

// A line as events show it; the API adds its state and entries.
const lineFields = {
  ticket_id: id,
  game_id: id,
  name: z.string(),
  type: z.string(),
  quantity: z.int(),
  unit_price: z.number(),
  total_price: z.number(),
  purchase_id: id.openapi({ description: "The line is this purchase of its ticket (order_id set)" }),
  seats: z.array(seatIdSchema).optional().openapi({ description: "A seated line: the seats held for it" }),
};

export const orderLineSchema = z
  .object({
    ...lineFields,
    status: z.enum(PURCHASE_STATUSES).openapi({ description: "Its purchase's state, as its ticket holds it" }),
    entries: entrySchema
      .array()
      .optional()
      .openapi({ description: "Once confirmed: one per person admitted, with their codes (its owner and the admin)" }),
  })
  .openapi("OrderLine", { example: lineExample });

export const orderExample = {
  id: ORDER,
  user_id: 42,
  status: "confirmed" as const,
  currency: "EUR",
  total_price: 96,
  refunded_price: 0,
  expires_at: null,
  created_at: CREATED,
  confirmed_at: "2026-11-29T19:44:20.000Z",
  cancelled_at: null,
  lines: [
    lineExample,
    {
      ...lineExample,
      ticket_id: 2,
      name: "North Stand",
      type: "child",
      quantity: 1,
      unit_price: 25,
      total_price: 25,
      purchase_id: 1000004096,
      entries: [],
    },
  ],
};

const orderFields = {
  id: z.string().openapi({ example: ORDER }),
  user_id: id,
  status: z.enum(ORDER_STATUSES).openapi({
    description:
      "held → confirmed → cancelled / refunded; held → expired / cancelled. Every line follows its order: none is " +
      "confirmed, cancelled or expired apart from it",
  }),
  currency,
  total_price: z.number(),
  refunded_price: z.number().openapi({ description: "What Stripe has given back of it (0 if nothing)" }),
  expires_at: timestamp.nullable().openapi({ description: "While held: when it expires unless paid or confirmed" }),
  created_at: timestamp,
  confirmed_at: timestamp.nullable(),
  cancelled_at: timestamp.nullable(),
};

export const orderSchema = z
  .object({ ...orderFields, lines: orderLineSchema.array() })
  .openapi("Order", { example: orderExample });

/** An order in an event: its lines without their state and entries (each line's purchase events tell those). */
export const orderEventSchema = z.object({ ...orderFields, lines: z.object(lineFields).array() });

export const orderListQuery = z.object({
  limit: digits(1, 100)
    .optional()
    .transform((v) => v ?? 20)
    .openapi({ param: { name: "limit", in: "query" }, type: "integer", example: 20 }),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,200}$/, "must be a cursor this API answered with")
    .optional()
    .openapi({ param: { name: "cursor", in: "query" }, description: "The `next_cursor` of the page before" }),
});

export const orderListSchema = z
  .object({
    orders: orderSchema.array(),
    next_cursor: z.string().nullable().openapi({ description: "Send it as `cursor` for the next page; null: no more" }),
  })
  .openapi("OrderList", { example: { orders: [orderExample], next_cursor: null } });
