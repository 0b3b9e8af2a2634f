import { createRoute } from "@hono/zod-openapi";
import { and, asc, eq, gt } from "drizzle-orm";
import { entryChanges } from "../../db/schema";
import { entryKeys } from "../../gate/keys";
import { auth, forbidden } from "../auth";
import { cacheFor } from "../cache";
import { bearer, json, openApiRouter, problems } from "../openapi";
import { read } from "../read-model";
import { gameIdParam, gateKeysSchema, gateSyncQuery, gateSyncSchema } from "../schemas";

// What a game's gate scanners need: the public keys that verify entry codes
// offline, and the feed of entries checked in, cancelled or revoked.

const SYNC_PAGE = 1_000;
const notThisGame = () => forbidden("This gate token does not scan this game.");

const gateKeys = createRoute({
  operationId: "getGateKeys",
  method: "get",
  path: "/{game_id}/gate-keys",
  summary: "The public keys that verify entry codes, by id",
  description:
    "Public: they are public keys. A scanner keeps them and checks codes offline (Ed25519 over the code's payload). " +
    "An old key is listed, and verifies its codes, until it is removed.",
  tags: ["gate"],
  security: [],
  middleware: [cacheFor(300)] as const,
  request: { params: gameIdParam },
  responses: { 200: json(gateKeysSchema, "The keys"), ...problems([400]) },
});

const gateSync = createRoute({
  operationId: "getGateSync",
  method: "get",
  path: "/{game_id}/gate-sync",
  summary: "Entries of the game checked in, cancelled or revoked since a cursor",
  description:
    "Online scanners poll it every few seconds (from the read model, which trails the tickets' objects by a D1 " +
    "round trip): a code admitted at one gate is then refused offline at the others, so offline double entry is " +
    "bounded by the polling interval. Gate staff of the game, or the admin.",
  tags: ["gate"],
  security: bearer,
  middleware: [auth("gate", "admin")] as const,
  request: { params: gameIdParam, query: gateSyncQuery },
  responses: {
    200: json(gateSyncSchema, "The changes, oldest first, and the next cursor"),
    ...problems([400, 401, 403, 503], {
      403: { description: "This gate token does not scan this game", examples: [notThisGame()] },
    }),
  },
});

export const gamesRouter = openApiRouter()
  .openapi(gateKeys, (c) => c.json({ keys: entryKeys(c.env).verifying }, 200))
  .openapi(gateSync, async (c) => {
    const { game_id } = c.req.valid("param");
    const { since } = c.req.valid("query");
    const principal = c.get("principal");
    if (principal.role === "gate" && !principal.games.includes(game_id)) {
      throw notThisGame();
    }
    const rows = await read(c, (db) =>
      db
        .select()
        .from(entryChanges)
        .where(and(eq(entryChanges.game_id, game_id), gt(entryChanges.seq, since)))
        .orderBy(asc(entryChanges.seq))
        .limit(SYNC_PAGE + 1),
    );
    const page = rows.slice(0, SYNC_PAGE);
    return c.json(
      {
        changes: page.map((r) => ({
          entry_id: r.entry_id,
          ticket_id: r.ticket_id,
          status: r.status,
          checked_in_at: r.checked_in_at,
          checked_in_gate: r.checked_in_gate,
          version: r.version,
        })),
        cursor: String(page.at(-1)?.seq ?? since),
        more: rows.length > SYNC_PAGE,
      },
      200,
    );
  });
