import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { type EntryClaims, verifyCode } from "../../gate/codes";
import { entryKeys } from "../../gate/keys";
import { toEntry, toScannedEntry } from "../../present";
import type { EntryOutcome, Scan, ScanAnswer, ScanOutcome } from "../../ticket/ticket-seller";
import { auth } from "../auth";
import type { AppEnv } from "../context";
import { bearer, json, NO_ENTRY, objectCall, openApiRouter, problems } from "../openapi";
import { ApiError, invalid, outcomeUnknown } from "../problem";
import { ticketOfEntry } from "../read-model";
import {
  entryIdParam,
  entrySchema,
  offlineAnswersSchema,
  offlineScansSchema,
  scanAnswerSchema,
  scanSchema,
} from "../schemas";
import { onTicket, rejectionError } from "../ticket-object";
import { jsonBody, jsonBodyOf, tooLarge } from "../validate";

// Check-in at the gate. A code's signature and game are checked here; then
// the scan goes to the object of the entry's ticket, the one writer of entry
// state. Every decided scan is 200, admitted or rejected with a reason, so a
// scanner never retries a refusal; the same nonce gets the identical answer.

const SCAN_RETRY = "Retry the scan with the same nonce: it answers what was decided.";
const SOME_RECORDED =
  "Some scans of this batch were recorded and others may not have been. Upload the batch again with the " +
  "same nonces: recorded scans answer as before.";
const UNDO_RETRY = "Undoing again is safe.";
/** An offline scan may not claim a time ahead of ours by more than this (scanner clocks drift). */
const CLOCK_SKEW_MS = 5 * 60_000;

const checkIn = createRoute({
  operationId: "checkIn",
  method: "post",
  path: "/",
  summary: "Scan an entry code at the gate",
  description:
    "Admits the entry once, however many scanners race. Reasons for a rejection: `invalid` (not signed by a " +
    "published key, or malformed), `wrong_game` (not a game of this gate token), `not_confirmed`, `cancelled`, " +
    "`revoked` (reissued), `already_checked_in` (with when and where), `nonce_reused` (this scanner's nonce was " +
    "used for another code of the same ticket: scan again with a new nonce). A nonce is scoped to the scanner and " +
    "the code's ticket (the ticket's object decides its scans).",
  tags: ["gate"],
  security: bearer,
  middleware: [auth("gate"), jsonBody] as const,
  request: { body: { ...json(scanSchema, "The scan"), required: true } },
  responses: {
    200: json(scanAnswerSchema, "Decided: admitted, or rejected with a reason"),
    ...problems([400, 401, 403, 413, 415, 503], { 503: objectCall(SCAN_RETRY) }),
  },
});

const BATCH_BYTES = 256 * 1024; // 500 scans of about 200 bytes each

const checkInOffline = createRoute({
  operationId: "uploadOfflineScans",
  method: "post",
  path: "/batch",
  summary: "Upload scans a gate made offline (up to 500)",
  description:
    "Each scan with its `scanned_at` and nonce; answers in the same order. The people were admitted offline " +
    "already: an entry two gates admitted keeps the earliest scan, whichever gate uploads first, and the scan " +
    "uploaded second is answered with `conflict: true`; a scan made before the entry was cancelled or reissued is recorded as an " +
    "admission with `conflict: true` (and the code that replaced a reissued one is checked in with it). Offline " +
    "double entry is bounded by how often scanners sync (gate-sync).",
  tags: ["gate"],
  security: bearer,
  middleware: [auth("gate"), jsonBodyOf(BATCH_BYTES)] as const,
  request: { body: { ...json(offlineScansSchema, "The scans"), required: true } },
  responses: {
    200: json(offlineAnswersSchema, "One answer per scan, in order"),
    ...problems([400, 401, 403, 413, 415, 503], {
      413: { examples: [tooLarge(BATCH_BYTES)] },
      503: {
        description:
          "`unavailable` or `overloaded`: no scan was recorded. `outcome_unknown`: some may have been; upload the " +
          "batch again with the same nonces (recorded scans answer as before)",
        examples: [...objectCall(SCAN_RETRY).examples.slice(0, 2), outcomeUnknown(SOME_RECORDED)],
      },
    }),
  },
});

const undo = createRoute({
  operationId: "undoCheckIn",
  method: "delete",
  path: "/{entry_id}",
  summary: "Undo a check-in (a mistaken scan)",
  tags: ["gate"],
  security: bearer,
  middleware: [auth("admin")] as const,
  request: { params: entryIdParam },
  responses: {
    200: json(entrySchema, "The entry, valid again"),
    ...problems([400, 401, 403, 404, 409, 503], {
      404: { examples: [NO_ENTRY] },
      409: {
        description: "`invalid_state`: the entry is not checked in",
        examples: [rejectionError({ ok: false, code: "invalid_entry_state", status: "valid" })],
      },
      503: objectCall(UNDO_RETRY),
    }),
  },
});

type Verified = { claims: EntryClaims } | { answer: ScanAnswer };

