import { z } from "@hono/zod-openapi";
import { DELIVERY_STATUSES } from "../db/schema";
import { EVENT_TYPES } from "../events/types";
import { ORDER_STATUSES } from "../order/schema";
import { ENTRY_STATUSES, PURCHASE_STATUSES, REFUND_REASONS } from "../ticket/schema";
import { PROBLEM_CODES } from "./problem";
import { bestAvailableSchema, seatIdSchema, seatingSchema, seatSchema } from "./schemas/seating";

// Request and response schemas: they validate requests and, through
// @hono/zod-openapi, are the OpenAPI document.

// The examples tell one story: user 42 buys two seats of ticket 1 (game 1),
// and the codes are real, signed with .dev.vars.example's key.
const CODES = [
  "E1BWRldi0xgaCUpY0dAQHAyF1Uh8v8eHc31VKfO6JH0UUiFEmPUfw5UbsVKYmjyIp6Cnr_nguqpvLUqDxLJjJZ9ILFDw3-9L2UUFha4G8D",
  "E1BWRldi0xgqCUpY0dAQFumiPtupndIQpMWgoVNet9o0u6epiDa2sXQai9f27HOi3VLsSThKXCzUaaJpwkT3CgeELM7zGQOMQ73IS2Cl8O",
] as const;
export const BOUGHT_AT = "2026-11-29T19:40:01.000Z";
const SCANNED_AT = "2026-12-05T19:12:44.000Z";
export const ticketExample = {
  id: 1,
  game_id: 1,
  name: "North Stand",
  description: "Covered seats behind the north goal",
  type: "socio",
  price: 35.5,
  currency: "EUR",
  stock: 500,
  sold: 120,
  held: 6,
  available: 374,
  max_per_order: 10,
  max_per_user: 4,
  hold_seconds: 900,
  active: true,
  sales_start: "2026-11-20T10:00:00.000Z",
  sales_end: "2026-12-05T18:00:00.000Z",
  created_at: "2026-11-01T09:00:00.000Z",
  updated_at: BOUGHT_AT,
};
export const purchaseExample = {
  id: 1000000000,
  user_id: 42,
  ticket_id: 1,
  game_id: 1,
  quantity: 2,
  unit_price: 35.5,
  total_price: 71,
  currency: "EUR",
  status: "confirmed" as const,
  expires_at: null,
  confirmed_at: BOUGHT_AT,
  cancelled_at: null,
  created_at: BOUGHT_AT,
};
/** A hold, as `POST /tickets/hold` answers it. */
export const heldExample = {
  ...purchaseExample,
  status: "held" as const,
  expires_at: "2026-11-29T19:55:01.000Z",
  confirmed_at: null,
};
export const entryExample = {
  id: 1000000000001,
  purchase_id: 1000000000,
  code: CODES[0],
  status: "valid",
  checked_in_at: null,
};
export const scannedEntryExample = {
  id: 1000000000002,
  purchase_id: 1000000000,
  ticket_id: 1,
  game_id: 1,
  status: "checked_in" as const,
  checked_in_at: SCANNED_AT,
  checked_in_gate: "North 3",
};

// Control characters are refused in short labels; descriptions may hold
// line breaks and tabs. Matching them is the point of these patterns.
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters
const CONTROL = /[\u0000-\u001f\u007f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters
const CONTROL_BUT_WHITESPACE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

const label = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    // An empty string is only "too small" (without aborting, which would hide the other fields' problems).
    .refine((s) => s === "" || /\S/.test(s), "must not be blank")
    .refine((s) => !CONTROL.test(s), "must not contain control characters");

export const id = z.int().min(1);

const price = z
  .number()
  .min(0)
  .max(10_000_000)
  .refine((n) => Math.abs(n * 100 - Math.round(n * 100)) < 1e-6, "must have at most 2 decimals");

export const currency = z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code of 3 upper-case letters");

// Path and query values arrive as text: accept plain decimal digits only, so
// "1e3", "0x10", " 7" or "+7" are refused rather than coerced.
export const digits = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/, "must be a whole number written in decimal digits")
    .transform(Number)
    .pipe(z.int().min(min).max(max));

