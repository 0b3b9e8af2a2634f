import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { etag } from "hono/etag";
import * as q from "../../db/queries";
import { type MapError, mapErrors, parseCsv, type SeatMap, seatParts, summarize } from "../../seating/map";
import type { BlockRefusal } from "../../seating/seat-block";
import { blockObject } from "../../ticket/seats";
import { auth, keysUnavailable } from "../auth";
import { cacheFor } from "../cache";
import type { AppEnv } from "../context";
import { bearer, json, openApiRouter, problems } from "../openapi";
import { ApiError, invalid, notFound, outcomeUnknown, seatmapInUse, unavailable } from "../problem";
import { read } from "../read-model";
import { gameIdParam } from "../schemas";
import {
  availabilitySchema,
  blockedSchema,
  blockSeatsSchema,
  seatmapCsvExample,
  seatmapLayoutSchema,
  seatmapSchema,
  seatmapSummarySchema,
  seatsQuery,
} from "../schemas/seating";
import { fieldErrors, type Issue, jsonBodyOf, tooLarge } from "../validate";

// A game's seat map and its seats. The map's layout is kept in D1; each
// block's seats are loaded into the block's object, the one owner of their
// truth, which projects which are free back to D1 for these reads.

const MAP_BYTES = 10 * 1024 * 1024;
const BLOCKING_BYTES = 1024 * 1024;
const MAP_RETRY = "Send the same map again: setting a map is safe to repeat.";
const BLOCKING_RETRY = "Send it again: blocking and unblocking are safe to repeat.";

const putSeatmap = createRoute({
  operationId: "putSeatmap",
  method: "put",
  path: "/{game_id}/seatmap",
  summary: "Set a game's seat map",
  description:
    "JSON (`blocks` → `rows` → `seats`), or CSV (`text/csv`) with a header line naming the columns " +
    "`block,row,seat,category[,rank][,accessible]`, one seat a line, rows front to back and seats side by side in " +
    "the order given. Each block's seats are loaded into its own object; blocks of an earlier map that are not in " +
    "this one are emptied. Refused with `409 seatmap_in_use` once any seat of the game is held or sold. At most " +
    "100,000 seats a game, 5,000 a block, 10 MiB.",
  tags: ["seating"],
  security: bearer,
  middleware: [auth("admin")] as const,
  request: {
    params: gameIdParam,
    body: {
      content: {
        "application/json": { schema: seatmapSchema },
        "text/csv": { schema: z.string().openapi({ example: seatmapCsvExample }) },
      },
      // Required; not marked so, since the validator would then read a CSV body as JSON (mapOf reads both).
      description: "The seat map (required)",
    },
  },
  responses: {
    200: json(seatmapSummarySchema, "The map is set: what it holds"),
    ...problems([400, 401, 403, 409, 413, 415, 503], {
      400: { description: "The map is invalid: `errors` names the offending fields, or CSV lines (`line 7`)" },
      409: {
        description: "`seatmap_in_use`: seats are held or sold (`seats` names some)",
        examples: ["seatmap_in_use"],
      },
      415: { description: "Send the map as application/json or text/csv" },
      503: {
        description: `\`outcome_unknown\`: a block or D1 did not answer; some blocks may have the new map. ${MAP_RETRY}`,
        examples: [keysUnavailable(), outcomeUnknown(`A block did not answer. ${MAP_RETRY}`)],
      },
    }),
  },
});

const getSeatmap = createRoute({
  operationId: "getSeatmap",
  method: "get",
  path: "/{game_id}/seatmap",
  summary: "A game's seat map (its layout)",
  description: "Cacheable: the layout changes only with a new map, and its `ETag` is the map's version.",
  tags: ["seating"],
  security: [],
  request: { params: gameIdParam },
  responses: {
    200: json(seatmapLayoutSchema, "The layout"),
    304: { description: "Not modified: your copy (If-None-Match) is current" },
    ...problems([400, 404, 503], { 404: { examples: [notFound("This game has no seat map.")] } }),
  },
});

const getSeats = createRoute({
  operationId: "getSeatAvailability",
  method: "get",
  path: "/{game_id}/seats",
  summary: "Which seats are free, per row (a bitmap), with each block's version",
  description:
    "From the read model, which each block's object keeps current (a D1 round trip behind it); cacheable for 2 s. " +
    "A 2,000-seat block is about 2 KB.",
  tags: ["seating"],
  security: [],
  middleware: [cacheFor(2), etag()] as const,
  request: { params: gameIdParam, query: seatsQuery },
  responses: {
    200: json(availabilitySchema, "Free seats per row"),
    304: { description: "Not modified: your copy (If-None-Match) is current" },
    ...problems([400, 404, 503], { 404: { examples: [notFound("This game has no seat map.")] } }),
  },
});

