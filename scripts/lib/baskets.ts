// Baskets (orders over several tickets) over real HTTP: distinct buyers, each
// with their own user token, placing orders at once; then a check, through
// the API, that every order is all or nothing and every count exact. Used by
// the benchmark's basket rows and by `npm run crash -- --orders`.
import { userBearer } from "./dev-vars.ts";
import { type Client, run, type Sample, type Stats, stats } from "./load.ts";

export interface Line {
  ticket_id: number;
  quantity: number;
}

/** One buyer, their basket, and the last answer they got to placing it. */
export interface Buyer {
  userId: number;
  token: string;
  lines: Line[];
  key: string;
  answer?: Sample;
}

const json = <T>(s: Sample) => JSON.parse(s.body) as T;

/** A small seeded generator (mulberry32), so a run's baskets can be told again. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` tickets of one new game, `stock` units each, in EUR. */
export async function createTickets(
  c: Client,
  count: number,
  stock: number,
  extra: Record<string, unknown> = {},
): Promise<number[]> {
  const game = 1 + Math.floor(Math.random() * 1e6);
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const created = await c.send("POST", "/tickets", {
      game_id: game,
      name: `Basket ${String.fromCharCode(65 + i)}`,
      price: 10 + i,
      stock,
      ...extra,
    });
    if (created.status !== 200) throw new Error(`creating a ticket: ${created.status} ${created.body}`);
    ids.push(json<{ id: number }>(created).id);
  }
  return ids;
}

/** `count` distinct buyers with their tokens and baskets (`basket(i)`), keyed under `keyPrefix`. */
export async function buyersOf(count: number, basket: (i: number) => Line[], keyPrefix: string): Promise<Buyer[]> {
  const userBase = 1 + Math.floor(Math.random() * 1e12);
  return Promise.all(
    Array.from({ length: count }, async (_, i) => ({
      userId: userBase + i,
      token: await userBearer(userBase + i),
      lines: basket(i),
      key: `${keyPrefix}-${i}`,
    })),
  );
}

/** Baskets of `min` to `max` lines over distinct tickets of `ticketIds`, each line 1 or 2 units. */
export function mixedBaskets(ticketIds: number[], min: number, max: number, seed: number): (i: number) => Line[] {
  const rand = random(seed);
  return () => {
    const size = min + Math.floor(rand() * (max - min + 1));
    const order = ticketIds.map((id) => ({ id, r: rand() })).sort((a, b) => a.r - b.r);
    return order.slice(0, size).map(({ id }) => ({ ticket_id: id, quantity: 1 + Math.floor(rand() * 2) }));
  };
}

/** The request that places buyer `b`'s basket: as themselves (their token), with their Idempotency-Key. */
export const placeRequest = (b: Buyer) => ({
  method: "POST",
  path: "/orders",
  body: { lines: b.lines },
  headers: { Authorization: b.token, "Idempotency-Key": b.key },
});

/** A definitive answer: held (201) or refused (409, nothing held). Anything else is undecided. */
export const decided = (s?: Sample) => s?.status === 201 || s?.status === 409;

/**
 * Places every buyer's basket, at most `concurrency` at once (the figures: these
 * first answers), then retries each order left undecided (a 503, no answer) with
 * its Idempotency-Key, as a client must, up to `rounds` times a second apart:
 * each buyer's `answer` is their last.
 */
export async function placeAll(c: Client, buyers: Buyer[], concurrency: number, maxMs?: number, rounds = 5) {
  const { samples, ms } = await run(c, buyers.length, concurrency, (i) => placeRequest(buyers[i]!), maxMs);
  samples.forEach((s, i) => {
    buyers[i]!.answer = s;
  });
  let retried = 0;
  for (let round = 0; round < rounds; round++) {
    const open = buyers.filter((b) => b.answer && !decided(b.answer));
    if (open.length === 0) break;
    retried += open.length;
    await new Promise((r) => setTimeout(r, 1_000));
    const again = await run(c, open.length, concurrency, (i) => placeRequest(open[i]!));
    again.samples.forEach((s, i) => {
      open[i]!.answer = s;
    });
  }
  return { samples, ms, stats: stats(samples, ms), retried };
}

