// A generated stadium for the seat map: four stands of ten blocks, 1,500 seats
// a block (30 rows of 50), 60,000 in all, with premium rows in the middle of
// the main stand, family blocks behind one goal, accessible seats at the
// front of each block and camera positions taken off sale. Loaded through the
// API as one CSV seat map, with its seated tickets (idempotent, as the seed).
import type { Client } from "./load.ts";

export const STANDS = ["N", "E", "S", "W"] as const;
export const BLOCKS_PER_STAND = 10;
export const ROWS = 30;
export const SEATS_PER_ROW = 50;

export const blockIds = () => STANDS.flatMap((s) => Array.from({ length: BLOCKS_PER_STAND }, (_, b) => `${s}${b + 1}`));

/** The seat's category: premium in the west stand's middle blocks (first 10 rows), family in the south stand. */
export function categoryOf(block: string, row: number): string {
  const stand = block[0]!;
  const n = Number(block.slice(1));
  if (stand === "W" && n >= 4 && n <= 7 && row < 10) return "premium";
  if (stand === "S") return "family";
  return "standard";
}

const rowName = (r: number) => (r < 26 ? String.fromCharCode(65 + r) : `A${String.fromCharCode(65 + r - 26)}`);

/** The stadium as CSV: block,row,seat,category,rank,accessible (rank left to the defaults). */
export function stadiumCsv(): string {
  const lines = ["block,row,seat,category,rank,accessible"];
  for (const block of blockIds()) {
    for (let r = 0; r < ROWS; r++) {
      for (let s = 1; s <= SEATS_PER_ROW; s++) {
        const accessible = r === 0 && (s <= 2 || s > SEATS_PER_ROW - 2);
        lines.push(`${block},${rowName(r)},${s},${categoryOf(block, r)},,${accessible ? "true" : ""}`);
      }
    }
  }
  return `${lines.join("\r\n")}\r\n`;
}

/** Camera positions: the last two seats of the back row of every stand's middle blocks. */
export const cameraSeats = () =>
  STANDS.flatMap((s) => [5, 6].flatMap((b) => [49, 50].map((n) => `${s}${b}-${rowName(ROWS - 1)}-${n}`)));

export const STADIUM_TICKETS = [
  { type: "adult", name: "Stadium seat", price: 45, categories: ["standard"], max_per_user: 8 },
  { type: "child", name: "Stadium seat", price: 20, categories: ["standard", "family"], max_per_user: 8 },
  { type: "family", name: "Family stand", price: 30, categories: ["family"], max_per_user: 10 },
  { type: "premium", name: "West stand premium", price: 110, categories: ["premium"], max_per_user: 4 },
] as const;

export interface StadiumResult {
  game: number;
  seats: number;
  blocks: number;
  tickets: number[];
  ms: number;
}

/** Puts the stadium's map on `game` (PUT, as CSV), takes the cameras' seats off sale, and makes its tickets. */
export async function loadStadium(url: string, admin: string, c: Client, game: number): Promise<StadiumResult> {
  const started = performance.now();
  const res = await fetch(`${url}/games/${game}/seatmap`, {
    method: "PUT",
    headers: { Authorization: admin, "Content-Type": "text/csv" },
    body: stadiumCsv(),
  });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`loading the stadium failed: ${res.status} ${body.slice(0, 500)}`);
  const summary = JSON.parse(body) as { seats: number; blocks: number };
  const blocked = await c.send("PATCH", `/games/${game}/seats`, { block: cameraSeats() });
  if (blocked.status !== 200) throw new Error(`blocking the cameras' seats failed: ${blocked.status} ${blocked.body}`);
  const tickets: number[] = [];
  for (const t of STADIUM_TICKETS) {
    const made = await c.send(
      "POST",
      "/tickets",
      {
        game_id: game,
        name: t.name,
        type: t.type,
        price: t.price,
        max_per_user: t.max_per_user,
        seating: { categories: t.categories },
      },
      { "Idempotency-Key": `stadium-${game}-${t.type}` },
    );
    if (made.status !== 200) throw new Error(`a stadium ticket failed: ${made.status} ${made.body}`);
    tickets.push((JSON.parse(made.body) as { id: number }).id);
  }
  return { game, seats: summary.seats, blocks: summary.blocks, tickets, ms: Math.round(performance.now() - started) };
}
