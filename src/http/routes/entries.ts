import { createRoute, z } from "@hono/zod-openapi";
import { qrSvg } from "../../gate/qr";
import { toEntry } from "../../present";
import { purchaseOfEntry } from "../../ticket/entries";
import type { EntriesOutcome, EntryOutcome } from "../../ticket/ticket-seller";
import { assertActsFor, auth, notYours } from "../auth";
import { bearer, ENTRY_STATE, json, NO_ENTRY, objectCall, openApiRouter, problems } from "../openapi";
import { ApiError, notFound, unavailable } from "../problem";
import { ticketOfEntry } from "../read-model";
import { entryIdParam, entrySchema } from "../schemas";
import { onTicket, rejectionError } from "../ticket-object";
import { actorOf } from "./purchases";

// One entry of a purchase: its code as a QR image, cancel it (one unit back) or reissue its code.

const READ_RETRY = "Reading is safe to retry.";
const CANCEL_RETRY = "Cancelling again answers the cancelled entry.";
const noCode = (status: "cancelled" | "revoked") =>
  new ApiError(409, "invalid_state", `An entry that is ${status} has no code.`, { entry_status: status });
const noSigningKey = () => unavailable("Entry codes cannot be signed: ENTRY_SIGNING_KEY is not set.");
const REISSUE_RETRY = "If the old code is now revoked, its new entry is on the purchase (GET /purchases/{id}).";

const qr = createRoute({
  operationId: "getEntryQrCode",
  method: "get",
  path: "/{entry_id}/qr.svg",
  summary: "An entry's code as a QR image (SVG), to show at the gate",
  description:
    "Its owner or the admin. The image holds the entry's `code`, as `GET /purchases/{id}` lists it; a reissued " +
    "entry's new code is a new image. Not cached: it admits a person.",
  tags: ["entries"],
  security: bearer,
  middleware: [auth("admin", "user")] as const,
  request: { params: entryIdParam },
  responses: {
    200: { content: { "image/svg+xml": { schema: z.string() } }, description: "The QR code, black on white" },
    ...problems([400, 401, 403, 404, 409, 503], {
      403: { examples: [notYours()] },
      404: { examples: [NO_ENTRY] },
      409: {
        description: "`invalid_state` (with `entry_status`): a cancelled or revoked entry has no code",
        examples: [noCode("revoked")],
      },
      503: {
        description: "`unavailable`: the ticket's object or the read model did not answer, or no key signs codes",
        examples: [noSigningKey(), ...objectCall(READ_RETRY).examples.slice(1)],
      },
    }),
  },
});

const cancel = createRoute({
  operationId: "cancelEntry",
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
    ...problems([400, 401, 403, 404, 409, 503], {
      403: { examples: [notYours()] },
      404: { examples: [NO_ENTRY] },
      409: {
        description: "`checked_in`, or `invalid_state` (with `entry_status`)",
        examples: ["checked_in", ENTRY_STATE],
      },
      503: objectCall(CANCEL_RETRY),
    }),
  },
});

const reissue = createRoute({
  operationId: "reissueEntry",
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
      403: { examples: [notYours()] },
      404: { examples: [NO_ENTRY] },
      409: {
        description: "`checked_in`, `invalid_state` (with `entry_status`), or `reissue_limit`",
        examples: ["checked_in", ENTRY_STATE, "reissue_limit"],
      },
      503: objectCall(REISSUE_RETRY),
    }),
  },
});

export const entriesRouter = openApiRouter()
  .openapi(qr, async (c) => {
    const { entry_id } = c.req.valid("param");
    const ticketId = await ticketOfEntry(c, entry_id);
    const outcome = await onTicket<EntriesOutcome>(
      c,
      ticketId,
      (t) => t.purchase(ticketId, purchaseOfEntry(entry_id)),
      READ_RETRY,
    );
    if (!outcome.ok && outcome.code !== "purchase_not_found") throw rejectionError(outcome);
    const entry = outcome.ok ? outcome.entries.find((e) => e.id === entry_id) : undefined;
    if (!outcome.ok || !entry) throw notFound("No entry has this id.");
    assertActsFor(c.get("principal"), outcome.purchase.user_id);
    const { code } = await toEntry(c.env, entry, outcome.purchase);
    if (!code && (entry.status === "cancelled" || entry.status === "revoked")) {
      throw noCode(entry.status);
    }
    if (!code) throw noSigningKey();
    return c.body(qrSvg(code), 200, { "Content-Type": "image/svg+xml", "Cache-Control": "private, no-store" });
  })
  .openapi(cancel, async (c) => {
    const { entry_id } = c.req.valid("param");
    const ticketId = await ticketOfEntry(c, entry_id);
    const actor = actorOf(c.get("principal"));
    const outcome = await onTicket<EntryOutcome>(
      c,
      ticketId,
      (t) => t.cancelEntry(ticketId, entry_id, actor),
      CANCEL_RETRY,
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
      REISSUE_RETRY,
    );
    if (!outcome.ok) throw rejectionError(outcome);
    return c.json(await toEntry(c.env, outcome.entry, outcome), 200);
  });
