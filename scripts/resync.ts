// `npm run resync`: rebuilds the read model (D1) of every ticket from its
// Durable Object, the owner of its truth: each ticket's row and purchases are
// rewritten, and D1 purchases the object does not have are deleted. Uses the
// running dev server (--url, default http://127.0.0.1:8787), or starts
// `npm run dev` for the time it takes. Safe to repeat; exits non-zero if any
// ticket could not be resynced.
import { parseArgs } from "node:util";
import { adminHeader } from "./lib/dev-vars.ts";
import { client } from "./lib/load.ts";
import { withApi } from "./lib/server.ts";

const { values } = parseArgs({ options: { url: { type: "string", default: "http://127.0.0.1:8787" } } });
const PAGE = 100;

const failed = await withApi(values.url, async (url) => {
  const c = client(url, 8, { Authorization: adminHeader() });
  const failed: string[] = [];
  let tickets = 0;
  let purchases = 0;
  for (let skip = 0; ; skip += PAGE) {
    const page = await c.send("GET", `/tickets?skip=${skip}&limit=${PAGE}`);
    if (page.status !== 200) throw new Error(`listing tickets: ${page.status} ${page.body}`);
    const ids = (JSON.parse(page.body) as { id: number }[]).map((t) => t.id);
    const results = await Promise.all(ids.map((id) => c.send("POST", `/tickets/${id}/resync`)));
    results.forEach((res, i) => {
      if (res.status === 200) purchases += (JSON.parse(res.body) as { purchases: number }).purchases;
      else failed.push(`ticket ${ids[i]}: ${res.status} ${res.body}`);
    });
    tickets += ids.length;
    if (ids.length < PAGE) break;
  }
  c.close();
  console.log(`resynced ${tickets - failed.length} of ${tickets} tickets (${purchases} purchases) at ${url}`);
  return failed;
});
for (const f of failed) console.error(f);
if (failed.length) process.exit(1);