// An instant in UTC ("Z"), stored in one normal form so instants compare as text.
const instant = z.iso
  .datetime({ abort: true, message: "must be an ISO 8601 date and time in UTC, e.g. 2026-12-01T10:00:00Z" })
  .refine((s) => new Date(s).toISOString().slice(0, 10) === s.slice(0, 10), "must be a real calendar date")
  .transform((s) => new Date(s).toISOString())
  .openapi({ type: "string", format: "date-time", example: "2026-12-01T10:00:00Z" });

// The fields of a ticket an admin sets, at creation and in a PATCH.
const ticketFields = {
  name: label(120),
  description: z
    .string()
    .max(2000)
    .refine((s) => !CONTROL_BUT_WHITESPACE.test(s), "must not contain control characters"),
  type: label(40),
  price: price.openapi({ description: "In currency units, at most 2 decimals; stored as integer hundredths." }),
  currency,
  stock: z.int().min(0).max(1_000_000),
  max_per_order: z.int().min(1).max(100),
  max_per_user: z
    .int()
    .min(1)
    .max(1_000_000)
    .nullable()
    .openapi({ description: "Units one user may buy across all orders; null: no limit." }),
  active: z.boolean(),
  hold_seconds: z.int().min(60).max(3600).openapi({ description: "How long a hold lasts, in seconds." }),
  sales_start: instant.nullable().openapi({ description: "Sales open at this instant (UTC); null: at once." }),
  sales_end: instant
    .nullable()
    .openapi({ description: "Sales close at this instant (UTC), after sales_start; null: no end." }),
};

const objectGiven = (p: { value: unknown }) => typeof p.value === "object" && p.value !== null;

export const createTicketSchema = z
  .strictObject({
    game_id: id,
    ...ticketFields,
    stock: ticketFields.stock
      .optional()
      .openapi({ description: "Required, but for a seated ticket: its seats are its stock" }),
    seating: seatingSchema.optional(),
    description: ticketFields.description.default(""),
    type: ticketFields.type.default("general"),
    currency: currency.default("EUR"),
    max_per_order: ticketFields.max_per_order.default(10),
    max_per_user: ticketFields.max_per_user.default(null),
    active: ticketFields.active.default(true),
    hold_seconds: ticketFields.hold_seconds.default(900),
    sales_start: ticketFields.sales_start.default(null),
    sales_end: ticketFields.sales_end.default(null),
  })
  // Checked beside the other fields' problems, so a missing stock is named with them.
  .refine((t) => !(t.seating && t.stock !== undefined), {
    path: ["stock"],
    message: "a seated ticket's stock is its seats: leave it out",
    when: objectGiven,
  })
  .refine((t) => t.seating !== undefined || t.stock !== undefined, {
    path: ["stock"],
    message: "Invalid input: expected number, received undefined",
    when: objectGiven,
  })
  .openapi("TicketCreate", {
    example: { game_id: 1, name: "North Stand", type: "socio", price: 35.5, stock: 500, max_per_user: 4 },
  });

export const patchTicketSchema = z
  .strictObject(ticketFields)
  .partial()
  .extend({
    game_id: z
      .unknown()
      .refine(() => false, "cannot be changed: a ticket belongs to one game")
      .optional()
      .openapi({ description: "Cannot be changed." }),
  })
  .openapi("TicketPatch", {
    description:
      "JSON merge patch (RFC 7396): the fields to change; null clears max_per_user, sales_start or sales_end.",
    example: { price: 39, stock: 600, sales_end: "2026-12-05T18:00:00Z" },
  });

