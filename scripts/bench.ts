// `npm run bench`: load benchmark of the API through wrangler dev.
//   --url URL            use a running server instead of starting one
//   --stock N            rush stock (500)      --buyers N   buyers per rush (5000)
//   --concurrency LIST   levels (1,8,64,256)   --requests N requests per read scenario (3000)
//   --json FILE          also write the results as JSON
// Exits non-zero on any oversell or inconsistency.
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { adminHeader } from "./lib/dev-vars.ts";
import { type GateRushResult, gateRush } from "./lib/gate-rush.ts";
import { client, run, type Stats, stats } from "./lib/load.ts";
import { type RushResult, rush } from "./lib/rush.ts";
import { startLocalServer } from "./lib/server.ts";

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    stock: { type: "string", default: "500" },
    buyers: { type: "string", default: "5000" },
    concurrency: { type: "string", default: "1,8,64,256" },
    requests: { type: "string", default: "3000" },
    json: { type: "string" },
  },
});
const STOCK = Number(opts.stock);
const BUYERS = Number(opts.buyers);
const REQUESTS = Number(opts.requests);
const LEVELS = opts.concurrency.split(",").map(Number);
const MAX_MS = 120_000; // per scenario

interface Row {
  scenario: string;
  concurrency: number;
  stats: Stats;
  vsHealth: number;
  rush?: Omit<RushResult, "all" | "selling" | "soldOut">;
}

const server = opts.url ? { url: opts.url, stop: async () => {} } : await startLocalServer();
const rows: Row[] = [];
let gate: GateRushResult | undefined;
let failed = false;
try {
  const c = client(server.url, Math.max(...LEVELS), { Authorization: adminHeader() });
  // Warm up the isolate, D1 and the HTTP connections.
  await run(c, 300, 8, () => ({ method: "GET", path: "/health" }));
  await rush(c, { stock: 50, buyers: 100, concurrency: 8 });
  const read = await c.send("POST", "/tickets", { game_id: 1, name: "Read me", price: 12.5, stock: 10 });
  const readPath = `/tickets/${(JSON.parse(read.body) as { id: number }).id}`;

  for (const concurrency of LEVELS) {
    // /health is measured before and after the other scenarios and pooled,
    // so a drift of the shared machine during the level affects both sides.
    const healthRun = () => run(c, REQUESTS / 2, concurrency, () => ({ method: "GET", path: "/health" }), MAX_MS);
    const before = await healthRun();
    const measured: [string, Stats, Row["rush"]?][] = [];

    const r = await run(c, REQUESTS, concurrency, () => ({ method: "GET", path: readPath }), MAX_MS);
    measured.push(["GET /tickets/{id}", stats(r.samples, r.ms)]);
    for (const [label, stock] of [
      [`rush ${STOCK} / ${BUYERS}`, STOCK],
      ["buy (stock >= buyers)", BUYERS],
    ] as const) {
      const { all, selling, soldOut, ...check } = await rush(c, { stock, buyers: BUYERS, concurrency, maxMs: MAX_MS });
      if (check.oversold > 0 || !check.consistent) failed = true;
      if (stock < BUYERS) measured.push([`${label}: selling`, selling, check], [`${label}: sold out`, soldOut, check]);
      else measured.push([label, all, check]);
    }

    const after = await healthRun();
    const health = stats([...before.samples, ...after.samples], before.ms + after.ms);
    for (const [scenario, s, rushCheck] of [["GET /health", health] as const, ...measured]) {
      rows.push({
        scenario,
        concurrency,
        stats: s,
        vsHealth: Math.round((s.rps / health.rps) * 100) / 100,
        rush: rushCheck,
      });
    }
  }
  gate = await gateRush(c);
  if (gate.doubleAdmissions > 0 || gate.neverAdmitted > 0) failed = true;
  c.close();
} finally {
  await server.stop();
}

const pad = (s: unknown, n: number) => String(s).padStart(n);
console.log(
  `\nmachine: ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, node ${process.version}; stock ${STOCK}, buyers ${BUYERS}`,
);
console.log(
  `${"scenario".padEnd(30)}${pad("conc", 5)}${pad("req/s", 8)}${pad("x health", 9)}${pad("p50 ms", 8)}${pad("p95", 7)}${pad("p99", 7)}${pad("max", 7)}  statuses            oversold  consistent`,
);
for (const row of rows) {
  const s = row.stats;
  const statuses = Object.entries(s.statuses)
    .map(([k, v]) => `${k}:${v}`)
    .join(" ");
  console.log(
    `${row.scenario.padEnd(30)}${pad(row.concurrency, 5)}${pad(s.rps, 8)}${pad(row.vsHealth.toFixed(2), 9)}${pad(s.p50, 8)}${pad(s.p95, 7)}${pad(s.p99, 7)}${pad(s.max, 7)}  ${statuses.padEnd(20)}${row.rush ? `${pad(row.rush.oversold, 8)}  ${row.rush.consistent ? "yes" : `NO: ${row.rush.problems.join("; ")}`}` : ""}`,
  );
}

if (gate) {
  const g = gate.all;
  console.log(
    `\ngate rush: ${gate.entries} entries of one game, ${gate.scanners} scanners each scanning every code: ` +
      `${g.requests} scans, ${g.rps} scans/s, p50 ${g.p50} ms, p99 ${g.p99} ms; admitted ${gate.admitted}, ` +
      `double admissions ${gate.doubleAdmissions}, never admitted ${gate.neverAdmitted}`,
  );
}

// The targets, at concurrency 64.
const at64 = (scenario: string) => rows.find((r) => r.concurrency === 64 && r.scenario.startsWith(scenario));
const health64 = at64("GET /health");
const buy64 = at64("buy");
const soldOut64 = rows.find((r) => r.concurrency === 64 && r.scenario.endsWith("sold out"));
if (health64 && buy64 && soldOut64) {
  const targets: [string, boolean, string][] = [
    ["purchase throughput >= 0.6 x /health", buy64.vsHealth >= 0.6, `${buy64.vsHealth.toFixed(2)} x`],
    ["sold-out answers >= 0.6 x /health", soldOut64.vsHealth >= 0.6, `${soldOut64.vsHealth.toFixed(2)} x`],
    [
      "purchase p99 <= 3 x /health p99",
      buy64.stats.p99 <= 3 * health64.stats.p99,
      `${buy64.stats.p99} ms vs ${health64.stats.p99} ms (${(buy64.stats.p99 / health64.stats.p99).toFixed(2)} x)`,
    ],
    ["no oversell, no inconsistency", !failed, failed ? "FAILED" : "all levels"],
  ];
  console.log("\ntargets at concurrency 64:");
  for (const [name, ok, figure] of targets) console.log(`  ${ok ? "met " : "MISS"}  ${name.padEnd(40)} ${figure}`);
}

if (opts.json) writeFileSync(opts.json, JSON.stringify({ stock: STOCK, buyers: BUYERS, rows, gate }, null, 2));
if (failed) {
  console.error("\nFAIL: oversell, inconsistency or a double admission (see above)");
  process.exit(1);
}
