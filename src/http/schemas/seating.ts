import { z } from "@hono/zod-openapi";
import { CATEGORY, PART } from "../../seating/map";

// A game's seat map, its seats' availability, and what seated orders ask for.

const id = z.int().min(1);

const part = (what: string) =>
  z
    .string()
    .regex(PART, `must be 1 to 16 letters, digits, _ or . (no -): the ${what} of a seat's id`)
    .openapi({ example: what === "block" ? "N1" : what === "row" ? "A" : "12" });

export const seatIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.]{1,16}-[A-Za-z0-9_.]{1,16}-[A-Za-z0-9_.]{1,16}$/, "must be a seat id, block-row-seat")
  .openapi({ description: "block-row-seat", example: "N1-A-12" });

const mapSeat = z
  .strictObject({
    id: part("seat"),
    category: z.string().regex(CATEGORY, "must be 1 to 40 letters, digits or _").openapi({ example: "standard" }),
    rank: z
      .int()
      .min(0)
      .max(9_999_999)
      .optional()
      .openapi({ description: "The club's idea of best: lower is better (best available picks by it)" }),
    accessible: z.boolean().optional().openapi({ description: "A wheelchair or companion seat" }),
    x: z.number().min(-1e6).max(1e6).optional().openapi({ description: "Where to draw it (the club's units)" }),
    y: z.number().min(-1e6).max(1e6).optional(),
  })
  .openapi("MapSeat");
const mapRow = z.strictObject({ id: part("row"), seats: z.array(mapSeat).min(1).max(5_000) }).openapi("MapRow");
const mapBlock = z
  .strictObject({ id: part("block"), name: z.string().min(1).max(80), rows: z.array(mapRow).min(1).max(500) })
  .openapi("MapBlock");

const mapExample = {
  blocks: [
    {
      id: "N1",
      name: "North Stand, lower tier",
      rows: [
        {
          id: "A",
          seats: [
            { id: "1", category: "standard", accessible: true, x: 0, y: 0 },
            { id: "2", category: "standard", x: 1, y: 0 },
            { id: "3", category: "standard", x: 2, y: 0 },
          ],
        },
        {
          id: "B",
          seats: [
            { id: "1", category: "premium", rank: 10 },
            { id: "2", category: "premium", rank: 5 },
          ],
        },
      ],
    },
  ],
};

export const seatmapSchema = z.strictObject({ blocks: z.array(mapBlock).min(1).max(500) }).openapi("SeatMap", {
  description:
    "Blocks, rows front to back, and each row's seats side by side in order (best available's notion of " +
    "together). A seat's id is block-row-seat (N1-A-12). At most 100,000 seats a game, 5,000 a block.",
  example: mapExample,
});

export const seatmapCsvExample =
  "block,row,seat,category,rank,accessible\r\nN1,A,1,standard,,true\r\nN1,A,2,standard,,\r\nN1,B,1,premium,10,\r\n";

export const seatmapSummarySchema = z
  .object({
    game_id: id,
    version: z.string().openapi({ description: "The map's version: its layout's ETag" }),
    blocks: z.int(),
    seats: z.int(),
    accessible: z.int(),
    categories: z.record(z.string(), z.int()).openapi({ description: "Seats per category" }),
  })
  .openapi("SeatMapSummary", {
    example: {
      game_id: 1,
      version: "m1764445200000",
      blocks: 1,
      seats: 5,
      accessible: 1,
      categories: { standard: 3, premium: 2 },
    },
  });

export const seatmapLayoutSchema = z
  .object({ game_id: id, version: z.string(), blocks: z.array(mapBlock) })
  .openapi("SeatMapLayout", { example: { game_id: 1, version: "m1764445200000", ...mapExample } });

export const seatsQuery = z.object({
  block: part("block")
    .optional()
    .openapi({ param: { name: "block", in: "query" }, description: "One block; without: every block of the game" }),
});

export const availabilitySchema = z
  .object({
    game_id: id,
    blocks: z.array(
      z.object({
        block: z.string(),
        version: z.int().openapi({ description: "The block's change counter: higher is newer" }),
        rows: z.array(
          z.object({
            row: z.string(),
            seats: z.int().openapi({ description: "Seats in the row, in the map's order" }),
            free: z.string().openapi({
              description:
                "Base64 bitmap of the row's free seats: bit i (byte i >> 3, bit i & 7) is the row's i-th seat",
            }),
          }),
        ),
      }),
    ),
  })
  .openapi("SeatAvailability", {
    example: {
      game_id: 1,
      blocks: [
        {
          block: "N1",
          version: 42,
          rows: [
            { row: "A", seats: 3, free: "Bg==" },
            { row: "B", seats: 2, free: "Aw==" },
          ],
        },
      ],
    },
  });

const seatIds = z.array(seatIdSchema).max(5_000);
export const blockSeatsSchema = z
  .strictObject({ block: seatIds.default([]), unblock: seatIds.default([]) })
  .refine((b) => b.block.length + b.unblock.length > 0, "name seats to block or unblock")
  .openapi("SeatBlocking", { example: { block: ["N1-A-1", "N1-A-2"], unblock: [] } });

export const blockedSchema = z
  .object({ blocked: z.int(), unblocked: z.int() })
  .openapi("SeatBlockingResult", { example: { blocked: 2, unblocked: 0 } });

/** A seat as an entry and a purchase show it. */
export const seatSchema = z
  .object({ block: z.string(), row: z.string(), seat: z.string() })
  .openapi("Seat", { example: { block: "N1", row: "A", seat: "12" } });

export const bestAvailableSchema = z
  .strictObject({
    together: z
      .boolean()
      .default(true)
      .openapi({
        description:
          "Side by side in one row when any such group exists (else as few groups as can be); never leaving a " +
          "single empty seat beside the group when a group without one exists",
      }),
    block: part("block").optional().openapi({ description: "Only this block; without: the map's blocks in order" }),
    accessible: z.boolean().optional().openapi({ description: "Only accessible seats" }),
  })
  .openapi("BestAvailable");

export const seatingSchema = z
  .strictObject({
    categories: z
      .array(z.string().regex(CATEGORY, "must be 1 to 40 letters, digits or _"))
      .min(1)
      .max(20)
      .refine((c) => new Set(c).size === c.length, "must not repeat a category"),
  })
  .openapi("Seating", {
    description:
      "Sells seats of these categories of the game's seat map. Its stock, sold, held and available count those seats.",
    example: { categories: ["standard"] },
  });