const patchSeats = createRoute({
  operationId: "blockSeats",
  method: "patch",
  path: "/{game_id}/seats",
  summary: "Take seats off sale, or put them back",
  description:
    "Cameras, segregation buffers. A held or sold seat cannot be blocked: `409 seat_taken` names them, and nothing " +
    "is changed. Blocking a blocked seat, or unblocking a free one, changes nothing.",
  tags: ["seating"],
  security: bearer,
  middleware: [auth("admin"), jsonBodyOf(BLOCKING_BYTES)] as const,
  request: { params: gameIdParam, body: { ...json(blockSeatsSchema, "The seats"), required: true } },
  responses: {
    200: json(blockedSchema, "How many seats changed"),
    ...problems([400, 401, 403, 404, 409, 413, 415, 503], {
      404: { examples: [notFound("This game has no seat map.")] },
      409: { description: "`seat_taken`: held or sold seats cannot be blocked", examples: ["seat_taken"] },
      503: {
        description: `\`outcome_unknown\`: a block did not answer. ${BLOCKING_RETRY}`,
        examples: [keysUnavailable(), outcomeUnknown(`A block did not answer. ${BLOCKING_RETRY}`)],
      },
    }),
  },
});

/** The map in the body, as JSON or CSV; problems as a 400 naming fields or lines. */
async function mapOf(c: Context<AppEnv>): Promise<SeatMap> {
  const type = (c.req.header("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase();
  const length = Number(c.req.header("Content-Length") ?? 0);
  if (length > MAP_BYTES) throw tooLarge(MAP_BYTES);
  const text = await c.req.text();
  if (new TextEncoder().encode(text).length > MAP_BYTES) throw tooLarge(MAP_BYTES);
  let errors: MapError[];
  if (type === "text/csv") {
    const parsed = parseCsv(text);
    if ("map" in parsed) return parsed.map;
    errors = parsed.errors;
  } else if (/^application\/(?:[\w.+-]+\+)?json$/.test(type)) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw invalid([{ field: "body", message: "malformed JSON" }]);
    }
    const parsed = seatmapSchema.safeParse(body);
    if (!parsed.success) throw invalid(fieldErrors(parsed.error.issues as Issue[]).slice(0, 50));
    const map = parsed.data as SeatMap;
    errors = mapErrors(map, (b, r, s) =>
      ["blocks", b, ...(r === undefined ? [] : ["rows", r]), ...(s === undefined ? [] : ["seats", s])].join("."),
    );
    if (errors.length === 0) return map;
  } else {
    throw new ApiError(415, "unsupported_media_type", "Send the seat map as application/json or text/csv.");
  }
  throw invalid(errors);
}

/** Calls a block's object; one that does not answer may have acted: a 503 that says so. */
async function onBlock<T>(call: () => Promise<T>, retry: string): Promise<T> {
  try {
    return await call();
  } catch (err) {
    console.error(JSON.stringify({ level: "error", message: "block object call failed", error: String(err) }));
    throw outcomeUnknown(`A block of the seat map did not answer; this may be partly done. ${retry}`);
  }
}

/**
 * The blocks' check passed, and each holds takes back until the change is written (its fence), so the write is
 * refused only if a block lost its fence meanwhile (restarted, or 5 s passed): then some blocks may have it.
 */
const partlyDone = (retry: string) =>
  outcomeUnknown(`A block of the seat map refused the change after its check; it may be partly done. ${retry}`);

/** A change given up after its check: the blocks' takes go on at once, not when the fence would end. */
async function unfence(env: Env, gameId: number, blocks: string[], fence: string): Promise<void> {
  await Promise.all(blocks.map((b) => blockObject(env, gameId, b).unfence(fence))).catch(() => {});
}

function blockRefusal(r: BlockRefusal): ApiError {
  switch (r.code) {
    case "seatmap_in_use":
      return seatmapInUse(r.seats);
    case "seat_taken":
      return new ApiError(409, "seat_taken", `Held or sold: ${r.seats.join(", ")}. Nothing was changed.`, {
        seats: r.seats,
      });
    case "seat_not_found":
      return invalid(r.seats.map((id) => ({ field: "seats", message: `${id} is not a seat of this game's map` })));
    default:
      return notFound("This game has no seat map.");
  }
}