export const buySchema = z
  .strictObject({
    user_id: id
      .optional()
      .openapi({ description: "Whom it is for; a user's own token may leave it out (the admin may not)" }),
    ticket_id: id,
    // The ticket's own max_per_order (at most 100) is checked by its seller.
    quantity: z
      .int()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: "Units (seats) to buy; 1 by default, or as many as `seats` names" }),
    seats: z
      .array(seatIdSchema)
      .min(1)
      .max(100)
      .refine((s) => new Set(s).size === s.length, "must not repeat a seat")
      .refine(
        (s) => new Set(s.map((id) => id.split("-")[0])).size === 1,
        "must all be of one block: a basket of seats in several blocks is an order (POST /orders)",
      )
      .optional()
      .openapi({ description: "A seated ticket: exactly these seats, all or none (409 seat_taken)" }),
    best_available: bestAvailableSchema.optional().openapi({
      description: "A seated ticket: the best free seats of its categories (the default for a seated ticket)",
    }),
  })
  .superRefine((b, ctx) => {
    if (b.seats && b.best_available)
      ctx.addIssue({ code: "custom", path: ["seats"], message: "name seats or ask for the best available, not both" });
    if (b.seats && b.quantity !== undefined && b.quantity !== b.seats.length)
      ctx.addIssue({ code: "custom", path: ["quantity"], message: "must be the number of seats named" });
  })
  .openapi("PurchaseCreate", {
    example: { user_id: 42, ticket_id: 1, quantity: 2 },
    examples: [
      { user_id: 42, ticket_id: 1, quantity: 2 },
      { user_id: 42, ticket_id: 1, seats: ["N1-A-12", "N1-A-13"] },
      { user_id: 42, ticket_id: 1, quantity: 4, best_available: { together: true, block: "N1" } },
    ],
  });

export const timestamp = z.string().openapi({ format: "date-time", example: "2026-11-29T19:40:00.000Z" });

