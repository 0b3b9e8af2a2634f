import { csvParseRows } from "d3-dsv";

// A game's seat map as the admin sends it (JSON, or CSV lines
// `block,row,seat,category[,rank][,accessible]`), checked and put in one shape.

export const MAX_SEATS_PER_GAME = 100_000;
export const MAX_SEATS_PER_BLOCK = 5_000;
/** Ids of blocks, rows and seats: no "-", which joins them into a seat's id (N1-A-12). */
export const PART = /^[A-Za-z0-9_.]{1,16}$/;
export const CATEGORY = /^[A-Za-z0-9_]{1,40}$/;
const MAX_ERRORS = 50;

export interface MapSeat {
  id: string;
  category: string;
  rank?: number;
  accessible?: boolean;
  x?: number;
  y?: number;
}
export interface MapRow {
  id: string;
  seats: MapSeat[];
}
export interface MapBlock {
  id: string;
  name: string;
  rows: MapRow[];
}
export interface SeatMap {
  blocks: MapBlock[];
}

export interface MapError {
  field: string;
  message: string;
}

export const seatId = (block: string, row: string, seat: string) => `${block}-${row}-${seat}`;

/** A seat's id split into its block, row and seat (ids of parts have no "-"). */
export function seatParts(id: string): { block: string; row: string; seat: string } | null {
  const parts = id.split("-");
  if (parts.length !== 3 || !parts.every((p) => PART.test(p))) return null;
  return { block: parts[0]!, row: parts[1]!, seat: parts[2]! };
}

/** What a map holds: blocks, seats, and seats per category. */
export function summarize(map: SeatMap) {
  const categories: Record<string, number> = {};
  let seats = 0;
  let accessible = 0;
  for (const b of map.blocks)
    for (const r of b.rows)
      for (const s of r.seats) {
        seats++;
        categories[s.category] = (categories[s.category] ?? 0) + 1;
        if (s.accessible) accessible++;
      }
  return { blocks: map.blocks.length, seats, accessible, categories };
}

/** The rules a map must keep beyond its shape: unique ids, and the limits. */
export function mapErrors(map: SeatMap, where: (b: number, r?: number, s?: number) => string): MapError[] {
  const errors: MapError[] = [];
  const blocks = new Set<string>();
  let total = 0;
  map.blocks.forEach((b, bi) => {
    if (blocks.has(b.id)) errors.push({ field: where(bi), message: `block ${b.id} appears twice` });
    blocks.add(b.id);
    const rows = new Set<string>();
    let inBlock = 0;
    b.rows.forEach((r, ri) => {
      if (rows.has(r.id)) errors.push({ field: where(bi, ri), message: `row ${b.id}-${r.id} appears twice` });
      rows.add(r.id);
      const ids = new Set<string>();
      r.seats.forEach((s, si) => {
        if (ids.has(s.id))
          errors.push({ field: where(bi, ri, si), message: `seat ${seatId(b.id, r.id, s.id)} appears twice` });
        ids.add(s.id);
      });
      inBlock += r.seats.length;
    });
    if (inBlock === 0) errors.push({ field: where(bi), message: `block ${b.id} has no seats` });
    if (inBlock > MAX_SEATS_PER_BLOCK)
      errors.push({ field: where(bi), message: `block ${b.id} has ${inBlock} seats; at most ${MAX_SEATS_PER_BLOCK}` });
    total += inBlock;
  });
  if (total > MAX_SEATS_PER_GAME)
    errors.push({ field: "body", message: `the map has ${total} seats; at most ${MAX_SEATS_PER_GAME} a game` });
  return errors.slice(0, MAX_ERRORS);
}

const CSV_COLUMNS = ["block", "row", "seat", "category", "rank", "accessible"];
const TRUE = new Set(["true", "yes", "1", "y"]);
const FALSE = new Set(["false", "no", "0", "n", ""]);

/**
 * A CSV seat map, with its header line: `block,row,seat,category` and
 * optionally `rank` and `accessible`. Quoted fields and \r\n line ends are
 * CSV's (RFC 4180, read by d3-dsv). Errors name their record as "line n"
 * (the header is line 1; blank lines count).
 */
export function parseCsv(text: string): { map: SeatMap } | { errors: MapError[] } {
  const errors: MapError[] = [];
  // Blank lines are skipped, but still counted, so errors name the line as an editor shows it.
  const parsed = csvParseRows(text.replace(/^\uFEFF/, "")).map((cells, i) => ({ cells, n: i + 1 }));
  const nonBlank = parsed.filter((l) => !(l.cells.length === 1 && l.cells[0]!.trim() === ""));
  const header = nonBlank[0]?.cells;
  const lines = nonBlank.slice(1);
  const columns = (header ?? []).map((h) => h.trim().toLowerCase());
  const at = (name: string) => columns.indexOf(name);
  const unknown = columns.filter((c) => !CSV_COLUMNS.includes(c));
  if (!header || ["block", "row", "seat", "category"].some((c) => at(c) < 0) || unknown.length > 0) {
    return {
      errors: [
        {
          field: "line 1",
          message: `the header must name the columns block,row,seat,category[,rank][,accessible]${unknown.length ? `; unknown: ${unknown.join(", ")}` : ""}`,
        },
      ],
    };
  }
  const blocks = new Map<string, Map<string, MapSeat[]>>();
  for (const { cells, n } of lines) {
    const line = `line ${n}`;
    if (errors.length >= MAX_ERRORS) break;
    if (cells.length !== columns.length) {
      errors.push({ field: line, message: `expected ${columns.length} fields, found ${cells.length}` });
      continue;
    }
    const cell = (name: string) => (at(name) >= 0 ? cells[at(name)]!.trim() : "");
    const [block, row, seat, category] = ["block", "row", "seat", "category"].map(cell) as [
      string,
      string,
      string,
      string,
    ];
    const problem =
      !PART.test(block) || !PART.test(row) || !PART.test(seat)
        ? "block, row and seat must be 1 to 16 letters, digits, _ or . (no -)"
        : !CATEGORY.test(category)
          ? "category must be 1 to 40 letters, digits or _"
          : null;
    if (problem) {
      errors.push({ field: line, message: problem });
      continue;
    }
    const s: MapSeat = { id: seat, category };
    const rank = cell("rank");
    const accessible = cell("accessible").toLowerCase();
    if (rank !== "" && !/^\d{1,7}$/.test(rank)) {
      errors.push({ field: line, message: "rank must be a whole number from 0 to 9999999" });
      continue;
    }
    if (!TRUE.has(accessible) && !FALSE.has(accessible)) {
      errors.push({ field: line, message: "accessible must be true or false" });
      continue;
    }
    if (rank !== "") s.rank = Number(rank);
    if (TRUE.has(accessible)) s.accessible = true;
    const rows = blocks.get(block) ?? new Map<string, MapSeat[]>();
    blocks.set(block, rows);
    const list = rows.get(row) ?? [];
    rows.set(row, list);
    list.push(s);
  }
  if (errors.length > 0) return { errors };
  if (blocks.size === 0) return { errors: [{ field: "body", message: "the map has no seats" }] };
  const map: SeatMap = {
    blocks: [...blocks].map(([id, rows]) => ({
      id,
      name: id,
      rows: [...rows].map(([rowId, seats]) => ({ id: rowId, seats })),
    })),
  };
  const rules = mapErrors(map, () => "body");
  return rules.length > 0 ? { errors: rules } : { map };
}
