// `npm run bench`: load benchmark of the API through wrangler dev, beside a
// bare Hono Worker (bench/bare) served by the same wrangler in the same run:
// every figure is also a ratio to that Worker, the platform's own speed here.
// `cpu µs` is the CPU each request cost the server (wrangler and workerd, every
// process, from /proc): a shared machine's noise moves it far less than rates.
//   --url URL            use a running API instead of starting one (the bare Worker is still started)
//   --stock N            rush stock (500)      --buyers N   buyers per rush (5000)
//   --concurrency LIST   levels (1,8,64,256)   --requests N requests per read scenario (3000)
//   --baskets N          baskets per basket scenario (500)
//   --json FILE          also write the results as JSON
//   --seat-picks N       picks per seat rush (20000): one full block, then a whole stand, at concurrency 64
//   --seats-only         only the seat rushes
// Baskets (orders, POST /orders) at every level: 1-line and 4-line baskets over
// fresh tickets with stock for all (the hold's cost by its number of lines), and
// a rush of 1-4-line baskets over 4 tickets of small stock (all or nothing).
// Exits non-zero on any oversell, inconsistency, partial order or double admission.
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { type BasketRushResult, basketHolds, basketRush } from "./lib/baskets.ts";
import { adminHeader } from "./lib/dev-vars.ts";
import { type GateRushResult, gateRush } from "./lib/gate-rush.ts";
import { type Client, client, run, type Stats, stats } from "./lib/load.ts";
import { type RushResult, rush } from "./lib/rush.ts";
import { type SeatRushResult, seatRush } from "./lib/seat-rush.ts";
import { startLocalServer, startServer, usageOf } from "./lib/server.ts";

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    stock: { type: "string", default: "500" },
    buyers: { type: "string", default: "5000" },
    concurrency: { type: "string", default: "1,8,64,256" },
    requests: { type: "string", default: "3000" },
    baskets: { type: "string", default: "500" },
    json: { type: "string" },
    "seat-picks": { type: "string", default: "20000" },
    "seats-only": { type: "boolean", default: false },
  },
});
const SEAT_PICKS = Number(opts["seat-picks"]);
const STOCK = Number(opts.stock);
const BUYERS = Number(opts.buyers);
const REQUESTS = Number(opts.requests);
const BASKETS = Number(opts.baskets);
/** The basket rush: 4 tickets of this many units each (1-4 lines of 1-2 units per basket: more asked than there is). */
const BASKET_STOCK = 40;
const LEVELS = opts["seats-only"] ? [] : opts.concurrency.split(",").map(Number);
const MAX_MS = 120_000; // per scenario
/** Purchases/s of the system this replaces (FastAPI + SQLAlchemy) on this machine at concurrency 64: 131-175. */
const REPLACED_RPS = 175;

/** What a rush checked: oversold units, and whether every count agreed (problems, if not). */
type Check = { oversold: number; consistent: boolean; problems: string[] };
type BasketSummary = Omit<BasketRushResult, "all" | "byLines" | "cpuUs">;

interface Row {
  scenario: string;
  concurrency: number;
  stats: Stats;
  /** The server's CPU per request (wrangler and workerd, all processes): steadier than rates on a shared machine. */
  cpuUs?: number;
  vsBare: number;
  vsHealth: number;
  rush?: Omit<RushResult, "all" | "selling" | "soldOut"> | (BasketSummary & Check);
}

interface BasketLevel {
  concurrency: number;
  one: Stats;
  four: Stats;
  rush: BasketRushResult;
}

const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

