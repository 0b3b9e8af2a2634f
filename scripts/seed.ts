// `npm run seed`: fills the local D1 of `npm run dev` with a season of games,
// tickets and purchases. Uses the running dev server (--url, default
// http://127.0.0.1:8787), or starts `npm run dev` for the time it takes.
// Idempotent: a second run finds everything already there.
import { parseArgs } from "node:util";
import { adminHeader } from "./lib/dev-vars.ts";
import { client } from "./lib/load.ts";
import { seed } from "./lib/seed.ts";
import { withApi } from "./lib/server.ts";

const { values } = parseArgs({ options: { url: { type: "string", default: "http://127.0.0.1:8787" } } });

await withApi(values.url, async (url) => {
  const c = client(url, 4, { Authorization: adminHeader() });
  const result = await seed(c);
  c.close();
  console.log(
    `seeded ${url}: ${result.tickets} tickets over 10 games; ${result.purchases} purchases (${result.refused} orders refused by their limits)`,
  );
});