export interface BasketCheck {
  /** Orders answered 201, and refused (409). */
  held: number;
  refused: number;
  /** Orders answered neither 201 nor 409, even to their retries. */
  undecided: number;
  /** Buyers whose order is not all or nothing: a 201 with a line not as asked, a refusal with units kept. */
  partial: string[];
  /** Units past a ticket's stock, over all tickets. */
  oversold: number;
  /** Per ticket: sold + held as read, and the units of the live lines (the orders answered 201). */
  tickets: { id: number; stock: number; sold: number; held: number; live: number }[];
  problems: string[];
}

interface OrderRead {
  id: string;
  status: string;
  lines: {
    ticket_id: number;
    quantity: number;
    purchase_id: number;
    status: string;
    entries?: { code: string | null }[];
  }[];
}

/**
 * Checks, through the API, that every basket is all or nothing and every count
 * exact, with the orders answered 201 in `status` (`held`, or `confirmed` once
 * the box office confirmed them):
 * - every 201 order (GET /orders/{id}, its lines as their tickets hold them) has
 *   each line asked for, in `status` (confirmed: an entry with a code per unit);
 * - every buyer's live purchases (GET /tickets/user/{id}: held or confirmed) are
 *   exactly their 201 order's lines, and none for a refused one;
 * - every ticket's sold + held (GET /tickets/{id}) is the units of those lines,
 *   never past its stock; with `status` held nothing is sold, confirmed nothing held.
 * The read model trails the objects a little after a crash: its reads are
 * retried until they agree or `convergeMs` has passed.
 */
