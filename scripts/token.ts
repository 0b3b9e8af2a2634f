// `npm run -s token -- --user 42`, `--admin` or `--gate 7[,8] [--scanner name]`:
// prints an Authorization header for local development, from the secrets in
// .dev.vars. A gate token may scan the games listed, and do nothing else.
import { parseArgs } from "node:util";
import { adminHeader, gateBearer, userBearer } from "./lib/dev-vars.ts";

const { values } = parseArgs({
  options: {
    user: { type: "string" },
    admin: { type: "boolean" },
    gate: { type: "string" },
    scanner: { type: "string", default: "scanner-1" },
    ttl: { type: "string", default: "86400" },
  },
});
const games = values.gate?.split(",").map(Number) ?? [];
if (values.admin) {
  console.log(`Authorization: ${adminHeader()}`);
} else if (values.user && /^[1-9]\d{0,15}$/.test(values.user)) {
  console.log(`Authorization: ${await userBearer(Number(values.user), Number(values.ttl))}`);
} else if (games.length > 0 && games.every((g) => Number.isSafeInteger(g) && g > 0)) {
  console.log(`Authorization: ${await gateBearer(values.scanner, games, Number(values.ttl))}`);
} else {
  console.error(
    "usage: npm run -s token -- --user <id> | --admin | --gate <game>[,<game>...] [--scanner name] [--ttl s]",
  );
  process.exit(2);
}