export const seatingRouter = openApiRouter()
  .openapi(putSeatmap, async (c) => {
    const { game_id } = c.req.valid("param");
    const map = await mapOf(c);
    const primary = q.database(c.get("d1").primary);
    const before = await q.getSeatmap(primary, game_id).catch(() => {
      throw unavailable("The read model is unavailable; nothing was changed. Retry shortly.");
    });
    const version = `m${Date.now().toString(36)}${crypto.randomUUID().slice(0, 8)}`;
    const gone = (before?.blocks ?? []).filter((b) => !map.blocks.some((nb) => nb.id === b));
    // Every block is asked first whether any seat is taken, so a refusal leaves the map as it was.
    const loads = [
      ...map.blocks.map((b, position) => ({
        block: b.id,
        input: { game_id, block_id: b.id, name: b.name, position, map_version: version, rows: b.rows },
      })),
      ...gone.map((block) => ({ block, input: { game_id, block_id: block, remove: true as const } })),
    ];
    const fence = crypto.randomUUID();
    for (const dryRun of [true, false]) {
      const answers = await onBlock(
        () => Promise.all(loads.map((l) => blockObject(c.env, game_id, l.block).load(l.input, dryRun, fence))),
        MAP_RETRY,
      );
      const refused = answers.find((a) => !a.ok);
      if (refused && !refused.ok) {
        if (!dryRun) throw partlyDone(MAP_RETRY);
        await unfence(
          c.env,
          game_id,
          loads.map((l) => l.block),
          fence,
        );
        throw blockRefusal(refused);
      }
    }
    const summary = summarize(map);
    try {
      const blocks = map.blocks.map((b) => b.id);
      await q.saveSeatmap(primary, { game_id, version, blocks, summary, updated_at: new Date().toISOString() });
    } catch (err) {
      console.error(JSON.stringify({ level: "error", message: "writing the seat map failed", error: String(err) }));
      throw outcomeUnknown(`D1 did not answer; the blocks have their seats. ${MAP_RETRY}`);
    }
    return c.json({ game_id, version, ...summary }, 200);
  })
  .openapi(getSeatmap, async (c) => {
    const { game_id } = c.req.valid("param");
    const map = await read(c, (db) => q.getSeatmap(db, game_id));
    if (!map) throw notFound("This game has no seat map.");
    const tag = `"${map.version}"`;
    c.header("Cache-Control", "public, max-age=60, must-revalidate");
    c.header("ETag", tag);
    if (c.req.header("If-None-Match") === tag) return c.body(null, 304);
    const blocks = await read(c, (db) => q.listSeatBlocks(db, game_id));
    return c.json(
      {
        game_id,
        version: map.version,
        blocks: blocks
          .filter((b) => b.map_version === map.version)
          .map((b) => ({ id: b.block_id, name: b.name, rows: JSON.parse(b.layout) })),
      },
      200,
    );
  })
  .openapi(getSeats, async (c) => {
    const { game_id } = c.req.valid("param");
    const { block } = c.req.valid("query");
    const blocks = await read(c, (db) => q.listSeatBlocks(db, game_id, block));
    if (blocks.length === 0)
      throw notFound(block ? "This game's seat map has no such block." : "This game has no seat map.");
    return c.json(
      {
        game_id,
        blocks: blocks.map((b) => ({ block: b.block_id, version: b.version, rows: JSON.parse(b.availability) })),
      },
      200,
    );
  })
  .openapi(patchSeats, async (c) => {
    const { game_id } = c.req.valid("param");
    const body = c.req.valid("json");
    const byBlock = new Map<string, { block: string[]; unblock: string[] }>();
    for (const [list, ids] of [
      ["block", body.block],
      ["unblock", body.unblock],
    ] as const) {
      for (const id of ids) {
        const parts = seatParts(id)!;
        const entry = byBlock.get(parts.block) ?? { block: [], unblock: [] };
        byBlock.set(parts.block, entry);
        entry[list].push(id);
      }
    }
    const known = await read(c, (db) => q.getSeatmap(db, game_id));
    if (!known) throw notFound("This game has no seat map.");
    const unknown = [...byBlock.keys()].filter((b) => !known.blocks.includes(b));
    if (unknown.length > 0)
      throw invalid(unknown.map((b) => ({ field: "block", message: `${b} is not a block of this game's map` })));
    let totals = { blocked: 0, unblocked: 0 };
    // Every block checks first, so a held or sold seat anywhere changes nothing anywhere.
    const fence = crypto.randomUUID();
    for (const dryRun of [true, false]) {
      const answers = await onBlock(
        () =>
          Promise.all(
            [...byBlock].map(([b, ids]) =>
              blockObject(c.env, game_id, b).setBlocked(ids.block, ids.unblock, dryRun, fence),
            ),
          ),
        BLOCKING_RETRY,
      );
      totals = { blocked: 0, unblocked: 0 };
      for (const a of answers) {
        if (!a.ok && !dryRun) throw partlyDone(BLOCKING_RETRY);
        if (!a.ok) {
          await unfence(c.env, game_id, [...byBlock.keys()], fence);
          throw blockRefusal(a);
        }
        totals.blocked += a.blocked;
        totals.unblocked += a.unblocked;
      }
    }
    return c.json(totals, 200);
  });