export const ticketSchema = z
  .object({
    id,
    game_id: id,
    name: z.string(),
    description: z.string(),
    type: z.string(),
    price: z.number(),
    currency,
    stock: z.int(),
    sold: z.int().openapi({ description: "Units confirmed" }),
    held: z.int().openapi({ description: "Units in live holds" }),
    available: z.int().openapi({ description: "stock - sold - held" }),
    max_per_order: z.int(),
    max_per_user: z.int().nullable(),
    hold_seconds: z.int(),
    active: z.boolean(),
    sales_start: timestamp.nullable(),
    sales_end: timestamp.nullable(),
    seating: seatingSchema.optional().openapi({
      description:
        "A seated ticket: its categories. stock, sold, held and available then count those seats of the game's map " +
        "(sold and held by any ticket of them; stock leaves out seats taken off sale)",
    }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi("Ticket", { example: ticketExample });

export const purchaseSchema = z
  .object({
    id,
    user_id: id,
    ticket_id: id,
    game_id: id,
    quantity: z.int(),
    unit_price: z.number(),
    total_price: z.number(),
    currency,
    status: z.enum(PURCHASE_STATUSES).openapi({
      description:
        "held → confirmed → (cancelled), or held → expired / cancelled; refunded: paid after the hold ended, when its units were gone",
    }),
    expires_at: timestamp.nullable().openapi({ description: "When the hold ends (held, expired); else null" }),
    confirmed_at: timestamp.nullable(),
    cancelled_at: timestamp.nullable(),
    created_at: timestamp,
    seats: z
      .array(seatIdSchema)
      .optional()
      .openapi({ description: "A seated purchase: its seats, one per unit (its entries in the same order)" }),
  })
  .openapi("Purchase", { example: purchaseExample });

export const userPurchasesQuery = z.object({
  status: z
    .enum(PURCHASE_STATUSES)
    .optional()
    .openapi({ param: { name: "status", in: "query" }, description: "Only purchases in this state" }),
  limit: digits(1, 100)
    .optional()
    .openapi({ param: { name: "limit", in: "query" }, type: "integer", description: "A page of this many; none: all" }),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,200}$/, "must be a cursor this API answered with")
    .optional()
    .openapi({ param: { name: "cursor", in: "query" }, description: "The next page's, from the `Link` header" }),
});

// https (http://localhost too while developing: checked by the route, which knows the environment).
const returnUrl = z
  .url({ protocol: /^https?$/ })
  .max(2000)
  .openapi({ example: "https://club.example/tickets/paid" });
export const checkoutSchema = z
  .strictObject({ success_url: returnUrl, cancel_url: returnUrl })
  .openapi("CheckoutCreate", {
    example: { success_url: "https://club.example/paid", cancel_url: "https://club.example/cancelled" },
  });

export const checkoutSessionSchema = z
  .object({
    checkout_url: z.string().openapi({ description: "Send the buyer here to pay" }),
    session_id: z.string(),
    expires_at: timestamp.openapi({ description: "The session's end, and the hold's" }),
  })
  .openapi("CheckoutSession", {
    example: {
      checkout_url: "https://checkout.stripe.com/c/pay/cs_test_a1Qx7rT2mZk9wLbE4c8VdHn3",
      session_id: "cs_test_a1Qx7rT2mZk9wLbE4c8VdHn3",
      expires_at: "2026-11-29T20:12:00.000Z",
    },
  });

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    code: z.enum(PROBLEM_CODES),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    available: z.int().optional().openapi({ description: "sold_out: units left" }),
    seats: z
      .array(z.string())
      .optional()
      .openapi({ description: "seat_taken: the seats held, sold or off sale; seatmap_in_use: seats held or sold" }),
    max_per_user: z.int().optional(),
    bought: z.int().optional().openapi({ description: "user_limit: units this user holds" }),
    sold: z.int().optional().openapi({ description: "stock_below_sold, currency_locked: units sold" }),
    held: z.int().optional().openapi({ description: "stock_below_sold, currency_locked: units held" }),
    entry_status: z.enum(ENTRY_STATUSES).optional().openapi({ description: "invalid_state: the entry's state" }),
    purchase_status: z
      .enum(PURCHASE_STATUSES)
      .optional()
      .openapi({ description: "invalid_state: the purchase's state" }),
    sales_start: timestamp.nullable().optional().openapi({ description: "sales_closed: when sales open" }),
    sales_end: timestamp.nullable().optional().openapi({ description: "sales_closed: when sales close" }),
    currency: currency.optional().openapi({ description: "not_chargeable: the purchase's currency" }),
    minimum: z.number().optional().openapi({ description: "not_chargeable: the least Stripe charges in it" }),
    order_id: z.string().optional().openapi({ description: "part_of_order: the order this purchase is a line of" }),
    order_status: z.enum(ORDER_STATUSES).optional().openapi({ description: "invalid_state: the order's state" }),
    lines: z
      .array(
        z.object({
          ticket_id: id,
          code: z.string().openapi({ description: "sold_out, sales_closed, user_limit, ticket_not_found, ..." }),
          available: z.int().optional(),
          max_per_user: z.int().optional(),
          bought: z.int().optional(),
          sales_start: timestamp.nullable().optional(),
          sales_end: timestamp.nullable().optional(),
          seats: z.array(z.string()).optional(),
        }),
      )
      .optional()
      .openapi({ description: "order_refused: why each refused line was (the others were held, and released)" }),
    currencies: z.array(currency).optional().openapi({ description: "currency_mismatch: the lines' currencies" }),
  })
  // No example here: each answer has its own, per code (problems() in openapi.ts).
  .openapi("Problem", { description: "RFC 9457 problem document" });

export const healthSchema = z.object({ status: z.literal("ok") }).openapi("Health", { example: { status: "ok" } });

const pathId = (name: string) =>
  digits(1, Number.MAX_SAFE_INTEGER).openapi({ param: { name, in: "path" }, type: "integer", example: 1 });

export const ticketIdParam = z.object({ ticket_id: pathId("ticket_id") });
export const gameIdParam = z.object({ game_id: pathId("game_id") });
export const userIdParam = z.object({ user_id: pathId("user_id") });
export const purchaseIdParam = z.object({ purchase_id: pathId("purchase_id") });

export const listQuery = z.object({
  skip: digits(0, Number.MAX_SAFE_INTEGER)
    .optional()
    .transform((v) => v ?? 0)
    .openapi({ param: { name: "skip", in: "query" }, type: "integer", example: 0 }),
  limit: digits(1, 100)
    .optional()
    .transform((v) => v ?? 100)
    .openapi({ param: { name: "limit", in: "query" }, type: "integer", example: 100 }),
});

