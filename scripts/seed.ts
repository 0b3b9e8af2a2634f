// `npm run seed`: fills the local D1 of `npm run dev` with a season of games,
// tickets and purchases. Uses the running dev server (--url, default
// http://127.0.0.1:8787), or starts `npm run dev` for the time it takes.
// Idempotent: a second run finds everything already there.
//   --stadium [--game N]  instead: a 60,000-seat stadium (40 blocks of 1,500) as game N's seat map (9000),
//                         with its seated tickets, loaded through the API (see scripts/lib/stadium.ts)
import { parseArgs } from "node:util";
import { adminHeader } from "./lib/dev-vars.ts";
import { client } from "./lib/load.ts";
import { seed } from "./lib/seed.ts";
import { withApi } from "./lib/server.ts";
import { loadStadium } from "./lib/stadium.ts";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:8787" },
    stadium: { type: "boolean", default: false },
    game: { type: "string", default: "9000" },
  },
});

await withApi(values.url, async (url) => {
  const c = client(url, 4, { Authorization: adminHeader() });
  if (values.stadium) {
    const s = await loadStadium(url, adminHeader(), c, Number(values.game));
    c.close();
    console.log(
      `seeded ${url}: a stadium of ${s.seats} seats in ${s.blocks} blocks as game ${s.game}'s seat map, ` +
        `with tickets ${s.tickets.join(", ")}, in ${(s.ms / 1000).toFixed(1)} s`,
    );
    return;
  }
  const result = await seed(c);
  c.close();
  console.log(
    `seeded ${url}: ${result.tickets} tickets over 10 games; ${result.purchases} purchases (${result.refused} orders refused by their limits)`,
  );
});
