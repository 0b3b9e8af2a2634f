import { z } from "zod";

// Request schemas: the contract's validation rules, in one place.

// Control characters are refused in short labels; descriptions may hold
// line breaks and tabs.
const CONTROL = /[\u0000-\u001f\u007f]/;
const CONTROL_BUT_WHITESPACE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

const label = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => /\S/.test(s), "must not be blank")
    .refine((s) => !CONTROL.test(s), "must not contain control characters");

const id = z.int().min(1);

const price = z
  .number()
  .min(0)
  .max(10_000_000)
  .refine((n) => Math.abs(n * 100 - Math.round(n * 100)) < 1e-6, "must have at most 2 decimals");

export const createTicketSchema = z.strictObject({
  game_id: id,
  name: label(120),
  description: z
    .string()
    .max(2000)
    .refine((s) => !CONTROL_BUT_WHITESPACE.test(s), "must not contain control characters")
    .default(""),
  type: label(40).default("general"),
  price,
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, "must be an ISO 4217 code of 3 upper-case letters")
    .default("EUR"),
  stock: z.int().min(0).max(1_000_000),
  max_per_order: z.int().min(1).max(100).default(10),
  max_per_user: z.int().min(1).max(1_000_000).nullable().default(null),
  active: z.boolean().default(true),
});
export type CreateTicket = z.infer<typeof createTicketSchema>;

export const buySchema = z.strictObject({
  user_id: id,
  ticket_id: id,
  // The ticket's own max_per_order (at most 100) is checked by its seller.
  quantity: z.int().min(1).max(100).default(1),
});
export type BuyRequest = z.infer<typeof buySchema>;

// Path and query values arrive as text: accept plain decimal digits only, so
// "1e3", "0x10", " 7" or "+7" are refused rather than coerced.
const digits = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/, "must be a whole number written in decimal digits")
    .transform(Number)
    .pipe(z.int().min(min).max(max));

const pathId = digits(1, Number.MAX_SAFE_INTEGER);

export const ticketIdParam = z.object({ ticket_id: pathId });
export const gameIdParam = z.object({ game_id: pathId });
export const userIdParam = z.object({ user_id: pathId });

export const listQuery = z.object({
  skip: digits(0, Number.MAX_SAFE_INTEGER).default(0),
  limit: digits(1, 100).default(100),
});
