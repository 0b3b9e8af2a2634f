// `npm run dev`: migrate the local D1, then serve the API with wrangler dev.
// Extra arguments go to wrangler dev: `npm run dev -- --port 8788`.
import { spawn, spawnSync } from "node:child_process";
import { ensureDevVars } from "./lib/dev-vars.ts";

const shell = process.platform === "win32";

ensureDevVars();

// The local state wrangler dev will use: migrate that one.
const args = process.argv.slice(2);
const at = args.indexOf("--persist-to");
const persist = at >= 0 ? ["--persist-to", args[at + 1]!] : [];

// CI=true makes wrangler apply migrations without asking for confirmation.
const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local", ...persist], {
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...process.env, CI: "true" },
  shell,
});
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

const dev = spawn("wrangler", ["dev", ...args], { stdio: "inherit", shell });
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
