// `npm run crash`: a crash in the middle of an on-sale rush, over real HTTP.
// Starts the API as the README does (`npm run dev`, on a throwaway local
// state), runs a keyed rush (more buyers than units), kills the whole dev
// server (SIGKILL to its process group) mid-rush, starts it again on the same
// state, and retries every order without a definitive answer with its same
// Idempotency-Key. Then: every buyer told 200 holds exactly that purchase,
// nobody holds one they were not told about, sold = stock, and the read model
// agrees with the ticket's object. Exits non-zero on any failure.
//
// `npm run crash -- --orders`: the same crash in a rush of baskets (orders of
// 1 to 4 lines over 4 tickets of small stock, each buyer with their own token
// and Idempotency-Key). After the restart every undecided order (no answer,
// or a 503) is retried with its key until it is held (201) or refused (409).
// Then, without waiting for any hold to end: every order answered 201 has all
// its lines held and every refused one holds nothing (per buyer, through
// GET /orders/{id} and their purchases), every ticket's sold + held is the
// units of the orders answered 201, within its stock, and a repeat of each
// 201 answers the same order. The box office then confirms those orders (the
// tickets' hold_seconds is 60, so this is before any deadline): every line
// confirmed with its entries, sold exact, nothing held, and every buyer told
// 201 finds exactly that order in GET /users/{id}/orders (a refused one, none).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type BasketCheck,
  type Buyer,
  buyersOf,
  checkBaskets,
  createTickets,
  decided,
  mixedBaskets,
  placeRequest,
} from "./lib/baskets.ts";
import { adminHeader, userBearer } from "./lib/dev-vars.ts";
import { type Client, client, run, type Sample } from "./lib/load.ts";
import { type Server, startServer } from "./lib/server.ts";

const { values: opts } = parseArgs({ options: { orders: { type: "boolean", default: false } } });

const STOCK = 300;
const BUYERS = 1_000;
const CONCURRENCY = 64;
const KILL_AFTER = 150; // definitive answers before the crash
const CONVERGE_MS = 15_000;
const DEADLINE_MS = 5 * 60_000;
/** The basket rush (--orders): 4 tickets of 40 units, 400 buyers of 1-4 lines of 1-2 units. */
const BASKETS = { tickets: 4, stock: 40, buyers: 400, killAfter: 100, holdSeconds: 60 };

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
  if (opts.orders) await basketCrash();
  else await purchaseCrash();
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

async function purchaseCrash(): Promise<void> {
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
}