export const idempotencyHeader = z.object({
  "idempotency-key": z
    .string()
    .optional()
    .openapi({
      param: { name: "idempotency-key", in: "header" },
      // No example: "Try it out" would send that one key with every request, and a second try would replay.
      description:
        "Makes the request safe to retry: a repeat with the same key and body answers the first result. A new " +
        "one (e.g. a UUID) per order.",
    }),
});

// Entries and the gate.

export const entryIdParam = z.object({ entry_id: pathId("entry_id") });

export const entrySchema = z
  .object({
    id,
    purchase_id: id,
    code: z.string().nullable().openapi({
      description:
        "Show it at the gate (as a QR code): the entry, ticket, game and key id, signed with Ed25519. Null once cancelled or revoked.",
    }),
    status: z.enum(ENTRY_STATUSES),
    checked_in_at: timestamp.nullable(),
    seat: seatSchema.optional().openapi({ description: "A seated ticket's entry: the seat it admits to" }),
  })
  .openapi("Entry", { example: entryExample });

export const refundSchema = z
  .object({
    amount: z.number(),
    currency,
    reason: z.enum(REFUND_REASONS).openapi({
      description:
        "late_payment: paid after its hold ended with the units gone; second_payment: paid twice; cancelled: the box " +
        "office cancelled it; entry_cancelled: the box office cancelled one entry (that unit's price)",
    }),
    status: z.enum(["pending", "succeeded"]).openapi({
      description: "pending: decided, and asked of Stripe until made; succeeded: Stripe has made it",
    }),
    created_at: timestamp,
    refunded_at: timestamp.nullable(),
  })
  .openapi("Refund", {
    example: {
      amount: 35.5,
      currency: "EUR",
      reason: "entry_cancelled",
      status: "succeeded",
      created_at: "2026-12-01T11:02:00.000Z",
      refunded_at: "2026-12-01T11:02:03.000Z",
    },
  });

export const purchaseWithEntriesSchema = purchaseSchema
  .extend({
    entries: entrySchema.array().openapi({ description: "One per person admitted, once confirmed" }),
    refunded_price: z.number().openapi({
      description:
        "What Stripe has given back of this purchase's price (0 if nothing); a refund still being made is not counted",
    }),
    refunds: refundSchema.array().openapi({ description: "Money given back (or being given back) through Stripe" }),
  })
  .openapi("PurchaseWithEntries", {
    example: {
      ...purchaseExample,
      entries: [
        entryExample,
        { id: 1000000000002, purchase_id: 1000000000, code: CODES[1], status: "checked_in", checked_in_at: SCANNED_AT },
      ],
      refunded_price: 0,
      refunds: [],
    },
  });

const nonce = z
  .string()
  .regex(/^[\x21-\x7e]{1,128}$/, "must be 1 to 128 visible ASCII characters")
  .openapi({
    description:
      "Chosen by the scanner for this scan, unique per scanner and ticket: the same nonce again gets the identical answer",
  });
const code = z.string().min(1).max(256);
const gate = label(64).optional().openapi({ description: "Which gate scanned (else the scanner's name)" });

export const scanSchema = z
  .strictObject({ code, nonce, gate })
  .openapi("Scan", { example: { code: CODES[1], nonce: "north-3-000417", gate: "North 3" } });

export const offlineScansSchema = z
  .strictObject({
    scans: z
      .array(
        z.strictObject({
          code,
          nonce,
          gate,
          scanned_at: instant.openapi({ description: "When the gate scanned it, offline" }),
        }),
      )
      .min(1)
      .max(500),
  })
  .openapi("OfflineScans", {
    example: {
      scans: [{ code: CODES[1], nonce: "north-3-000417", gate: "North 3", scanned_at: "2026-12-05T19:12:44Z" }],
    },
  });

export const SCAN_REASONS = [
  "invalid",
  "wrong_game",
  "not_confirmed",
  "cancelled",
  "revoked",
  "already_checked_in",
  "nonce_reused",
] as const;

/** An entry as a scan shows it: without its code (the scanner has it). */
export const scannedEntryFields = {
  id,
  purchase_id: id,
  ticket_id: id,
  game_id: id,
  status: z.enum(ENTRY_STATUSES),
  checked_in_at: timestamp.nullable(),
  checked_in_gate: z.string().nullable(),
  seat: seatSchema.optional().openapi({ description: "A seated ticket's entry: its seat, for the steward" }),
};

