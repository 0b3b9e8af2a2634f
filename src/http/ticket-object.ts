import type { Context } from "hono";
import { newerBookmark } from "../db/queries";
import type { Bookmarked, Rejection, TicketSeller } from "../ticket/ticket-seller";
import { forbidden } from "./auth";
import type { AppEnv } from "./context";
import { keyReused } from "./idempotency";
import { ApiError, invalid, notFound, outcomeUnknown, overloaded, unavailable } from "./problem";

// Calling a ticket's object from the Worker, and turning its refusals into problems.

/**
 * Runs `call` on the ticket's object. A call that fails on the way (the
 * object reset, or unreachable) may or may not have run: that is a 503 that
 * says so. Only the runtime's own overload refusal means nothing ran.
 */
export async function onTicket<T>(
  c: Context<AppEnv>,
  ticketId: number,
  call: (ticket: DurableObjectStub<TicketSeller>) => Promise<T>,
  retry: string,
): Promise<T> {
  try {
    const outcome = await call(c.env.TICKET_SELLER.getByName(String(ticketId)));
    // The answer's X-D1-Bookmark covers the projection of what the object did.
    const { bookmark } = outcome as Bookmarked;
    if (bookmark) c.set("bookmark", newerBookmark(c.get("bookmark"), bookmark) ?? undefined);
    return outcome;
  } catch (err) {
    console.error(
      JSON.stringify({ level: "error", message: "ticket object call failed", ticket_id: ticketId, error: String(err) }),
    );
    if ((err as { overloaded?: boolean }).overloaded) {
      throw overloaded("The ticket is too busy to take this now; nothing was done. Retry shortly.");
    }
    throw noAnswer(retry);
  }
}

/** The ticket's object did not answer: `retry` says how to find out, or make sure. */
export const noAnswer = (retry: string) =>
  outcomeUnknown(`The ticket did not answer; this may or may not have been done. ${retry}`);

export function rejectionError(r: Rejection): ApiError {
  switch (r.code) {
    case "not_found":
      return notFound("No ticket has this id.");
    case "over_max_per_order":
      return invalid([{ field: "quantity", message: `must be at most ${r.max_per_order} for this ticket` }]);
    case "invalid":
      return invalid(r.errors);
    case "sales_closed":
      return r.sales_start !== undefined
        ? new ApiError(409, "sales_closed", "This ticket is not on sale at this time.", {
            sales_start: r.sales_start,
            sales_end: r.sales_end,
          })
        : new ApiError(409, "sales_closed", "This ticket is not on sale.");
    case "sold_out":
      return new ApiError(409, "sold_out", `Only ${r.available} left.`, { available: r.available });
    case "seat_taken":
      return new ApiError(409, "seat_taken", `Taken or off sale: ${r.seats.join(", ")}. Nothing is held.`, {
        seats: r.seats,
      });
    case "user_limit":
      return new ApiError(409, "user_limit", `At most ${r.max_per_user} per user; this user has ${r.bought}.`, {
        max_per_user: r.max_per_user,
        bought: r.bought,
      });
    case "stock_below_sold":
      return new ApiError(
        409,
        "stock_below_sold",
        `The stock cannot go below the ${r.sold} units sold and ${r.held} held.`,
        { sold: r.sold, held: r.held },
      );
    case "currency_locked":
      return new ApiError(409, "currency_locked", "The currency cannot change once units are sold or held.", {
        sold: r.sold,
        held: r.held,
      });
    case "purchase_not_found":
      return notFound("No purchase has this id.");
    case "hold_expired":
      return new ApiError(409, "hold_expired", `The hold ended and only ${r.available} units are left.`, {
        available: r.available,
      });
    case "invalid_state":
      return new ApiError(409, "invalid_state", `Not possible for a purchase that is ${r.status}.`, {
        purchase_status: r.status,
      });
    case "forbidden":
      return forbidden(r.reason);
    case "entry_not_found":
      return notFound("No entry has this id.");
    case "checked_in":
      return new ApiError(409, "checked_in", "This entry is already checked in.");
    case "invalid_entry_state":
      return new ApiError(409, "invalid_state", `Not possible for an entry that is ${r.status}.`, {
        entry_status: r.status,
      });
    case "reissue_limit":
      return new ApiError(409, "reissue_limit", "This purchase's entries have been reissued as often as they can be.");
    case "not_chargeable":
      return r.reason === "below_minimum"
        ? new ApiError(
            409,
            "not_chargeable",
            `Stripe charges at least ${r.minimum_minor! / 100} ${r.currency}; confirm this one at the box office.`,
            { currency: r.currency, minimum: r.minimum_minor! / 100 },
          )
        : new ApiError(409, "not_chargeable", `Stripe charges ${r.currency} in whole units only.`, {
            currency: r.currency,
          });
    case "part_of_order":
      return new ApiError(
        409,
        "part_of_order",
        `This purchase is a line of order ${r.order_id}: confirm, cancel or pay for the order.`,
        { order_id: r.order_id },
      );
    case "payment_refunded":
      return new ApiError(
        409,
        "payment_refunded",
        "The payment for this purchase is given back (or being given back): it cannot be confirmed.",
      );
    case "payment_provider":
      return new ApiError(
        502,
        "payment_provider_error",
        "Stripe did not answer as expected; retry: the same checkout session is returned if one was made.",
        {},
        { "Retry-After": "1" },
      );
    case "key_reused":
      return keyReused("order");
    case "unavailable":
      return unavailable(`Nothing was done: ${r.reason}. Retry shortly.`);
    case "outcome_unknown":
      return outcomeUnknown(`This may be partly done: ${r.reason}. Repeating it is safe.`);
    case "overloaded":
      return overloaded("Too many orders are waiting for this ticket; nothing was done. Retry shortly.");
  }
}