/** `--orders`: a crash in the middle of a basket rush (see the top of this file). */
async function basketCrash(): Promise<void> {
  let c: Client = client(server.url, CONCURRENCY, { Authorization: adminHeader() });
  const { tickets, stock, buyers: count, killAfter, holdSeconds } = BASKETS;
  const ticketIds = await createTickets(c, tickets, stock, { hold_seconds: holdSeconds });
  const buyers = await buyersOf(count, mixedBaskets(ticketIds, 1, 4, Date.now()), `crash-order-${ticketIds[0]}`);
  const place = async (b: Buyer) => {
    const { method, path, body, headers } = placeRequest(b);
    b.answer = await c.send(method, path, body, headers);
  };
  const orderId = (b: Buyer) => (b.answer?.status === 201 ? json<{ id: string }>(b.answer).id : undefined);

  // The rush, with the crash in its middle: once `killAfter` orders are held or refused, the dev server is
  // killed while the others are in flight (their answers: none, or a 503).
  let crash: Promise<void> | undefined;
  let toldBeforeCrash = 0;
  let killedAt = Number.POSITIVE_INFINITY;
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < buyers.length) {
        await place(buyers[next++]!);
        if (!crash && buyers.filter((b) => decided(b.answer)).length >= killAfter) {
          toldBeforeCrash = buyers.filter((b) => b.answer?.status === 201).length;
          killedAt = performance.now();
          crash = server.kill();
        }
      }
    }),
  );
  await crash;
  const cutOff = buyers.filter((b) => !decided(b.answer));
  const inFlight = cutOff.filter((b) => b.answer!.start < killedAt);
  console.log(
    `crashed after ${toldBeforeCrash} orders were answered 201; ${cutOff.length} of ${buyers.length} got no ` +
      `definitive answer: ${inFlight.length} in flight at the kill (${inFlight.filter((b) => b.answer?.status === 503).length} ` +
      `of them a 503), the others sent to the dead server`,
  );
  check("the crash cut orders off mid-rush", crash !== undefined && inFlight.length > 0 && toldBeforeCrash > 0);
  const toldThen = new Map(buyers.flatMap((b) => (orderId(b) ? [[b, orderId(b)!] as const] : [])));

  // Up again on the same state; every undecided order is retried with its Idempotency-Key until decided.
  server = await start();
  const restarted = performance.now();
  c.close();
  c = client(server.url, CONCURRENCY, { Authorization: adminHeader() });
  const wasInFlight = new Set(inFlight);
  let decidedBefore = 0; // orders in flight that had been decided (held) before the kill: their answer was lost
  let rounds = 0;
  for (; rounds < 8; rounds++) {
    const open = buyers.filter((b) => !decided(b.answer));
    if (open.length === 0) break;
    if (rounds > 0) await new Promise((r) => setTimeout(r, 1_000)); // a 503 says the order is still letting go
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, w) => {
        for (let k = w; k < open.length; k += CONCURRENCY) {
          await place(open[k]!);
          if (wasInFlight.has(open[k]!) && open[k]!.answer?.headers["idempotent-replayed"] === "true") decidedBefore++;
        }
      }),
    );
  }
  const held = buyers.filter((b) => b.answer?.status === 201).length;
  console.log(
    `after ${rounds} rounds of retries: ${held} orders held (201), ` +
      `${buyers.filter((b) => b.answer?.status === 409).length} refused (409); ` +
      `${decidedBefore} of those in flight were held before the kill (the retry answered the order as a replay)`,
  );
  check(
    "every order has a definitive answer (201 or 409)",
    buyers.every((b) => decided(b.answer)),
    buyers
      .filter((b) => !decided(b.answer))
      .map((b) => `${b.answer?.status} ${b.answer?.body.slice(0, 200)}`)
      .slice(0, 3)
      .join("; "),
  );
  const lost = [...toldThen].filter(([b, id]) => orderId(b) !== id);
  check(
    "no order a buyer was told of (201) before the crash was lost",
    lost.length === 0,
    lost.map(([b, id]) => `${id}: now ${b.answer?.status}`).join(", "),
  );

  // A repeat of each order held answers that order, from its object.
  const winners = buyers.filter((b) => b.answer?.status === 201);
  const replays = await run(c, winners.length, CONCURRENCY, (i) => placeRequest(winners[i]!));
  const differ = replays.samples.filter(
    (r, i) =>
      r.status !== 201 ||
      r.headers["idempotent-replayed"] !== "true" ||
      json<{ id: string }>(r).id !== orderId(winners[i]!),
  );
  check("a repeat of every order held answers the same order", differ.length === 0, `${differ.length} differ`);

  // All or nothing, and every count exact, with no hold left to end.
  const report = (label: string, r: BasketCheck) => {
    console.log(
      `${label}: ${r.tickets.map((t) => `ticket ${t.id} sold ${t.sold} + held ${t.held} = ${t.sold + t.held} (orders: ${t.live}, stock ${t.stock})`).join("; ")}`,
    );
    check(`${label}: no partial order`, r.partial.length === 0, r.partial.slice(0, 5).join("; "));
    check(`${label}: no unit oversold`, r.oversold === 0, `${r.oversold} oversold`);
    check(`${label}: every count exact`, r.problems.length === 0, r.problems.slice(0, 5).join("; "));
  };
  report("held", await checkBaskets(c, ticketIds, buyers, { status: "held", convergeMs: CONVERGE_MS }));

  // The box office confirms every order held (before its deadline: hold_seconds after the hold).
  console.log(
    `confirming ${winners.length} orders, ${Math.round((performance.now() - restarted) / 1000)} s after the restart`,
  );
  const confirms = await run(c, winners.length, CONCURRENCY, (i) => ({
    method: "POST",
    path: `/orders/${orderId(winners[i]!)}/confirm`,
  }));
  const notConfirmed = confirms.samples.filter(
    (s) => s.status !== 200 || json<{ status: string }>(s).status !== "confirmed",
  );
  check(
    "the box office confirms every order held",
    notConfirmed.length === 0,
    `${notConfirmed.length} not: ${notConfirmed[0]?.status} ${notConfirmed[0]?.body.slice(0, 200)}`,
  );
  report("confirmed", await checkBaskets(c, ticketIds, buyers, { status: "confirmed", convergeMs: CONVERGE_MS }));

  // Every buyer finds exactly the order they were told of in their orders (the read model); a refused one, none.
  const mine = (b: Buyer, s: Sample) => {
    if (s.status !== 200) return false;
    const listed = json<{ orders: { id: string; status: string }[] }>(s).orders;
    const id = orderId(b);
    return id ? listed.length === 1 && listed[0]!.id === id && listed[0]!.status === "confirmed" : listed.length === 0;
  };
  let pending = buyers;
  let last: Sample[] = [];
  for (const t0 = performance.now(); ; await new Promise((r) => setTimeout(r, 250))) {
    const reads = await run(c, pending.length, CONCURRENCY, (i) => ({
      method: "GET",
      path: `/users/${pending[i]!.userId}/orders`,
      headers: { Authorization: pending[i]!.token },
    }));
    const wrong = pending.flatMap((b, i) => (mine(b, reads.samples[i]!) ? [] : [i]));
    last = wrong.map((i) => reads.samples[i]!);
    pending = wrong.map((i) => pending[i]!);
    if (pending.length === 0 || performance.now() - t0 > CONVERGE_MS) break;
  }
  check(
    "every buyer told 201 has exactly that order (confirmed) in GET /users/{id}/orders, a refused one none",
    pending.length === 0,
    `${pending.length} buyers differ (first: user ${pending[0]?.userId} told ${pending[0]?.answer?.status}, ` +
      `lists ${last[0]?.status} ${last[0]?.body.slice(0, 200)})`,
  );
  c.close();
}