const scannedTicket = { id: 1, name: "North Stand", type: "socio" };
const admitted = {
  result: "admitted",
  entry: scannedEntryExample,
  ticket: scannedTicket,
  checked_in_at: SCANNED_AT,
} as const;

export const scanAnswerSchema = z
  .object({
    result: z.enum(["admitted", "rejected"]),
    reason: z
      .enum(SCAN_REASONS)
      .optional()
      .openapi({
        description:
          "Why it was rejected; on an offline admission with `conflict: true`, `cancelled` or `revoked`: the entry " +
          "was cancelled or reissued after this scan let its holder in",
      }),
    entry: z
      .object(scannedEntryFields)
      .openapi("ScannedEntry", { example: scannedEntryExample })
      .nullable()
      .openapi({ description: "Null when the code is not one of ours (invalid) or not for this gate (wrong_game)" }),
    ticket: z.object({ id, name: z.string(), type: z.string() }).nullable().openapi({
      description:
        "The entry's ticket, for the scanner to show (which stand, a socio or child ticket); null with the entry",
    }),
    checked_in_at: timestamp.nullable().openapi({ description: "When the entry was checked in, if it is" }),
    first_checked_in_at: timestamp.optional().openapi({ description: "already_checked_in: when it was" }),
    first_gate: z.string().nullable().optional().openapi({ description: "already_checked_in: where" }),
    conflict: z
      .literal(true)
      .optional()
      .openapi({
        description:
          "Offline: a double entry, recorded and reported. Another gate admitted this entry too (the entry keeps the " +
          "earliest scan, whichever gate uploaded first), or the entry was cancelled or reissued after this scan " +
          "admitted its holder (`reason` says which)",
      }),
  })
  .openapi("ScanAnswer", { example: admitted });

const offlineAdmitted = { nonce: "north-3-000417", ...admitted };

export const offlineAnswersSchema = z
  .object({ answers: scanAnswerSchema.extend({ nonce: z.string() }).openapi({ example: offlineAdmitted }).array() })
  .openapi("OfflineScanAnswers", {
    example: {
      answers: [
        offlineAdmitted,
        {
          nonce: "south-1-000093",
          result: "rejected",
          reason: "already_checked_in",
          entry: scannedEntryExample,
          ticket: scannedTicket,
          checked_in_at: SCANNED_AT,
          first_checked_in_at: SCANNED_AT,
          first_gate: "North 3",
          conflict: true,
        },
      ],
    },
  });

export const gateKeysSchema = z
  .object({
    keys: z
      .array(z.object({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), kid: z.string(), x: z.string() }))
      .openapi({ description: "Public keys by id (JWK): a code names the key that signed it" }),
  })
  .openapi("GateKeys", {
    example: { keys: [{ kty: "OKP", crv: "Ed25519", kid: "dev-1", x: "I_hutCmOydLLgD2pFD9m3qKst9-lPzzEnbe3HqYVPjo" }] },
  });

export const gateSyncQuery = z.object({
  since: digits(0, Number.MAX_SAFE_INTEGER)
    .optional()
    .transform((v) => v ?? 0)
    .openapi({ param: { name: "since", in: "query" }, type: "integer", example: 0 }),
});

export const gateSyncSchema = z
  .object({
    changes: z.array(
      z.object({
        entry_id: id,
        ticket_id: id,
        status: z.enum(ENTRY_STATUSES),
        checked_in_at: timestamp.nullable(),
        checked_in_gate: z.string().nullable(),
        version: z.int().openapi({ description: "Keep the highest seen per entry: a higher one is newer" }),
      }),
    ),
    cursor: z.string().openapi({ description: "Send it as `since` next time" }),
    more: z.boolean().openapi({ description: "More changes wait: ask again at once" }),
  })
  .openapi("GateSync", {
    example: {
      changes: [
        {
          entry_id: 1000000000002,
          ticket_id: 1,
          status: "checked_in",
          checked_in_at: SCANNED_AT,
          checked_in_gate: "North 3",
          version: 2,
        },
      ],
      cursor: "5230",
      more: false,
    },
  });

