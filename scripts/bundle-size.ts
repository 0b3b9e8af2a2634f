// `npm run build:check`: builds the worker exactly as `npm run deploy` does
// (wrangler deploy --dry-run --minify), prints its gzipped size and fails
// over the budget. Static assets (the /docs files) are not in the bundle.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET = 160 * 1024;
const out = mkdtempSync(join(tmpdir(), "tickets-bundle-"));
const build = spawnSync("wrangler", ["deploy", "--dry-run", "--minify", "--outdir", out], {
  stdio: ["ignore", "ignore", "inherit"],
});
if (build.status !== 0) process.exit(build.status ?? 1);

let raw = 0;
let gzipped = 0;
for (const file of readdirSync(out).filter((f) => /\.(js|mjs|wasm)$/.test(f))) {
  const bytes = readFileSync(join(out, file));
  raw += bytes.length;
  gzipped += gzipSync(bytes, { level: 9 }).length;
}
rmSync(out, { recursive: true, force: true });
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`worker bundle: ${kib(raw)} minified, ${kib(gzipped)} gzipped (budget ${kib(BUDGET)})`);
if (gzipped > BUDGET) {
  console.error("over budget");
  process.exit(1);
}