// One after the other: two wrangler devs starting at once contend for a port.
const api = opts.url ? { url: opts.url, pid: 0, stop: async () => {} } : await startLocalServer();
const bare = await startServer("wrangler", ["dev", "-c", "bench/bare/wrangler.toml"]);
const rows: Row[] = [];
let gate: GateRushResult | undefined;
const basketLevels: BasketLevel[] = [];
const seatRushes: SeatRushResult[] = [];
let failed = false;
try {
  const c = client(api.url, Math.max(64, ...LEVELS), { Authorization: adminHeader() });
  const b = client(bare.url, Math.max(64, ...LEVELS));
  // Warm up both isolates, D1 and the HTTP connections.
  await run(b, 300, 8, () => ({ method: "GET", path: "/health" }));
  await run(c, 300, 8, () => ({ method: "GET", path: "/health" }));
  await rush(c, { stock: 50, buyers: 100, concurrency: 8 });
  await basketRush(c, { stock: 20, baskets: 50, concurrency: 8 });
  const read = await c.send("POST", "/tickets", { game_id: 1, name: "Read me", price: 12.5, stock: 10 });
  const readPath = `/tickets/${(JSON.parse(read.body) as { id: number }).id}`;
  const health = (on: Client, concurrency: number) =>
    run(on, REQUESTS / 2, concurrency, () => ({ method: "GET", path: "/health" }), MAX_MS);
  /** Runs `work` and the CPU per request it cost the server `pid` (none for --url). */
  const costed = async <T>(pid: number, work: () => Promise<T>, requests: (t: T) => number) => {
    const before = pid ? usageOf(pid).cpuMs : 0;
    const result = await work();
    const cpuUs = pid ? Math.round(((usageOf(pid).cpuMs - before) * 1000) / requests(result)) : undefined;
    return { result, cpuUs };
  };

  for (const concurrency of LEVELS) {
    // The two /health figures are measured before and after the other scenarios and pooled, so a drift of
    // the shared machine during the level weighs on both sides of every ratio.
    const healths = async () => [
      await costed(
        bare.pid,
        () => health(b, concurrency),
        (r) => r.samples.length,
      ),
      await costed(
        api.pid,
        () => health(c, concurrency),
        (r) => r.samples.length,
      ),
    ];
    const before = await healths();
    const measured: [string, Stats, number | undefined, Row["rush"]?][] = [];

    const r = await costed(
      api.pid,
      () => run(c, REQUESTS, concurrency, () => ({ method: "GET", path: readPath }), MAX_MS),
      (r) => r.samples.length,
    );
    measured.push(["GET /tickets/{id}", stats(r.result.samples, r.result.ms), r.cpuUs]);
    for (const [label, stock, hold] of [
      [`rush ${STOCK} / ${BUYERS}`, STOCK, false],
      ["buy (stock >= buyers)", BUYERS, false],
      ["hold (stock >= buyers)", BUYERS, true],
    ] as const) {
      const { result, cpuUs } = await costed(
        api.pid,
        () => rush(c, { stock, buyers: BUYERS, concurrency, maxMs: MAX_MS, hold }),
        (r) => r.all.requests,
      );
      const { all, selling, soldOut, ...check } = result;
      if (check.oversold > 0 || !check.consistent) failed = true;
      // A rush's CPU is its whole run's: shown on its line of all requests only.
      if (stock < BUYERS)
        measured.push(
          [`${label}: selling`, selling, undefined, check],
          [`${label}: sold out`, soldOut, undefined, check],
        );
      else measured.push([label, all, cpuUs, check]);
    }
    if (concurrency === 64) {
      const g = await costed(
        api.pid,
        () => gateRush(c),
        (r) => r.all.requests,
      );
      gate = g.result;
      if (gate.doubleAdmissions > 0 || gate.neverAdmitted > 0) failed = true;
      measured.push([`gate scans (${gate.scanners} scanners)`, gate.all, g.cpuUs]);
    }
    // Baskets: the hold of a 1-line and of a 4-line basket, each over 4 fresh tickets with stock for every
    // basket, then the small-stock rush; every order checked all or nothing. Last in the level, each after
    // a pause: each order's object wakes 5 s after its decision (its alarm), and its events go through the
    // queue, which should not weigh on the next scenario.
    // Their CPU is the placing's only, per basket (not the checks' reads).
    const summary = ({ all: _, byLines: __, cpuUs: ___, ...check }: BasketRushResult): BasketSummary & Check => ({
      ...check,
      problems: [...check.partial, ...check.problems].slice(0, 5),
    });
    const cpuMs = api.pid ? () => usageOf(api.pid).cpuMs : undefined;
    const basketOpts = { baskets: BASKETS, concurrency, maxMs: MAX_MS, cpuMs };
    const settle = () => new Promise((r) => setTimeout(r, 6_000));
    await settle();
    const one = await basketHolds(c, { ...basketOpts, lines: 1 });
    await settle();
    const four = await basketHolds(c, { ...basketOpts, lines: 4 });
    await settle();
    const mixed = await basketRush(c, { ...basketOpts, stock: BASKET_STOCK, seed: concurrency });
    for (const b of [one, four, mixed]) if (!b.consistent || b.oversold > 0) failed = true;
    measured.push(
      ["basket 1 line (ample stock)", one.all, one.cpuUs, summary(one)],
      ["basket 4 lines (ample stock)", four.all, four.cpuUs, summary(four)],
      [`basket rush 1-4 lines x ${BASKET_STOCK}`, mixed.all, mixed.cpuUs, summary(mixed)],
    );
    basketLevels.push({ concurrency, one: one.all, four: four.all, rush: mixed });
    await settle();

    const after = await healths();
    const pooled = (i: number) => {
      const [x, y] = [before[i]!, after[i]!];
      const cpu = x.cpuUs !== undefined && y.cpuUs !== undefined ? Math.round((x.cpuUs + y.cpuUs) / 2) : undefined;
      return [stats([...x.result.samples, ...y.result.samples], x.result.ms + y.result.ms), cpu] as const;
    };
    const [bareHealth, bareCpu] = pooled(0);
    const [apiHealth, apiCpu] = pooled(1);
    for (const [scenario, s, cpuUs, rushCheck] of [
      ["bare Worker GET /health", bareHealth, bareCpu] as const,
      ["GET /health", apiHealth, apiCpu] as const,
      ...measured,
    ]) {
      rows.push({
        scenario,
        concurrency,
        stats: s,
        cpuUs,
        vsBare: ratio(s.rps, bareHealth.rps),
        vsHealth: ratio(s.rps, apiHealth.rps),
        rush: rushCheck,
      });
    }
  }
  // The seat rushes, at concurrency 64: one full block, then a whole stand.
  const sc = client(api.url, 64, { Authorization: adminHeader() });
  for (const mode of ["block", "stand"] as const) {
    const r = await seatRush(sc, { mode, picks: SEAT_PICKS, concurrency: 64 });
    if (r.doubleHeld > 0 || r.mismatched > 0) failed = true;
    seatRushes.push(r);
  }
  sc.close();
  c.close();
  b.close();
} finally {
  await Promise.all([api.stop(), bare.stop()]);
}

