// `npm run orders:fuzz`: test/orders-fuzz.test.ts at scale. Runs the vitest
// file once per seed (a fresh workerd each time, its clock starting afresh),
// each with its share of the baskets, one after the other (2 cores), and
// prints the figures of every run and of the whole as a closing note.
// Exits non-zero if a run failed; its report (seed, wave, each failing
// order's trace and the command that replays it) is printed, and every
// run's full output is kept.
//
//   npm run orders:fuzz                              10,000 baskets, 4 seeds drawn at random
//   npm run orders:fuzz -- --baskets 20000 --runs 8  more
//   npm run orders:fuzz -- --seed 1234               seeds 1234, 1235, ... (replays a run)
//   npm run orders:fuzz -- --wave 150 --drop 0.02 --crash 0 --strict
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    baskets: { type: "string", default: "10000" },
    runs: { type: "string" },
    seed: { type: "string" },
    wave: { type: "string" },
    drop: { type: "string" },
    crash: { type: "string" },
    strict: { type: "boolean", default: false },
  },
});

/** A run's clock moves up to 50 minutes a wave, and Stripe's stand-in takes sessions up to 24 hours ahead. */
const MAX_WAVES = 26;
const baskets = Number(args.baskets);
const MAX_PER_RUN = MAX_WAVES * Number(args.wave ?? 100);
const runs = Math.max(Number(args.runs ?? 1), Math.ceil(baskets / MAX_PER_RUN));
const first = args.seed !== undefined ? Number(args.seed) : 1 + Math.floor(Math.random() * 1e6);
const perRun = Math.ceil(baskets / runs);
const logs = mkdtempSync(join(tmpdir(), "orders-fuzz-"));

type Counts = Record<string, number>;
interface Summary {
  seed: number;
  baskets: number;
  waves: number;
  seconds: number;
  place: Counts;
  answers: Counts;
  intents: Counts;
  final: Counts;
  faults: Counts;
  webhooks: Counts;
  known: Counts;
  checks: Counts;
  ms: Counts;
}

function runOnce(seed: number): Promise<{ code: number; out: string; seconds: number }> {
  const started = performance.now();
  const env = {
    ...process.env,
    ORDERS_FUZZ_SEED: String(seed),
    ORDERS_FUZZ_BASKETS: String(perRun),
    ...(args.wave ? { ORDERS_FUZZ_WAVE: args.wave } : {}),
    ...(args.drop ? { ORDERS_FUZZ_DROP: args.drop } : {}),
    ...(args.crash ? { ORDERS_FUZZ_CRASH: args.crash } : {}),
    ...(args.strict ? { ORDERS_FUZZ_STRICT: "1" } : {}),
  };
  return new Promise((resolve) => {
    const child = spawn("npx", ["vitest", "run", "--project", "workers", "test/orders-fuzz.test.ts"], { env });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) =>
      resolve({ code: code ?? 1, out, seconds: Math.round((performance.now() - started) / 1000) }),
    );
  });
}

const add = (into: Counts, from: Counts = {}) => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
};
const ESC = String.fromCharCode(27);
const plain = (s: string) => s.replaceAll(new RegExp(`${ESC}\\[[0-9;]*m`, "g"), ""); // no colours
const line = (counts: Counts, keys?: string[]) =>
  (keys ?? Object.keys(counts).sort((a, b) => counts[b]! - counts[a]!))
    .filter((k) => counts[k] !== undefined)
    .map((k) => `${k} ${counts[k]!.toLocaleString("en")}`)
    .join(", ");

console.log(
  `orders fuzz: ${baskets.toLocaleString("en")} baskets in ${runs} runs, seeds ${first}..${first + runs - 1}`,
);
const total = {
  place: {},
  answers: {},
  final: {},
  faults: {},
  webhooks: {},
  known: {},
  checks: {},
  intents: {},
} as Record<string, Counts>;
const done: { seed: number; baskets: number; seconds: number; ok: boolean }[] = [];
const failed: string[] = [];
const started = performance.now();
for (let i = 0; i < runs; i++) {
  const seed = first + i;
  const { code, out, seconds } = await runOnce(seed);
  const file = join(logs, `seed-${seed}.log`);
  writeFileSync(file, plain(out));
  const summary = plain(out)
    .split("\n")
    .filter((l) => l.startsWith("ORDERS_FUZZ_SUMMARY "))
    .map((l) => JSON.parse(l.slice("ORDERS_FUZZ_SUMMARY ".length)) as Summary)[0];
  done.push({ seed, baskets: summary?.baskets ?? 0, seconds, ok: code === 0 });
  if (summary) for (const k of Object.keys(total)) add(total[k]!, summary[k as keyof Summary] as Counts);
  console.log(
    `${code === 0 ? "ok  " : "FAIL"}  seed ${seed}: ${summary?.baskets ?? "?"} baskets in ${seconds} s` +
      (summary ? ` (${line(summary.final, ["confirmed", "expired", "cancelled", "refunded", "refused"])})` : "") +
      `  ${file}`,
  );
  if (code !== 0) {
    const report = plain(out).match(/AssertionError: [\s\S]*?(?=\n\s*- Expected|\n ❯ |$)/)?.[0] ?? "see the log";
    failed.push(`seed ${seed}:\n${report}`);
  }
}
const seconds = Math.round((performance.now() - started) / 1000);
const ran = done.reduce((n, d) => n + d.baskets, 0);

console.log(`
## Closing note: orders fuzz (test/orders-fuzz.test.ts)

- baskets: ${ran.toLocaleString("en")} (1 to 4 lines), ${runs} runs, seeds ${done.map((d) => d.seed).join(", ")}; ${seconds} s in all (${done.map((d) => `${d.seconds} s`).join(", ")})
- placed: ${line(total.place!)}
- ends: ${line(total.final!)}
- faults: ${line(total.faults!)}
- webhook events (each delivered 5 times): ${line(total.webhooks!)}
- checked: ${line(total.checks!)}
- known defects seen: ${Object.keys(total.known!).length ? line(total.known!) : "none"}
- runs failed: ${failed.length}${failed.length ? "" : " (every invariant held)"}
- logs: ${logs}
`);
if (failed.length > 0) {
  console.log(failed.join("\n\n"));
  process.exit(1);
}