// Webhooks.

export const webhookIdParam = z.object({ webhook_id: pathId("webhook_id") });
export const deliveryIdParam = webhookIdParam.extend({
  delivery_id: z
    .string()
    .regex(/^dlv_[0-9a-f]{32}$/, "must be a delivery id (dlv_...)")
    .openapi({ param: { name: "delivery_id", in: "path" }, example: "dlv_3b1f0c9e2a7d4c5e8f6a1b2c3d4e5f60" }),
});

const eventTypes = z
  .array(z.enum([...EVENT_TYPES, "*"]))
  .min(1)
  .max(EVENT_TYPES.length)
  .refine((types) => new Set(types).size === types.length, "must not repeat a type")
  .openapi({ description: 'The events to deliver; ["*"]: all of them, including types added later.' });

const webhookFields = {
  url: z
    .string()
    .max(2048)
    .openapi({ description: "https only (http://localhost too in development); not a private address" }),
  event_types: eventTypes,
  enabled: z.boolean(),
};

export const webhookCreateSchema = z
  .strictObject({
    ...webhookFields,
    event_types: eventTypes.default(["*"]),
    enabled: webhookFields.enabled.default(true),
  })
  .openapi("WebhookCreate", {
    example: {
      url: "https://crm.club.example/hooks/tickets",
      event_types: ["purchase.confirmed", "purchase.refunded"],
    },
  });

export const webhookPatchSchema = z
  .strictObject(webhookFields)
  .partial()
  .openapi("WebhookPatch", {
    description: "The fields to change; enabling clears disabled_reason.",
    example: { enabled: true },
  });

const webhookExample = {
  id: 1,
  url: "https://crm.club.example/hooks/tickets",
  event_types: ["purchase.confirmed", "purchase.refunded"],
  enabled: true,
  disabled_reason: null,
  created_at: "2026-11-02T08:15:00.000Z",
  updated_at: "2026-11-02T08:15:00.000Z",
};

export const webhookSchema = z
  .object({
    id,
    url: z.string(),
    event_types: z.array(z.string()),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable().openapi({ description: "Why it was disabled by the API (a 410 answer)" }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi("Webhook", { example: webhookExample });

export const webhookCreatedSchema = webhookSchema
  .extend({
    secret: z.string().openapi({
      description: "Signs every delivery (Standard Webhooks). Shown only in this answer: keep it.",
    }),
  })
  .openapi("WebhookCreated", {
    example: { ...webhookExample, secret: "whsec_Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5MTI=" },
  });

export const deliverySchema = z
  .object({
    id: z.string(),
    event_id: z.string().openapi({ description: "The event, sent as webhook-id: the same for every attempt" }),
    event_type: z.string(),
    status: z.enum(DELIVERY_STATUSES).openapi({
      description:
        "pending: queued; delivered: a 2xx answer; retrying: failed, tried again at next_retry_at; failed: refused " +
        "for good (410) or out of retries; dead: in the dead-letter queue; skipped: the endpoint was disabled",
    }),
    attempts: z.int(),
    response_code: z.int().nullable(),
    duration_ms: z.int().nullable(),
    error: z.string().nullable(),
    next_retry_at: timestamp.nullable(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi("WebhookDelivery", {
    example: {
      id: "dlv_3b1f0c9e2a7d4c5e8f6a1b2c3d4e5f60",
      event_id: "evt_0f3c2b7e9a1d4e6f8b5c7a9d1e3f5a7b",
      event_type: "purchase.confirmed",
      status: "retrying",
      attempts: 2,
      response_code: 503,
      duration_ms: 412,
      error: "HTTP 503: upstream busy",
      next_retry_at: "2026-11-29T19:43:05.000Z",
      created_at: "2026-11-29T19:40:02.000Z",
      updated_at: "2026-11-29T19:41:05.000Z",
    },
  });

export const deliveriesQuery = z.object({
  limit: digits(1, 100)
    .optional()
    .transform((v) => v ?? 50)
    .openapi({ param: { name: "limit", in: "query" }, type: "integer", example: 50 }),
});