/** A code's claims, or the answer for a code that never reaches an object. */
async function verified(c: Context<AppEnv>, code: string): Promise<Verified> {
  const principal = c.get("principal");
  const claims = await verifyCode(code, entryKeys(c.env).verifying);
  const rejected = (reason: "invalid" | "wrong_game") =>
    ({ answer: { result: "rejected", reason, entry: null, checked_in_at: null } }) as const;
  if (!claims) return rejected("invalid");
  if (principal.role !== "gate" || !principal.games.includes(claims.gameId)) return rejected("wrong_game");
  return { claims };
}

const invalidAnswer: ScanAnswer = { result: "rejected", reason: "invalid", entry: null, checked_in_at: null };

type Ticket = { id: number; name: string; type: string };

/** The scans of one ticket, decided by its object; a signed code naming no ticket of ours is invalid. */
async function scanAt(c: Context<AppEnv>, ticketId: number, scans: Scan[], offline: boolean) {
  const outcome = await onTicket<ScanOutcome>(c, ticketId, (t) => t.scan(ticketId, scans, offline), SCAN_RETRY);
  if (!outcome.ok && outcome.code === "not_found") return { answers: scans.map(() => invalidAnswer), ticket: null };
  if (!outcome.ok) throw rejectionError(outcome);
  return { answers: outcome.answers, ticket: { id: ticketId, ...outcome.ticket } };
}

const present = (answer: ScanAnswer, claims?: EntryClaims, ticket?: Ticket | null) => ({
  ...answer,
  entry:
    answer.entry && claims
      ? toScannedEntry(answer.entry, { ticket_id: claims.ticketId, game_id: claims.gameId })
      : null,
  ticket: answer.entry && ticket ? ticket : null,
});

function checkScannedAt(scannedAt: string, field: string): void {
  if (Date.parse(scannedAt) > Date.now() + CLOCK_SKEW_MS) {
    throw invalid([{ field, message: "must not be in the future" }]);
  }
}

export const checkinsRouter = openApiRouter()
  .openapi(checkIn, async (c) => {
    const { code, nonce, gate } = c.req.valid("json");
    const principal = c.get("principal");
    const scanner = principal.role === "gate" ? principal.scanner : "";
    const v = await verified(c, code);
    if ("answer" in v) return c.json(present(v.answer), 200);
    c.set("ticketId", v.claims.ticketId);
    const { entryId, gameId } = v.claims;
    const scan = { entryId, gameId, nonce, scanner, gate: gate ?? null, scannedAt: null };
    const { answers, ticket } = await scanAt(c, v.claims.ticketId, [scan], false);
    return c.json(present(answers[0]!, v.claims, ticket), 200);
  })
  .openapi(checkInOffline, async (c) => {
    const { scans } = c.req.valid("json");
    const principal = c.get("principal");
    const scanner = principal.role === "gate" ? principal.scanner : "";
    scans.forEach((s, i) => {
      checkScannedAt(s.scanned_at, `scans.${i}.scanned_at`);
    });
    const checked = await Promise.all(scans.map((s) => verified(c, s.code)));
    // One call per ticket, with all its scans.
    const byTicket = new Map<number, { index: number; scan: Scan }[]>();
    checked.forEach((v, index) => {
      if ("answer" in v) return;
      const s = scans[index]!;
      const scan = {
        entryId: v.claims.entryId,
        gameId: v.claims.gameId,
        nonce: s.nonce,
        scanner,
        gate: s.gate ?? null,
        scannedAt: s.scanned_at,
      };
      byTicket.set(v.claims.ticketId, [...(byTicket.get(v.claims.ticketId) ?? []), { index, scan }]);
    });
    const answers: ScanAnswer[] = checked.map((v) => ("answer" in v ? v.answer : (undefined as unknown as ScanAnswer)));
    const tickets = new Map<number, Ticket | null>();
    const groups = await Promise.allSettled(
      [...byTicket].map(async ([ticketId, group]) => {
        const decided = await scanAt(
          c,
          ticketId,
          group.map((g) => g.scan),
          true,
        );
        tickets.set(ticketId, decided.ticket);
        group.forEach((g, i) => {
          answers[g.index] = decided.answers[i]!;
        });
      }),
    );
    const failed = groups.flatMap((g) => (g.status === "rejected" ? [g.reason] : []));
    if (failed.length > 0) {
      // "Nothing was done" only if no ticket's scans were: else some are recorded, and the batch is safe to repeat.
      const nothingDone =
        failed.length === groups.length && failed.every((e) => e instanceof ApiError && e.code !== "outcome_unknown");
      if (nothingDone) throw failed[0];
      throw outcomeUnknown(SOME_RECORDED);
    }
    return c.json(
      {
        answers: answers.map((a, i) => {
          const v = checked[i]!;
          const claims = "claims" in v ? v.claims : undefined;
          return { nonce: scans[i]!.nonce, ...present(a, claims, claims && tickets.get(claims.ticketId)) };
        }),
      },
      200,
    );
  })
  .openapi(undo, async (c) => {
    const { entry_id } = c.req.valid("param");
    const ticketId = await ticketOfEntry(c, entry_id);
    const outcome = await onTicket<EntryOutcome>(c, ticketId, (t) => t.undoCheckIn(ticketId, entry_id), UNDO_RETRY);
    if (!outcome.ok) throw rejectionError(outcome);
    return c.json(await toEntry(c.env, outcome.entry, outcome), 200);
  });
