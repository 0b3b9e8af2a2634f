// A seat rush over HTTP: fans hold the best seats together (1 to 8) on one
// full block, or on a whole stand (best available over its blocks in order),
// at a fixed concurrency; some give their seats back, so the rush goes on
// with the block nearly full and its free seats scattered. Then checks that
// no seat was held twice (the holds the fans were told of against each
// other, and against the blocks' availability), and compares the share of
// picks that left a single empty seat beside the group (where a group
// without one existed) with a naive first fit replayed over the same picks.
import { effectiveRanks, FREE, HELD, pick, type SeatModel } from "../../src/seating/pick.ts";
import { type Client, type Sample, type Stats, stats } from "./load.ts";

export interface SeatRushResult {
  mode: "block" | "stand";
  seats: number;
  picks: number;
  all: Stats; // every pick over HTTP
  held: number; // picks answered 201
  inObjectP50: number; // ms inside the block object (Server-Timing seat-pick)
  inObjectP99: number;
  lone: { ours: number; oursShare: number; firstFit: number; firstFitShare: number; withAlternative: number };
  doubleHeld: number;
  mismatched: number; // seats whose availability disagrees with the holds the fans were told of
  cancels: number;
}

const ROWS_BLOCK = 40;
const ROWS_STAND = 30;
const PER_ROW = 50;
const rowName = (r: number) => (r < 26 ? String.fromCharCode(65 + r) : `A${String.fromCharCode(65 + r - 26)}`);

function mapOf(mode: "block" | "stand") {
  const blocks = mode === "block" ? ["R1"] : Array.from({ length: 10 }, (_, i) => `S${i + 1}`);
  const rows = mode === "block" ? ROWS_BLOCK : ROWS_STAND;
  return {
    blocks: blocks.map((id) => ({
      id,
      name: id,
      rows: Array.from({ length: rows }, (_, r) => ({
        id: rowName(r),
        seats: Array.from({ length: PER_ROW }, (_, s) => ({ id: String(s + 1), category: "standard" })),
      })),
    })),
  };
}

/** A weighted party size: pairs most, up to 8. */
const WEIGHTS = [1, 2, 2, 2, 3, 3, 4, 4, 4, 5, 6, 8];

