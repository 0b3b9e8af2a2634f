import { z } from "@hono/zod-openapi";
import type { EventType } from "../../events/types";
import {
  BOUGHT_AT,
  heldExample,
  id,
  purchaseExample,
  purchaseSchema,
  scannedEntryExample,
  scannedEntryFields,
  ticketExample,
  ticketSchema,
  timestamp,
} from "../schemas";
import { orderExample, orderEventSchema as orderFields } from "./orders";

// Events, as webhook endpoints receive them: the ticket, purchase or entry as of the change.

const entryEventExample = { ...scannedEntryExample, user_id: 42 };

/** An entry in an event: with its holder, and never its code (a code admits). */
export const entryEventSchema = z
  .strictObject({ ...scannedEntryFields, user_id: id })
  .openapi("EntryEventData", { example: entryEventExample });

// Each its own strict object, not an extension: allOf of two closed objects would admit nothing.
export const checkedInEntryEventSchema = z
  .strictObject({
    ...scannedEntryFields,
    user_id: id,
    conflict: z.literal(true).optional().openapi({
      description: "An offline admission made before the entry was cancelled or reissued: recorded all the same",
    }),
    admitted_with: id.optional().openapi({
      description: "This entry replaced a revoked one whose code an offline gate admitted: its holder is in",
    }),
  })
  .openapi("CheckedInEntryEventData", { example: entryEventExample });

const reissuedExample = {
  ...entryEventExample,
  id: 1000000000003,
  status: "valid" as const,
  checked_in_at: null,
  checked_in_gate: null,
  replaces: 1000000000002,
};
export const reissuedEntryEventSchema = z
  .strictObject({
    ...scannedEntryFields,
    user_id: id,
    replaces: id.openapi({ description: "The entry whose code this one replaces (now revoked)" }),
  })
  .openapi("ReissuedEntryEventData", { example: reissuedExample });

/** A purchase in an event: a line of an order says which. */
const purchaseEventSchema = purchaseSchema
  .extend({ order_id: z.string().optional().openapi({ description: "A line of this order (POST /orders)" }) })
  .openapi("PurchaseEventData", { example: purchaseExample });

const heldOrder = {
  ...orderExample,
  status: "held" as const,
  expires_at: "2026-11-29T19:55:01.000Z",
  confirmed_at: null,
  lines: orderExample.lines.map(({ status: _, entries: __, ...l }) => l),
};
const orderEventSchema = orderFields.openapi("OrderEventData", { example: heldOrder });

/** The body of one event type: `data` is the object as of the change. */
const eventSchema = <T extends z.ZodType>(type: EventType, data: T, example: z.input<T>) =>
  z
    .object({
      id: z
        .string()
        .regex(/^evt_[0-9a-f]{32}$/)
        .openapi({ description: "Also sent as webhook-id: de-duplicate by it (delivery is at least once)" }),
      type: z.literal(type),
      created_at: timestamp.openapi({ description: "When the change was made: order by it where order matters" }),
      data,
    })
    .openapi(`${type.replace(/(^|[._])(\w)/g, (_, __, c: string) => c.toUpperCase())}Event`, {
      example: { id: "evt_0f3c2b7e9a1d4e6f8b5c7a9d1e3f5a7b", type, created_at: BOUGHT_AT, data: example },
    });

const valid = { ...entryEventExample, status: "valid" as const, checked_in_at: null, checked_in_gate: null };

export const eventSchemas: Record<EventType, z.ZodType> = {
  "ticket.created": eventSchema("ticket.created", ticketSchema, { ...ticketExample, sold: 0, held: 0, available: 500 }),
  "ticket.updated": eventSchema("ticket.updated", ticketSchema, ticketExample),
  "ticket.sold_out": eventSchema("ticket.sold_out", ticketSchema, { ...ticketExample, sold: 494, available: 0 }),
  "purchase.held": eventSchema("purchase.held", purchaseEventSchema, heldExample),
  "purchase.updated": eventSchema("purchase.updated", purchaseEventSchema, {
    ...heldExample,
    expires_at: "2026-11-29T20:12:00.000Z",
  }),
  "purchase.confirmed": eventSchema("purchase.confirmed", purchaseEventSchema, purchaseExample),
  "purchase.cancelled": eventSchema("purchase.cancelled", purchaseEventSchema, {
    ...heldExample,
    status: "cancelled",
    cancelled_at: "2026-11-29T19:47:30.000Z",
  }),
  "purchase.expired": eventSchema("purchase.expired", purchaseEventSchema, { ...heldExample, status: "expired" }),
  "purchase.refunded": eventSchema("purchase.refunded", purchaseEventSchema, { ...heldExample, status: "refunded" }),
  "entry.checked_in": eventSchema("entry.checked_in", checkedInEntryEventSchema, entryEventExample),
  "entry.check_in_undone": eventSchema("entry.check_in_undone", entryEventSchema, valid),
  "entry.cancelled": eventSchema("entry.cancelled", entryEventSchema, {
    ...valid,
    status: "cancelled",
  }),
  "entry.reissued": eventSchema("entry.reissued", reissuedEntryEventSchema, reissuedExample),
  "order.held": eventSchema("order.held", orderEventSchema, heldOrder),
  "order.updated": eventSchema("order.updated", orderEventSchema, {
    ...heldOrder,
    expires_at: "2026-11-29T20:12:00.000Z",
  }),
  "order.confirmed": eventSchema("order.confirmed", orderEventSchema, {
    ...heldOrder,
    status: "confirmed",
    expires_at: null,
    confirmed_at: "2026-11-29T19:44:20.000Z",
  }),
  "order.cancelled": eventSchema("order.cancelled", orderEventSchema, {
    ...heldOrder,
    status: "cancelled",
    expires_at: null,
    cancelled_at: "2026-11-29T19:47:30.000Z",
  }),
  "order.expired": eventSchema("order.expired", orderEventSchema, {
    ...heldOrder,
    status: "expired",
    expires_at: null,
  }),
  "order.refunded": eventSchema("order.refunded", orderEventSchema, {
    ...heldOrder,
    status: "refunded",
    expires_at: null,
  }),
};

export const webhookHeaders = z.object({
  "webhook-id": z
    .string()
    .openapi({ param: { name: "webhook-id", in: "header" }, description: "The event's id: the same on every attempt" }),
  "webhook-timestamp": z.string().openapi({
    param: { name: "webhook-timestamp", in: "header" },
    description: "Unix seconds when this attempt was signed: refuse one more than 5 minutes off",
    example: "1795981201", // 2026-11-29T19:40:01Z
  }),
  "webhook-signature": z.string().openapi({
    param: { name: "webhook-signature", in: "header" },
    description:
      'Standard Webhooks: "v1,<base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{raw body}`>", keyed with ' +
      "the base64 part of the endpoint's secret after `whsec_`; compare in constant time",
    example: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
  }),
});