const pad = (s: unknown, n: number) => String(s).padStart(n);
console.log(
  `\nmachine: ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, node ${process.version}; stock ${STOCK}, buyers ${BUYERS}`,
);
console.log(
  `${"scenario".padEnd(30)}${pad("conc", 5)}${pad("req/s", 8)}${pad("x bare", 8)}${pad("x health", 9)}${pad("cpu µs", 8)}${pad("p50 ms", 8)}${pad("p95", 7)}${pad("p99", 7)}${pad("max", 7)}  statuses            oversold  consistent`,
);
for (const row of rows) {
  const s = row.stats;
  const statuses = Object.entries(s.statuses)
    .map(([k, v]) => `${k}:${v}`)
    .join(" ");
  console.log(
    `${row.scenario.padEnd(30)}${pad(row.concurrency, 5)}${pad(s.rps, 8)}${pad(row.vsBare.toFixed(2), 8)}${pad(row.vsHealth.toFixed(2), 9)}${pad(row.cpuUs ?? "", 8)}${pad(s.p50, 8)}${pad(s.p95, 7)}${pad(s.p99, 7)}${pad(s.max, 7)}  ${statuses.padEnd(20)}${row.rush ? `${pad(row.rush.oversold, 8)}  ${row.rush.consistent ? "yes" : `NO: ${row.rush.problems.join("; ")}`}` : ""}`,
  );
}

if (gate) {
  const g = gate.all;
  console.log(
    `\ngate rush: ${gate.entries} entries of one game, each scanned 8 times by ${gate.scanners} scanners: ` +
      `${g.requests} scans, ${g.rps} scans/s, p50 ${g.p50} ms, p99 ${g.p99} ms; admitted ${gate.admitted}, ` +
      `double admissions ${gate.doubleAdmissions}, never admitted ${gate.neverAdmitted}`,
  );
}

if (basketLevels.length > 0) console.log("\nbaskets (POST /orders), by level:");
for (const { concurrency, one, four, rush: r } of basketLevels) {
  const byLines = Object.values(r.byLines).map((s) => Math.round(s.p50));
  const wrong = [...r.partial, ...r.problems];
  console.log(
    `  ${pad(concurrency, 3)}  ample stock: 1 line ${one.rps}/s, p50 ${one.p50} ms, p99 ${one.p99} ms; ` +
      `4 lines ${four.rps}/s, p50 ${four.p50} ms, p99 ${four.p99} ms ` +
      `(4 vs 1 line: p50 ${ratio(four.p50, one.p50)} x, p99 ${ratio(four.p99, one.p99)} x)\n` +
      `       rush: ${r.baskets} baskets of 1-4 lines (1-2 units each) over ${r.tickets.length} tickets of ${r.stock} units: ` +
      `${r.held} held, ${r.refused} refused, ${r.undecided} undecided${r.retried ? ` (${r.retried} retries of a 503)` : ""}; ` +
      `p50 by lines 1/2/3/4 ${byLines.join("/")} ms; partial orders ${r.partial.length}, oversold ${r.oversold}, ` +
      `${wrong.length === 0 ? "every count exact" : `WRONG: ${wrong.slice(0, 3).join("; ")}`}`,
  );
}
for (const r of seatRushes) {
  const a = r.all;
  console.log(
    `\nseat rush on ${r.mode === "block" ? "one full block" : "a whole stand (10 blocks)"} of ${r.seats} seats, concurrency 64: ` +
      `${r.picks} best-available picks of 1 to 8 together (${r.held} held, ${r.cancels} given back), ${a.rps} picks/s, ` +
      `over HTTP p50 ${a.p50} ms, p99 ${a.p99} ms; inside the block object p50 ${r.inObjectP50} ms, p99 ${r.inObjectP99} ms; ` +
      `seats held twice ${r.doubleHeld}, seats the blocks show otherwise ${r.mismatched}\n` +
      `  picks leaving a single empty seat beside the group where a group without one existed: ours ${r.lone.ours} ` +
      `(${r.lone.oursShare} %), naive first fit replayed over the same picks ${r.lone.firstFit} (${r.lone.firstFitShare} %)`,
  );
}
for (const r of seatRushes) {
  const ok = r.inObjectP99 <= 30 && r.lone.oursShare <= 0.5 && r.doubleHeld === 0 && r.mismatched === 0;
  console.log(
    `  ${ok ? "met " : "MISS"}  seat rush (${r.mode}): p99 in the object <= 30 ms, lone seats <= 0.5 %, none held twice`,
  );
  if (!ok) failed = true;
}