export async function checkBaskets(
  c: Client,
  ticketIds: number[],
  buyers: Buyer[],
  {
    status,
    concurrency = 64,
    convergeMs = 5_000,
  }: { status: "held" | "confirmed"; concurrency?: number; convergeMs?: number },
): Promise<BasketCheck> {
  const problems: string[] = [];
  const partial: string[] = [];
  const winners = buyers.filter((b) => b.answer?.status === 201);
  const refused = buyers.filter((b) => b.answer?.status === 409);
  const undecided = buyers.length - winners.length - refused.length;
  if (undecided > 0) {
    const first = buyers.find((b) => !decided(b.answer))?.answer;
    problems.push(
      `${undecided} orders answered neither 201 nor 409 (first: ${first?.status} ${first?.body.slice(0, 200)})`,
    );
  }
  for (const b of refused) {
    const code = json<{ code?: string }>(b.answer!).code;
    if (code !== "order_refused") problems.push(`a refusal is ${code}, not order_refused`);
  }

  // Each order answered 201, as its object and its lines' tickets hold it now.
  const orders = new Map<number, OrderRead>();
  const reads = await run(c, winners.length, concurrency, (i) => ({
    method: "GET",
    path: `/orders/${json<{ id: string }>(winners[i]!.answer!).id}`,
    headers: { Authorization: winners[i]!.token },
  }));
  reads.samples.forEach((s, i) => {
    const b = winners[i]!;
    if (s.status !== 200) {
      problems.push(`GET /orders/{id} answered ${s.status} ${s.body.slice(0, 200)}`);
      return;
    }
    const o = json<OrderRead>(s);
    orders.set(b.userId, o);
    const asked = (l: Line) => o.lines.find((x) => x.ticket_id === l.ticket_id && x.quantity === l.quantity);
    const wrong = [
      ...(o.status === status ? [] : [`order ${o.status}`]),
      ...(o.lines.length === b.lines.length ? [] : [`${o.lines.length} lines for ${b.lines.length} asked`]),
      ...b.lines.flatMap((l) => {
        const line = asked(l);
        if (!line) return [`ticket ${l.ticket_id} x${l.quantity}: no such line`];
        if (line.status !== status) return [`ticket ${l.ticket_id}: ${line.status}`];
        const codes = (line.entries ?? []).filter((e) => typeof e.code === "string").length;
        if (status === "confirmed" && codes !== l.quantity)
          return [`ticket ${l.ticket_id}: ${codes} entries with codes`];
        return [];
      }),
    ];
    if (wrong.length > 0) partial.push(`order ${o.id} of user ${b.userId} answered 201: ${wrong.join(", ")}`);
  });

  // What each buyer holds, from the read model: exactly their order's lines, or nothing.
  const live = (s: Sample) =>
    s.status === 404
      ? []
      : json<{ id: number; ticket_id: number; status: string }[]>(s)
          .filter((p) => ticketIds.includes(p.ticket_id) && (p.status === "held" || p.status === "confirmed"))
          .map((p) => p.id)
          .sort((a, b) => a - b);
  const expected = (b: Buyer) => (orders.get(b.userId)?.lines ?? []).map((l) => l.purchase_id).sort((x, y) => x - y);
  const holdings = (b: Buyer, s: Sample) =>
    s.status === 200 || s.status === 404 ? JSON.stringify(live(s)) === JSON.stringify(expected(b)) : false;
  const t0 = performance.now();
  let pending = buyers.filter((b) => decided(b.answer));
  let last: Sample[] = [];
  for (;;) {
    const round = await run(c, pending.length, concurrency, (i) => ({
      method: "GET",
      path: `/tickets/user/${pending[i]!.userId}`,
    }));
    const differ = pending.flatMap((b, i) => (holdings(b, round.samples[i]!) ? [] : [{ b, s: round.samples[i]! }]));
    pending = differ.map((d) => d.b);
    last = differ.map((d) => d.s);
    if (pending.length === 0 || performance.now() - t0 > convergeMs) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  pending.forEach((b, i) => {
    const s = last[i]!;
    if (s.status !== 200 && s.status !== 404) problems.push(`GET /tickets/user/{id} answered ${s.status}`);
    else
      partial.push(
        `user ${b.userId} (answered ${b.answer!.status}) holds purchases [${live(s).join(", ")}], ` +
          `expected [${expected(b).join(", ")}]`,
      );
  });

  // Every ticket: sold + held is the units of the live lines, within its stock.
  const units = (id: number) =>
    winners.reduce((n, b) => n + (b.lines.find((l) => l.ticket_id === id)?.quantity ?? 0), 0);
  let tickets: BasketCheck["tickets"] = [];
  const exact = (t: BasketCheck["tickets"][number]) =>
    t.sold + t.held === t.live && (status === "held" ? t.sold === 0 : t.held === 0);
  for (const t1 = performance.now(); ; ) {
    tickets = await Promise.all(
      ticketIds.map(async (id) => {
        const read = await c.send("GET", `/tickets/${id}`);
        const t = read.status === 200 ? json<{ stock: number; sold: number; held: number }>(read) : null;
        return { id, stock: t?.stock ?? 0, sold: t?.sold ?? -1, held: t?.held ?? -1, live: units(id) };
      }),
    );
    if (tickets.every(exact) || performance.now() - t1 > convergeMs) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  for (const t of tickets.filter((t) => !exact(t))) {
    problems.push(`ticket ${t.id}: sold ${t.sold} + held ${t.held}, but the orders told 201 have ${t.live} units`);
  }
  const oversold = tickets.reduce((n, t) => n + Math.max(0, t.sold + t.held - t.stock), 0);
  if (oversold > 0) problems.push(`oversold by ${oversold}`);
  return {
    held: winners.length,
    refused: refused.length,
    undecided,
    partial,
    oversold,
    tickets,
    problems: [...new Set(problems)],
  };
}

/**
 * The rushes' tickets hold for an hour (the most a ticket may): their orders' deadlines come after the
 * benchmark, so thousands of orders expiring (each its object's alarm, telling each line) do not weigh
 * on the scenarios measured 15 minutes later.
 */
const HOLD = { hold_seconds: 3600 };

export interface BasketRushResult extends BasketCheck {
  baskets: number;
  stock: number;
  all: Stats;
  /** Latency by the basket's number of lines (first answers). */
  byLines: Record<number, Stats>;
  /** Retries of orders left undecided (503, or no answer), with their keys. */
  retried: number;
  /** The server's CPU per basket while they were placed (retries included, the checks not), given `cpuMs`. */
  cpuUs?: number;
  consistent: boolean;
}

/** Places the baskets and, given `cpuMs` (the server's CPU so far), what they cost it per basket. */
async function costedPlaceAll(c: Client, buyers: Buyer[], concurrency: number, maxMs?: number, cpuMs?: () => number) {
  const before = cpuMs?.();
  const placed = await placeAll(c, buyers, concurrency, maxMs);
  const cpuUs = cpuMs && before !== undefined ? Math.round(((cpuMs() - before) * 1000) / buyers.length) : undefined;
  return { ...placed, cpuUs };
}

/**
 * The basket rush: `baskets` buyers at once, each ordering 1 to `maxLines`
 * lines over `tickets` fresh tickets of `stock` units (more asked than there
 * is), then the all-or-nothing check.
 */
export async function basketRush(
  c: Client,
  {
    tickets = 4,
    stock,
    baskets,
    minLines = 1,
    maxLines = 4,
    concurrency,
    maxMs,
    seed = 1,
    cpuMs,
  }: {
    tickets?: number;
    stock: number;
    baskets: number;
    minLines?: number;
    maxLines?: number;
    concurrency: number;
    maxMs?: number;
    seed?: number;
    cpuMs?: () => number;
  },
): Promise<BasketRushResult> {
  const ticketIds = await createTickets(c, tickets, stock, HOLD);
  const buyers = await buyersOf(baskets, mixedBaskets(ticketIds, minLines, maxLines, seed), `basket-${ticketIds[0]}`);
  const placed = await costedPlaceAll(c, buyers, concurrency, maxMs, cpuMs);
  const check = await checkBaskets(c, ticketIds, buyers, { status: "held", concurrency });
  const byLines: Record<number, Stats> = {};
  for (let n = minLines; n <= maxLines; n++) {
    const mine = placed.samples.filter((_, i) => buyers[i]!.lines.length === n);
    byLines[n] = stats(mine, placed.ms);
  }
  return {
    ...check,
    baskets: buyers.length,
    stock,
    all: placed.stats,
    byLines,
    retried: placed.retried,
    cpuUs: placed.cpuUs,
    consistent: check.problems.length === 0 && check.partial.length === 0,
  };
}

/**
 * Baskets of exactly `lines` lines over `lines`-or-more fresh tickets with
 * stock for every basket (none is refused for want of units): the hold's own cost, for
 * comparing a one-line basket with a four-line one. Each 1-line basket takes
 * the next of `tickets` tickets in turn, so both spread over the same objects.
 */
export async function basketHolds(
  c: Client,
  {
    lines,
    baskets,
    concurrency,
    tickets = 4,
    maxMs,
    cpuMs,
  }: {
    lines: number;
    baskets: number;
    concurrency: number;
    tickets?: number;
    maxMs?: number;
    cpuMs?: () => number;
  },
): Promise<BasketRushResult> {
  const ticketIds = await createTickets(c, tickets, baskets, HOLD);
  const basket = (i: number) =>
    Array.from({ length: lines }, (_, k) => ({ ticket_id: ticketIds[(i + k) % tickets]!, quantity: 1 }));
  const buyers = await buyersOf(baskets, basket, `holds-${ticketIds[0]}`);
  const placed = await costedPlaceAll(c, buyers, concurrency, maxMs, cpuMs);
  const check = await checkBaskets(c, ticketIds, buyers, { status: "held", concurrency });
  return {
    ...check,
    baskets: buyers.length,
    stock: baskets,
    all: placed.stats,
    byLines: { [lines]: placed.stats },
    retried: placed.retried,
    cpuUs: placed.cpuUs,
    consistent: check.problems.length === 0 && check.partial.length === 0,
  };
}
