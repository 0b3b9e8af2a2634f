// `npm run -s token -- --user 42` or `--admin`: prints an Authorization header
// for local development, from the secrets in .dev.vars.
import { parseArgs } from "node:util";
import { adminHeader, userBearer } from "./lib/dev-vars.ts";

const { values } = parseArgs({
  options: { user: { type: "string" }, admin: { type: "boolean" }, ttl: { type: "string", default: "86400" } },
});
if (values.admin) {
  console.log(`Authorization: ${adminHeader()}`);
} else if (values.user && /^[1-9]\d{0,15}$/.test(values.user)) {
  console.log(`Authorization: ${await userBearer(Number(values.user), Number(values.ttl))}`);
} else {
  console.error("usage: npm run -s token -- --user <id> | --admin [--ttl seconds]");
  process.exit(2);
}