export async function seatRush(
  c: Client,
  {
    mode,
    picks,
    concurrency,
    maxMs = 330_000,
  }: { mode: "block" | "stand"; picks: number; concurrency: number; maxMs?: number },
): Promise<SeatRushResult> {
  const game = 1 + Math.floor(Math.random() * 1e6);
  const map = mapOf(mode);
  const put = await c.send("PUT", `/games/${game}/seatmap`, map);
  if (put.status !== 200) throw new Error(`the rush's seat map: ${put.status} ${put.body}`);
  const seats = (JSON.parse(put.body) as { seats: number }).seats;
  const made = await c.send("POST", "/tickets", {
    game_id: game,
    name: `Seat rush (${mode})`,
    price: 20,
    max_per_order: 8,
    seating: { categories: ["standard"] },
  });
  if (made.status !== 200) throw new Error(`the rush's ticket: ${made.status} ${made.body}`);
  const ticket = (JSON.parse(made.body) as { id: number }).id;

  const samples: Sample[] = [];
  const inObject: number[] = [];
  const live = new Map<number, string[]>(); // purchase -> seats, as the fans were told
  // The picks and give-backs in the order their answers came: the baseline replays them.
  const events: ({ pick: number; size: number; lone: boolean; alternative: boolean } | { cancel: number })[] = [];
  let liveSeats = 0;
  let next = 0;
  let cancels = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < picks && performance.now() - t0 < maxMs) {
      const i = next++;
      const size = WEIGHTS[Math.floor(Math.random() * WEIGHTS.length)]!;
      const body = {
        user_id: 1 + i,
        ticket_id: ticket,
        quantity: size,
        best_available: mode === "block" ? { together: true, block: "R1" } : { together: true },
      };
      const s = await c.send("POST", "/tickets/hold", body);
      samples.push(s);
      if (s.status !== 201) continue;
      const p = JSON.parse(s.body) as { id: number; seats: string[] };
      const timing = /seat-pick;dur=([\d.]+);desc="lone=(\d) alternative=(\d)"/.exec(s.headers["server-timing"] ?? "");
      if (timing) inObject.push(Number(timing[1]));
      live.set(p.id, p.seats);
      liveSeats += p.seats.length;
      events.push({ pick: p.id, size: p.seats.length, lone: timing?.[2] === "1", alternative: timing?.[3] === "1" });
      // Fans give seats back, more of them as the block fills: the rush goes on, the free seats scattered.
      if (Math.random() < (liveSeats > seats * 0.85 ? 1 : 0.6)) {
        const gone = await c.send("POST", `/purchases/${p.id}/cancel`);
        if (gone.status === 200) {
          live.delete(p.id);
          liveSeats -= p.seats.length;
          cancels++;
          events.push({ cancel: p.id });
        }
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const all = stats(samples, performance.now() - t0);

  // No seat in two holds the fans were told of, and the blocks agree seat by seat.
  const holders = new Map<string, number>();
  let doubleHeld = 0;
  for (const [id, ss] of live) {
    for (const seat of ss) {
      if (holders.has(seat)) doubleHeld++;
      holders.set(seat, id);
    }
  }
  await new Promise((r) => setTimeout(r, 500)); // the blocks' projection of their last changes
  const avail = await c.send("GET", `/games/${game}/seats`);
  let mismatched = 0;
  for (const b of (
    JSON.parse(avail.body) as { blocks: { block: string; rows: { row: string; seats: number; free: string }[] }[] }
  ).blocks) {
    for (const r of b.rows) {
      const bytes = Buffer.from(r.free, "base64");
      for (let i = 0; i < r.seats; i++) {
        const free = (bytes[i >> 3]! & (1 << (i & 7))) !== 0;
        if (free === holders.has(`${b.block}-${r.row}-${i + 1}`)) mismatched++;
      }
    }
  }

  // The baseline: the same picks and give-backs, in the same order, by naive first fit.
  const model = modelOf(map);
  const simulated = new Map<number, number[]>();
  let firstFitLone = 0;
  let withAlternative = 0;
  let oursLone = 0;
  for (const e of events) {
    if ("cancel" in e) {
      for (const i of simulated.get(e.cancel) ?? []) model.state[i] = FREE;
      continue;
    }
    if (e.lone && e.alternative) oursLone++;
    const p = pick(model, { quantity: e.size, categories: null, together: true }, "first_fit");
    if (!p) continue;
    if (p.alternative) withAlternative++;
    if (p.lone && p.alternative) firstFitLone++;
    for (const i of p.seats) model.state[i] = HELD;
    simulated.set(e.pick, p.seats);
  }
  const oursWithAlternative = events.filter((e) => "pick" in e && e.alternative).length;
  inObject.sort((a, b) => a - b);
  const at = (q: number) => inObject[Math.min(inObject.length - 1, Math.ceil(q * inObject.length) - 1)] ?? 0;
  const share = (n: number, of: number) => (of === 0 ? 0 : Math.round((n / of) * 10_000) / 100);
  return {
    mode,
    seats,
    picks: samples.length,
    all,
    held: samples.filter((s) => s.status === 201).length,
    inObjectP50: at(0.5),
    inObjectP99: at(0.99),
    lone: {
      ours: oursLone,
      oursShare: share(oursLone, oursWithAlternative),
      firstFit: firstFitLone,
      firstFitShare: share(firstFitLone, withAlternative),
      withAlternative: oursWithAlternative,
    },
    doubleHeld,
    mismatched,
    cancels,
  };
}

/** The map as the block's in-memory model (one model over all its blocks: a pick stays within a row). */
function modelOf(map: ReturnType<typeof mapOf>): SeatModel {
  const rows: { start: number; end: number }[] = [];
  let n = 0;
  for (const b of map.blocks)
    for (const r of b.rows) {
      rows.push({ start: n, end: n + r.seats.length });
      n += r.seats.length;
    }
  return {
    state: new Uint8Array(n),
    category: new Uint16Array(n),
    categories: ["standard"],
    rank: effectiveRanks(
      rows,
      Array.from({ length: n }, () => null),
    ),
    accessible: new Uint8Array(n),
    rows,
  };
}
