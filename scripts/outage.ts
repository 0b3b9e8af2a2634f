// `npm run outage`: D1 goes away in the middle of an on-sale rush, over real
// HTTP. Starts the API through `npm run dev` with test/outage-worker.ts as its
// entry (the same app, plus a route that cuts it off from D1), runs a paced
// keyed rush, and cuts D1 off for OUTAGE_MS while reads are tried too.
// Holds: orders sent during the outage are answered 200 or 409 (sales go on),
// reads answer 503 with Retry-After (never 500), and once D1 is back the read
// model converges to the object's truth within CONVERGE_MS, each purchase
// once. Exits non-zero on any failure.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminHeader, userBearer } from "./lib/dev-vars.ts";
import { client, run, type Sample, stats } from "./lib/load.ts";
import { startServer } from "./lib/server.ts";

const STOCK = 1_500;
const BUYERS = 2_000;
const CONCURRENCY = 16;
const PACE_MS = 40; // between one buyer's answer and the next buyer, per connection
const OUTAGE_AT = 300; // answers before D1 goes away
const OUTAGE_MS = 6_000;
// The outbox retries D1 with backoff capped at 5 s; then one flush carries everything.
const CONVERGE_MS = 10_000;
const DEADLINE_MS = 5 * 60_000;

const failures: string[] = [];
function check(what: string, ok: boolean, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"}  ${what}${ok || !detail ? "" : `: ${detail}`}`);
  if (!ok) failures.push(what);
}
const json = <T>(s: Sample) => JSON.parse(s.body) as T;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), "tickets-outage-"));
const server = await startServer("npm", ["run", "dev", "--", "test/outage-worker.ts", "--persist-to", dir]);
const watchdog = setTimeout(async () => {
  console.error(`outage: over ${DEADLINE_MS} ms, stopping`);
  await server.stop();
  process.exit(1);
}, DEADLINE_MS);

try {
  const c = client(server.url, CONCURRENCY + 4, { Authorization: adminHeader() });
  const game = 1 + Math.floor(Math.random() * 1e6);
  const created = await c.send("POST", "/tickets", { game_id: game, name: "Outage Stand", price: 10, stock: STOCK });
  if (created.status !== 200) throw new Error(`creating the ticket: ${created.status} ${created.body}`);
  const ticketId = json<{ id: number }>(created).id;
  const userBase = 1 + Math.floor(Math.random() * 1e9);
  const tokens = await Promise.all(Array.from({ length: BUYERS }, (_, i) => userBearer(userBase + i)));
  const answers: Sample[] = new Array(BUYERS);
  let outage: { from: number; to: number } | undefined;
  const reads: Sample[] = [];

  let next = 0;
  let answered = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < BUYERS) {
        const i = next++;
        answers[i] = await c.send(
          "POST",
          "/tickets/buy",
          { user_id: userBase + i, ticket_id: ticketId, quantity: 1 },
          { Authorization: tokens[i]!, "Idempotency-Key": `outage-${ticketId}-${i}` },
        );
        if (++answered === OUTAGE_AT) {
          const cut = await c.send("POST", `/__outage?ms=${OUTAGE_MS}`);
          if (cut.status !== 200) throw new Error(`cutting D1 off: ${cut.status} ${cut.body}`);
          outage = { from: performance.now(), to: performance.now() + OUTAGE_MS };
          // Reads while D1 is away, on every read route.
          void (async () => {
            while (outage && performance.now() < outage.to - 500) {
              for (const path of [
                `/tickets/${ticketId}`,
                `/tickets/game/${game}`,
                `/tickets/user/${userBase}`,
                "/tickets?limit=5",
              ]) {
                reads.push(await c.send("GET", path));
              }
              await sleep(500);
            }
          })();
        }
        await sleep(PACE_MS);
      }
    }),
  );
  if (!outage) throw new Error("the rush ended before the outage began");
  const { from, to } = outage;

  const during = answers.filter((a) => a.start >= from && a.start < to);
  const statuses = (samples: Sample[]) => JSON.stringify(stats(samples, 1).statuses);
  console.log(`orders sent during the ${OUTAGE_MS} ms outage: ${during.length}, answered ${statuses(during)}`);
  check(
    "orders sent during the outage were sold or refused, none failed",
    during.length > 50 && during.every((a) => a.status === 200 || a.status === 409),
    statuses(during),
  );
  check(
    "every order was answered 200 or 409",
    answers.every((a) => a.status === 200 || a.status === 409),
    statuses(answers),
  );
  console.log(`reads during the outage: ${reads.length}, answered ${statuses(reads)}`);
  check(
    "reads during the outage answered 503 with Retry-After, never 500",
    reads.length > 0 &&
      reads.every(
        (r) =>
          r.status === 503 &&
          Number(r.headers["retry-after"]) > 0 &&
          /^application\/problem\+json/.test(r.headers["content-type"] ?? ""),
      ),
    statuses(reads),
  );

  // D1 is back: the read model catches up on its own.
  const winners = answers.flatMap((a, i) => (a.status === 200 ? [{ i, id: json<{ id: number }>(a).id }] : []));
  await sleep(Math.max(0, to - performance.now()));
  const back = performance.now();
  let sold = -1;
  while (performance.now() - back < CONVERGE_MS + 5_000) {
    const read = await c.send("GET", `/tickets/${ticketId}`);
    sold = read.status === 200 ? json<{ sold: number }>(read).sold : -1;
    if (sold === winners.length) break;
    await sleep(100);
  }
  const converged = Math.round(performance.now() - back);
  console.log(`read model: sold ${sold} of ${winners.length} sold, ${converged} ms after D1 came back`);
  check(`the read model converged within ${CONVERGE_MS} ms`, sold === winners.length && converged <= CONVERGE_MS);
  const held = await run(c, BUYERS, CONCURRENCY, (i) => ({ method: "GET", path: `/tickets/user/${userBase + i}` }));
  const mismatch = held.samples.filter((s, i) => {
    const mine =
      s.status === 200 ? json<{ id: number; ticket_id: number }[]>(s).filter((p) => p.ticket_id === ticketId) : [];
    const told = answers[i]!.status === 200 ? [json<{ id: number }>(answers[i]!).id] : [];
    return JSON.stringify(mine.map((p) => p.id)) !== JSON.stringify(told);
  });
  check(
    "each purchase is in the read model once, for the buyer told of it",
    mismatch.length === 0,
    `${mismatch.length} differ`,
  );
  c.close();
} catch (err) {
  check("outage test ran to the end", false, String(err));
} finally {
  clearTimeout(watchdog);
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

if (failures.length) {
  console.error(`outage: ${failures.length} failed`);
  process.exit(1);
}
console.log("outage: all passed");
