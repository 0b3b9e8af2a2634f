// `npm run crash`: a crash in the middle of an on-sale rush, over real HTTP.
// Starts the API as the README does (`npm run dev`, on a throwaway local
// state), runs a keyed rush (more buyers than units), kills the whole dev
// server (SIGKILL to its process group) mid-rush, starts it again on the same
// state, and retries every order without a definitive answer with its same
// Idempotency-Key. Then: every buyer told 200 holds exactly that purchase,
// nobody holds one they were not told about, sold = stock, and the read model
// agrees with the ticket's object. Exits non-zero on any failure.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminHeader, userBearer } from "./lib/dev-vars.ts";
import { type Client, client, run, type Sample } from "./lib/load.ts";
import { type Server, startServer } from "./lib/server.ts";

const STOCK = 300;
const BUYERS = 1_000;
const CONCURRENCY = 64;
const KILL_AFTER = 150; // definitive answers before the crash
const CONVERGE_MS = 15_000;
const DEADLINE_MS = 5 * 60_000;

const failures: string[] = [];
function check(what: string, ok: boolean, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"}  ${what}${ok || !detail ? "" : `: ${detail}`}`);
  if (!ok) failures.push(what);
}

const definitive = (s?: Sample) => s?.status === 200 || s?.status === 409;
const json = <T>(s: Sample) => JSON.parse(s.body) as T;

const dir = mkdtempSync(join(tmpdir(), "tickets-crash-"));
const start = () => startServer("npm", ["run", "dev", "--", "--persist-to", dir]);
let server: Server = await start();
const watchdog = setTimeout(async () => {
  console.error(`crash: over ${DEADLINE_MS} ms, stopping`);
  await server.stop();
  process.exit(1);
}, DEADLINE_MS);

try {
  let c: Client = client(server.url, CONCURRENCY, { Authorization: adminHeader() });
  const created = await c.send("POST", "/tickets", { game_id: 1, name: "Crash Stand", price: 10, stock: STOCK });
  if (created.status !== 200) throw new Error(`creating the ticket: ${created.status} ${created.body}`);
  const ticketId = json<{ id: number }>(created).id;
  const userBase = 1 + Math.floor(Math.random() * 1e9);
  const tokens = await Promise.all(Array.from({ length: BUYERS }, (_, i) => userBearer(userBase + i)));
  const answers: Sample[] = new Array(BUYERS);
  const send = async (i: number) => {
    answers[i] = await c.send(
      "POST",
      "/tickets/buy",
      { user_id: userBase + i, ticket_id: ticketId, quantity: 1 },
      { Authorization: tokens[i]!, "Idempotency-Key": `crash-${ticketId}-${i}` },
    );
  };

  // The rush, with the crash in its middle: once KILL_AFTER orders have a
  // definitive answer, the dev server is killed while the others are in flight.
  let crash: Promise<void> | undefined;
  let toldBeforeCrash = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < BUYERS) {
        await send(next++);
        if (!crash && answers.filter(definitive).length >= KILL_AFTER) {
          toldBeforeCrash = answers.filter((a) => a?.status === 200).length;
          crash = server.kill();
        }
      }
    }),
  );
  await crash;
  const cutOff = answers.filter((a) => !definitive(a)).length;
  console.log(`crashed after ${toldBeforeCrash} purchases were answered; ${cutOff} orders got no definitive answer`);
  check("the crash cut orders off mid-rush", crash !== undefined && cutOff > 0 && toldBeforeCrash > 0);
  const toldThen = new Map(answers.filter((a) => a?.status === 200).map((a) => [json<{ id: number }>(a).id, a]));

  // Up again on the same state; every order without a definitive answer is retried with its key.
  server = await start();
  c.close();
  c = client(server.url, CONCURRENCY, { Authorization: adminHeader() });
  for (let round = 0; round < 5; round++) {
    const open = answers.flatMap((a, i) => (definitive(a) ? [] : [i]));
    if (open.length === 0) break;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, w) => {
        for (let k = w; k < open.length; k += CONCURRENCY) await send(open[k]!);
      }),
    );
  }
  check("every order has a definitive answer", answers.every(definitive));
  const winners = answers.flatMap((a, i) => (a.status === 200 ? [{ i, id: json<{ id: number }>(a).id }] : []));
  check(`exactly the stock was sold to the buyers told 200`, winners.length === STOCK, `${winners.length} told 200`);
  const lost = [...toldThen.keys()].filter((id) => !winners.some((w) => w.id === id));
  check("no purchase a buyer was told about before the crash was lost", lost.length === 0, lost.join(", "));

  // The object's truth: a repeat of each order answers from the ticket's object.
  const replays = await run(c, BUYERS, CONCURRENCY, (i) => ({
    method: "POST",
    path: "/tickets/buy",
    body: { user_id: userBase + i, ticket_id: ticketId, quantity: 1 },
    headers: { Authorization: tokens[i]!, "Idempotency-Key": `crash-${ticketId}-${i}` },
  }));
  const disagreeing = replays.samples.filter(
    (r, i) => r.status !== answers[i]!.status || (r.status === 200 && r.body !== answers[i]!.body),
  );
  check("every repeat answers what the buyer was told", disagreeing.length === 0, `${disagreeing.length} differ`);

  // The read model converges to the same truth.
  const t0 = performance.now();
  let sold = -1;
  while (performance.now() - t0 < CONVERGE_MS) {
    const read = await c.send("GET", `/tickets/${ticketId}`);
    sold = read.status === 200 ? json<{ sold: number }>(read).sold : -1;
    if (sold === STOCK) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log(`read model: sold ${sold} after ${Math.round(performance.now() - t0)} ms`);
  check("the read model's sold equals the stock", sold === STOCK, `sold ${sold}`);
  const held = await run(c, BUYERS, CONCURRENCY, (i) => ({ method: "GET", path: `/tickets/user/${userBase + i}` }));
  const mismatch = held.samples.filter((s, i) => {
    const mine =
      s.status === 200 ? json<{ id: number; ticket_id: number }[]>(s).filter((p) => p.ticket_id === ticketId) : [];
    const told = answers[i]!.status === 200 ? [json<{ id: number }>(answers[i]!).id] : [];
    return JSON.stringify(mine.map((p) => p.id)) !== JSON.stringify(told);
  });
  check(
    "each buyer holds exactly the purchase they were told of, and no one else holds any",
    mismatch.length === 0,
    `${mismatch.length} buyers differ`,
  );
  const resync = await c.send("POST", `/tickets/${ticketId}/resync`);
  check(
    "a resync from the object finds the same purchases",
    resync.status === 200 && json<{ purchases: number }>(resync).purchases === STOCK,
    resync.body,
  );
  c.close();
} catch (err) {
  check("crash test ran to the end", false, String(err));
} finally {
  clearTimeout(watchdog);
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

if (failures.length) {
  console.error(`crash: ${failures.length} failed`);
  process.exit(1);
}
console.log("crash: all passed");