// The targets, at concurrency 64.
const at64 = (test: (scenario: string) => boolean) => rows.find((r) => r.concurrency === 64 && test(r.scenario));
const bare64 = at64((s) => s.startsWith("bare"));
const health64 = at64((s) => s === "GET /health");
const buy64 = at64((s) => s.startsWith("buy"));
const hold64 = at64((s) => s.startsWith("hold"));
const soldOut64 = at64((s) => s.endsWith("sold out"));
const gate64 = at64((s) => s.startsWith("gate"));
if (bare64 && health64 && buy64 && hold64 && soldOut64 && gate64) {
  const atLeast = (row: Row, x: number) =>
    [row.vsBare >= x, `${row.vsBare.toFixed(2)} x (${row.stats.rps}/s)`] as const;
  const targets: [string, ...(readonly [boolean, string])][] = [
    ["/health >= 0.8 x bare Worker", ...atLeast(health64, 0.8)],
    ["purchases >= 0.5 x bare Worker", ...atLeast(buy64, 0.5)],
    ["holds >= 0.5 x bare Worker", ...atLeast(hold64, 0.5)],
    ["sold-out answers >= 0.5 x bare Worker", ...atLeast(soldOut64, 0.5)],
    ["gate scans >= 0.4 x bare Worker", ...atLeast(gate64, 0.4)],
    [
      "purchase p99 <= 3 x bare Worker p99",
      buy64.stats.p99 <= 3 * bare64.stats.p99,
      `${buy64.stats.p99} ms vs ${bare64.stats.p99} ms (${ratio(buy64.stats.p99, bare64.stats.p99)} x)`,
    ],
    [
      `purchases >= 2 x the replaced system (${REPLACED_RPS}/s)`,
      buy64.stats.rps >= 2 * REPLACED_RPS,
      `${ratio(buy64.stats.rps, REPLACED_RPS)} x`,
    ],
    ["no oversell, inconsistency, double admission", !failed, failed ? "FAILED" : "all levels"],
  ];
  const baskets64 = basketLevels.find((b) => b.concurrency === 64);
  if (baskets64) {
    const { one, four, rush: r } = baskets64;
    const partial = basketLevels.reduce((n, b) => n + b.rush.partial.length, 0);
    const oversold = basketLevels.reduce((n, b) => n + b.rush.oversold, 0);
    targets.push(
      [
        "basket rush: 0 partial orders, 0 oversold",
        partial === 0 && oversold === 0 && basketLevels.every((b) => b.rush.consistent),
        `${partial} partial, ${oversold} oversold (all levels); at 64: ${r.all.rps} baskets/s, p50 ${r.all.p50} ms, p99 ${r.all.p99} ms`,
      ],
      [
        "4-line basket p50 <= 1.5 x 1-line basket p50",
        four.p50 <= 1.5 * one.p50,
        `${four.p50} ms vs ${one.p50} ms (${ratio(four.p50, one.p50)} x); ${four.rps} vs ${one.rps} baskets/s`,
      ],
      [
        "4-line basket p99 <= 2.5 x 1-line basket p99",
        four.p99 <= 2.5 * one.p99,
        `${four.p99} ms vs ${one.p99} ms (${ratio(four.p99, one.p99)} x)`,
      ],
    );
  }
  console.log("\ntargets at concurrency 64:");
  for (const [name, ok, figure] of targets) console.log(`  ${ok ? "met " : "MISS"}  ${name.padEnd(46)} ${figure}`);
}

if (opts.json) {
  writeFileSync(
    opts.json,
    JSON.stringify({ stock: STOCK, buyers: BUYERS, rows, gate, baskets: basketLevels, seatRushes }, null, 2),
  );
}
if (failed) {
  console.error("\nFAIL: oversell, inconsistency, a partial order or a double admission (see above)");
  process.exit(1);
}
