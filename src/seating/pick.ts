// Best available: which free seats of a block to give a request, as a pure
// function of the block's seats held in memory (the block object decides
// with it, synchronously, then writes). No imports: the benchmark runs the
// same code in Node for its first-fit baseline.

export const FREE = 0;
export const HELD = 1;
export const SOLD = 2;
export const BLOCKED = 3;

/** A block's seats in map order: rows front to back, each row's seats side by side. */
export interface SeatModel {
  state: Uint8Array; // FREE, HELD, SOLD or BLOCKED
  category: Uint16Array; // index into `categories`
  categories: string[];
  rank: Float64Array; // effective rank: lower is better
  accessible: Uint8Array;
  rows: { start: number; end: number }[]; // seat idx ranges [start, end)
}

export interface PickRequest {
  quantity: number;
  /** Category names the ticket sells; null: any. */
  categories: string[] | null;
  /** Side by side in one row when such a group exists (else as few groups as can be). */
  together: boolean;
  /** Only accessible seats; otherwise accessible seats go to others last. */
  accessible?: boolean;
}

export interface Picked {
  seats: number[];
  /** The group leaves a single empty seat beside it... */
  lone: boolean;
  /** ...and a group of that size without one existed (first group of a split pick only). */
  alternative: boolean;
}

export type Strategy = "best" | "first_fit";

/** An accessible seat given to someone who did not ask for one costs this much more. */
const ACCESSIBLE_PENALTY = 1e9;

/**
 * The rank each seat is picked by: the club's `rank` where given; without,
 * front rows first, then nearest the middle of its row (seats without a rank
 * come after every ranked one).
 */
export function effectiveRanks(rows: { start: number; end: number }[], ranks: (number | null)[]): Float64Array {
  const out = new Float64Array(ranks.length);
  const given = ranks.filter((r): r is number => r !== null);
  const after = given.length > 0 ? Math.max(...given) + 1 : 0;
  rows.forEach((row, r) => {
    const mid = (row.start + row.end - 1) / 2;
    for (let i = row.start; i < row.end; i++) {
      out[i] = ranks[i] ?? after + r * 100_000 + Math.abs(i - mid);
    }
  });
  return out;
}

/** How many free seats the request could be given, whatever their place. */
export function eligibleFree(m: SeatModel, req: Omit<PickRequest, "quantity" | "together">): number {
  const ok = categoryMask(m, req.categories);
  let n = 0;
  for (let i = 0; i < m.state.length; i++) if (m.state[i] === FREE && eligible(m, ok, req, i)) n++;
  return n;
}

/** The seats to give `req`, or null when fewer than asked are free. */
export function pick(m: SeatModel, req: PickRequest, strategy: Strategy = "best"): Picked | null {
  const ok = categoryMask(m, req.categories);
  if (!req.together) return pickSingles(m, ok, req);
  const first = bestWindow(m, ok, req, req.quantity, strategy);
  if (first) return { seats: first.seats, lone: first.lone, alternative: first.alternative };
  // No group of that size: as few groups as can be, the largest first.
  const taken: number[] = [];
  let left = req.quantity;
  let size = left;
  while (left > 0 && size > 0) {
    const w = bestWindow(m, ok, req, Math.min(size, left), strategy);
    if (!w) {
      size = Math.min(size, left) - 1;
      continue;
    }
    for (const i of w.seats) m.state[i] = HELD; // taken for the next groups' search; put back below
    taken.push(...w.seats);
    left -= w.seats.length;
  }
  for (const i of taken) m.state[i] = FREE;
  return left === 0 ? { seats: taken.sort((a, b) => a - b), lone: false, alternative: false } : null;
}

function categoryMask(m: SeatModel, categories: string[] | null): Uint8Array {
  const ok = new Uint8Array(m.categories.length);
  m.categories.forEach((c, i) => {
    ok[i] = categories === null || categories.includes(c) ? 1 : 0;
  });
  return ok;
}

const eligible = (m: SeatModel, ok: Uint8Array, req: { accessible?: boolean }, i: number) =>
  ok[m.category[i]!] === 1 && (!req.accessible || m.accessible[i] === 1);

const cost = (m: SeatModel, req: { accessible?: boolean }, i: number) =>
  m.rank[i]! + (!req.accessible && m.accessible[i] === 1 ? ACCESSIBLE_PENALTY : 0);

/**
 * The best q seats side by side: among the groups that leave no single empty
 * seat beside them, if any, the one of lowest total rank. A group's
 * neighbours are the free seats of its run (any category): a lone seat
 * left there cannot be sold to a pair.
 */
function bestWindow(m: SeatModel, ok: Uint8Array, req: PickRequest, q: number, strategy: Strategy) {
  let best: { start: number; lone: boolean; score: number } | null = null;
  let alternative = false;
  for (const row of m.rows) {
    let i = row.start;
    while (i < row.end) {
      if (m.state[i] !== FREE) {
        i++;
        continue;
      }
      const runStart = i;
      while (i < row.end && m.state[i] === FREE) i++;
      const runEnd = i;
      if (runEnd - runStart < q) continue;
      let bad = 0;
      let score = 0;
      for (let k = runStart; k < runStart + q; k++) {
        if (!eligible(m, ok, req, k)) bad++;
        score += cost(m, req, k);
      }
      for (let s = runStart; ; s++) {
        if (bad === 0) {
          const left = s - runStart;
          const right = runEnd - (s + q);
          const lone = left === 1 || right === 1;
          if (!lone) alternative = true;
          if (strategy === "first_fit") {
            if (!best) best = { start: s, lone, score };
          } else if (!best || (best.lone && !lone) || (best.lone === lone && score < best.score)) {
            best = { start: s, lone, score };
          }
        }
        if (s + q >= runEnd) break;
        if (!eligible(m, ok, req, s)) bad--;
        if (!eligible(m, ok, req, s + q)) bad++;
        score += cost(m, req, s + q) - cost(m, req, s);
      }
    }
  }
  if (!best) return null;
  const seats = Array.from({ length: q }, (_, k) => best.start + k);
  return { seats, lone: best.lone, alternative };
}

/** The q best-ranked free seats, wherever they are. */
function pickSingles(m: SeatModel, ok: Uint8Array, req: PickRequest): Picked | null {
  const free: number[] = [];
  for (let i = 0; i < m.state.length; i++) if (m.state[i] === FREE && eligible(m, ok, req, i)) free.push(i);
  if (free.length < req.quantity) return null;
  free.sort((a, b) => cost(m, req, a) - cost(m, req, b) || a - b);
  return { seats: free.slice(0, req.quantity).sort((a, b) => a - b), lone: false, alternative: false };
}
