import { createRoute } from "@hono/zod-openapi";
import type { EntryOutcome } from "../../do/ticket-seller";
import { toEntry } from "../../present";
import { auth } from "../auth";
import { bearer, json, openApiRouter, problems } from "../openapi";
import { ticketOfEntry } from "../read-model";
import { entryIdParam, entrySchema } from "../schemas";
import { onTicket, rejectionError } from "../ticket-object";
import { actorOf } from "./purchases";

// One entry of a purchase: cancel it (one unit back) or reissue its code.

const cancel = createRoute({
  method: "post",
  path: "/{entry_id}/cancel",
  summary: "Cancel one entry before its check-in: one unit goes back to the ticket",
  description:
    "The box office (the admin): confirmed units go back only through it, as for `POST /purchases/{id}/cancel`, so " +
    "its owner gets `403`. That unit's price is refunded if the purchase was paid through Stripe (recorded with the " +
    "cancel, made by the ticket's object; see `refunded_price`). A purchase whose entries are all cancelled is " +
    "cancelled. After check-in: `409 checked_in`. Already cancelled: the same entry (idempotent). A cancelled " +
    "entry's code is rejected at the gate, but an offline scan made before the cancel is recorded as an admission, " +
    "with `conflict: true`.",
  tags: ["entries"],
  security: bearer,
  middleware: [auth("admin", "user")] as const,
  request: { params: entryIdParam },
  responses: {
    200: json(entrySchema, "The entry, cancelled"),
    ...problems([400, 401, 403, 404, 409, 503], { 409: "`checked_in`, or `invalid_state` (with `entry_status`)" }),
  },
});

const reissue = createRoute({
  method: "post",
  path: "/{entry_id}/reissue",
  summary: "A new code for an entry (a transfer, a lost phone)",
  description:
    "Its owner or the admin. The old code is revoked (rejected at the gate as `revoked`); the answer is the new " +
    "entry that takes its place, with its code. A purchase of quantity q can have its entries reissued 999 - q " +
    "times in all. If an offline gate admitted the old code before the reissue, its upload records that admission " +
    "and checks the new entry in with it, so the unit admits one person.",
  tags: ["entries"],
  security: bearer,
  middleware: [auth("admin", "user")] as const,
  request: { params: entryIdParam },
  responses: {
    200: json(entrySchema, "The new entry, with its code"),
    ...problems([400, 401, 403, 404, 409, 503], {
      409: "`checked_in`, `invalid_state` (with `entry_status`), or `reissue_limit`",
    }),
  },
});

export const entriesRouter = openApiRouter()
  .openapi(cancel, async (c) => {
    const { entry_id } = c.req.valid("param");
    const ticketId = await ticketOfEntry(c, entry_id);
    const actor = actorOf(c.get("principal"));
    const outcome = await onTicket<EntryOutcome>(
      c,
      ticketId,
      (t) => t.cancelEntry(ticketId, entry_id, actor),
      "Cancelling again answers the cancelled entry.",
    );
    if (!outcome.ok) throw rejectionError(outcome);
    return c.json(await toEntry(c.env, outcome.entry, outcome), 200);
  })
  .openapi(reissue, async (c) => {
    const { entry_id } = c.req.valid("param");
    const ticketId = await ticketOfEntry(c, entry_id);
    const actor = actorOf(c.get("principal"));
    const outcome = await onTicket<EntryOutcome>(
      c,
      ticketId,
      (t) => t.reissueEntry(ticketId, entry_id, actor),
      "If the old code is now revoked, its new entry is on the purchase (GET /purchases/{id}).",
    );
    if (!outcome.ok) throw rejectionError(outcome);
    return c.json(await toEntry(c.env, outcome.entry, outcome), 200);
  });
