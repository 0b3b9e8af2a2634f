// `npm run dev`: migrate the local D1, then serve the API with wrangler dev.
// Extra arguments go to wrangler dev: `npm run dev -- --port 8788`.
// Quiet until ready: one line for the migrations, wrangler's start-up output
// held back (shown whole if it fails to start), errors at once; from "Ready
// on" everything passes. Request.cf is not fetched from workers.cloudflare.com
// (wrangler's placeholder is used), which offline printed DNS stack traces.
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { ensureDevVars } from "./lib/dev-vars.ts";

const shell = process.platform === "win32";

ensureDevVars();

// The local state wrangler dev will use: migrate that one.
const args = process.argv.slice(2);
const at = args.indexOf("--persist-to");
const persist = at >= 0 ? ["--persist-to", args[at + 1]!] : [];

// CI=true makes wrangler apply migrations without asking for confirmation.
const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local", ...persist], {
  encoding: "utf8",
  env: { ...process.env, CI: "true" },
  shell,
});
if (migrate.status !== 0) {
  process.stderr.write(`${migrate.stdout}${migrate.stderr}`);
  process.exit(migrate.status ?? 1);
}
const applied = [...new Set(migrate.stdout.match(/\d{4}_[\w-]+\.sql/g))];
console.log(
  applied.length === 0
    ? "D1 (local): migrations up to date"
    : `D1 (local): applied ${applied.length} migration${applied.length > 1 ? "s" : ""} (${applied[0]}${applied.length > 1 ? ` … ${applied.at(-1)}` : ""})`,
);

const dev = spawn("wrangler", ["dev", ...args], {
  stdio: ["inherit", "pipe", "pipe"],
  env: {
    ...process.env,
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    ...(process.stdout.isTTY && !process.env.NO_COLOR ? { FORCE_COLOR: "1" } : {}),
  },
  shell,
});
let ready = false;
const held: string[] = [];
const important = /✘|\[ERROR\]|Address already in use/;
for (const [from, to] of [
  [dev.stdout, process.stdout],
  [dev.stderr, process.stderr],
] as const) {
  createInterface({ input: from }).on("line", (line) => {
    ready ||= line.includes("Ready on");
    if (ready || important.test(line)) to.write(`${line}\n`);
    else held.push(line);
  });
}
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => {
  if (!ready && held.length > 0) process.stderr.write(`${held.join("\n")}\n`);
  process.exit(code ?? 0);
});
