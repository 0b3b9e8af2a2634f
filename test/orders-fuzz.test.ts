import { evictDurableObject, listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { orderId as keyedOrderId } from "../src/http/order-object";
import { statusOf } from "../src/order/decisions";
import type { OrderCoordinator } from "../src/order/order-coordinator";
import { type LineRow, type OrderRow, refunds as orderRefunds, paymentEvents } from "../src/order/schema";
import * as orderStore from "../src/order/store";
import type { LineDecision } from "../src/ticket/lines";
import type { PurchaseRow, TicketRow } from "../src/ticket/schema";
import * as ticketStore from "../src/ticket/store";
import { type LineRequest, TicketSeller } from "../src/ticket/ticket-seller";
import { interceptD1, outage } from "./d1";
import { asAdmin, BASE, freshGameId, sellerOf, userToken } from "./helpers";
import { sign, URLS } from "./stripe-helpers";

// Orders under faults: a seeded, randomised run of thousands of baskets (1 to
// 4 lines over a few tickets with small stocks), in waves of concurrent
// baskets, through HTTP and straight through the order's object (RPC):
// placed (keyed retries after 503s, or not), confirmed by the box office,
// cancelled by their owner or the box office, paid through one Checkout
// Session (each signed Stripe event delivered five times), or left to their
// deadline; while ticket objects lose about 1 % of their answers (before or
// after acting), coordinators are evicted between their steps (and, more
// rarely, crash in the middle of one), ticket objects are evicted, and D1 goes
// down for short windows. Time is the isolate's fake clock, moved forward in
// phases and from one alarm to the next (every object's alarm is run when it
// is due, in order, as the runtime would).
//
// Checked against the objects' own storage: an answer `held` means every line
// is held, `order_refused` that none is; by its deadline D + 61 s (the line's
// escrow, 60 s, and a second) every order is decided, with its lines all
// confirmed or all released; at the end no order is placing, held or
// confirming, every ticket's sold + held is the sum over its live purchases,
// nothing is oversold or held, each order had at most one Checkout Session, a
// paid order ends with its payment kept (confirmed) or given back whole, each
// webhook event changes nothing after its first answer, and D1 agrees.
//
// Scale and seed: ORDERS_FUZZ_BASKETS (200 here: one wave of each of the two
// seeds below, under a minute), ORDERS_FUZZ_SEED (one run of that seed
// instead), ORDERS_FUZZ_WAVE (baskets at once), ORDERS_FUZZ_ONLY_WAVE (replays
// one wave of a seed), ORDERS_FUZZ_DROP (lost answers, 0.01),
// ORDERS_FUZZ_CRASH (crashes mid-step, per action), and ORDERS_FUZZ_STRICT=1
// (known defects fail too). `npm run orders:fuzz` runs 10,000 baskets. A
// failure prints its seed, wave and each order's trace.

const config = JSON.parse(env.TEST_ORDERS_FUZZ || "{}") as {
  baskets?: number;
  seed?: number;
  wave?: number;
  only?: number;
  drop?: number;
  crash?: number;
  strict?: boolean;
};
const BASKETS = config.baskets ?? 200;
const SEEDS = config.seed !== undefined ? [config.seed] : [7_001, 7_002];
const PER_SEED = Math.ceil(BASKETS / SEEDS.length);
const WAVE = config.wave ?? 100;
const DROP = config.drop ?? 0.01;
const CRASH = config.crash ?? 0.01;
const STRICT = config.strict === true;
const GROUP = 20; // baskets over the same five tickets
const GRACE_MS = 60_000; // a line's escrow past its ticket's hold (src/ticket/lines.ts)
const WAVE_CLOCK_MS = 50 * 60_000; // how far a wave moves the clock, at most

/**
 * Known defects an order may show (see knownDefect): counted under their name, not failed, unless
 * ORDERS_FUZZ_STRICT=1. Those this test found (stuck-confirming, unpaid-line-refund, retake-entries) are fixed,
 * each kept as its smallest case in test/order-faults.test.ts: none is tolerated. Name one here only while its
 * fix is under way, with its failing test.
 */
const TOLERATED = new Set<string>([]);

// ---------------------------------------------------------------- randomness

const mix = (...parts: (string | number)[]) => {
  let h = 2166136261;
  for (const ch of parts.join("\u0001")) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
};
type Rng = () => number;
function prng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = <T>(rng: Rng, xs: readonly T[]) => xs[Math.floor(rng() * xs.length)]!;
const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
function weighted<T extends string>(rng: Rng, table: Record<T, number>): T {
  const entries = Object.entries(table) as [T, number][];
  let r = rng() * entries.reduce((n, [, w]) => n + w, 0);
  for (const [k, w] of entries) {
    r -= w;
    if (r < 0) return k;
  }
  return entries[0]![0];
}
const hex32 = (...parts: (string | number)[]) =>
  [0, 1, 2, 3]
    .map((i) =>
      mix(...parts, i)
        .toString(16)
        .padStart(8, "0"),
    )
    .join("");

// ---------------------------------------------------------------- the isolate's clock

/** Date only: timers stay real. The clock never goes back within a seed, and stays ahead of real time. */
const clock = {
  start: () => {
    vi.useRealTimers();
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 60_000 });
  },
  to: (t: number) => {
    if (t > Date.now()) vi.setSystemTime(t);
  },
  add: (ms: number) => vi.setSystemTime(Date.now() + ms),
};

// ---------------------------------------------------------------- faults

const faults = {
  on: false,
  seed: 0,
  calls: new Map<string, number>(),
  ticketName: new Map<number, string>(), // ticket id → its place in the run, so a seed replays the same faults
  lineCalls: 0,
  lostBefore: 0,
  lostAfter: 0,
};
const d1 = { down: false, windows: 0, failed: 0, calls: 0, ms: 0 };

/** Whether this call to a ticket loses its answer (before or after acting), decided by the seed and the call. */
function loses(call: string): "before" | "after" | null {
  if (!faults.on) return null;
  faults.lineCalls++;
  const n = (faults.calls.get(call) ?? 0) + 1;
  faults.calls.set(call, n);
  const r = prng(mix(faults.seed, call, n))();
  if (r < DROP / 3) return "before";
  return r < DROP ? "after" : null;
}
const lostAnswer = () => new Error("injected: the ticket's answer was lost");

const realHoldLine = TicketSeller.prototype.holdLine;
const realSettleLine = TicketSeller.prototype.settleLine;
const realConsoleError = console.error;
const logged = new Map<string, number>();
let restoreD1: () => void = () => {};

beforeAll(() => {
  // RPC dispatches through the class: the faults go on its prototype.
  TicketSeller.prototype.holdLine = async function (this: TicketSeller, ticketId: number, line: LineRequest) {
    const lost = loses(`hold ${faults.ticketName.get(ticketId)} ${line.key}`);
    if (lost === "before") {
      faults.lostBefore++;
      throw lostAnswer();
    }
    const answer = await realHoldLine.call(this, ticketId, line);
    if (lost === "after") {
      faults.lostAfter++;
      throw lostAnswer();
    }
    return answer;
  };
  TicketSeller.prototype.settleLine = async function (
    this: TicketSeller,
    ticketId: number,
    key: string,
    decision: LineDecision,
  ) {
    const what = decision.to === "confirmed" && decision.paid ? "paid" : decision.to;
    const lost = loses(`settle ${faults.ticketName.get(ticketId)} ${key} ${what}`);
    if (lost === "before") {
      faults.lostBefore++;
      throw lostAnswer();
    }
    const answer = await realSettleLine.call(this, ticketId, key, decision);
    if (lost === "after") {
      faults.lostAfter++;
      throw lostAnswer();
    }
    return answer;
  };
  restoreD1 = interceptD1(async (_call, forward) => {
    if (d1.down) {
      d1.failed++;
      throw outage();
    }
    const started = performance.now();
    try {
      return await forward();
    } finally {
      d1.calls++;
      d1.ms += performance.now() - started;
    }
  });
  // The objects log every fault they meet: counted, not printed.
  console.error = (...args: unknown[]) => {
    let message = String(args[0]).slice(0, 60);
    try {
      message = (JSON.parse(String(args[0])) as { message: string }).message;
    } catch {}
    logged.set(message, (logged.get(message) ?? 0) + 1);
  };
});

afterAll(() => {
  TicketSeller.prototype.holdLine = realHoldLine;
  TicketSeller.prototype.settleLine = realSettleLine;
  restoreD1();
  console.error = realConsoleError;
  vi.useRealTimers();
});

// ---------------------------------------------------------------- calls

interface Answer {
  took?: number; // ms
  status: number; // 0: the call threw (an RPC to an object that crashed)
  code?: string;
  body: Record<string, unknown>;
}

/** Straight to the worker's entry point (test/helpers.ts's `api` also checks the document, which costs here). */
async function http(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await exports.default.fetch(
      new Request(`${BASE}${path}`, {
        method,
        headers: body === undefined ? headers : { "Content-Type": "application/json", ...headers },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      }),
    );
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = { text };
    }
    return {
      status: res.status,
      code: parsed.code as string | undefined,
      body: parsed,
      took: performance.now() - started,
    };
  } catch (err) {
    return { status: 0, code: "thrown", body: { error: String(err) } };
  }
}

/** A call on an order's object, as an HTTP status would say it. */
async function rpc(call: () => Promise<unknown>): Promise<Answer> {
  const started = performance.now();
  try {
    const outcome = (await call()) as { ok: boolean; code?: string } & Record<string, unknown>;
    const took = performance.now() - started;
    if (outcome.ok) return { status: 200, body: outcome, took };
    const status = outcome.code === "outcome_unknown" ? 503 : outcome.code === "forbidden" ? 403 : 409;
    return { status, code: outcome.code, body: outcome, took };
  } catch (err) {
    return { status: 0, code: "thrown", body: { error: String(err) } };
  }
}

const asOwner = async (user: number) => ({ Authorization: `Bearer ${await userToken(user)}` });
type OrderStub = DurableObjectStub<OrderCoordinator>;
const stubOf = (id: string): OrderStub => env.ORDERS.getByName(id);

// ---------------------------------------------------------------- truth, from the objects' own storage

interface OrderTruth {
  order: OrderRow;
  lines: LineRow[];
  alarm: number | null;
  refunds: number;
  handled: number;
}
// Each object's store, opened once per instance (opening one migrates it, and a ticket's prepares its statements).
const orderStores = new WeakMap<DurableObjectStorage, orderStore.OrderStore>();
const ticketStores = new WeakMap<DurableObjectStorage, ticketStore.Store>();
function opened<T>(
  stores: WeakMap<DurableObjectStorage, T>,
  storage: DurableObjectStorage,
  open: (s: DurableObjectStorage) => T,
) {
  let db = stores.get(storage);
  if (!db) {
    db = open(storage);
    stores.set(storage, db);
  }
  return db;
}

const orderTruth = (id: string) =>
  again(() =>
    runInDurableObject(stubOf(id), async (_, state): Promise<OrderTruth | null> => {
      const db = opened(orderStores, state.storage, orderStore.openOrderStore);
      const order = orderStore.readOrder(db);
      if (!order) return null;
      return {
        order,
        lines: orderStore.readLines(db),
        alarm: await state.storage.getAlarm(),
        refunds: db.select().from(orderRefunds).all().length,
        handled: db.select().from(paymentEvents).all().length,
      };
    }),
  );

type Purchase = PurchaseRow & { ticket_id: number; entries: number };
interface TicketTruth {
  ticket: TicketRow;
  purchases: Purchase[];
}
const ticketTruth = (ticketId: number) =>
  again(() =>
    runInDurableObject(sellerOf(ticketId), (_, state): TicketTruth => {
      const db = opened(ticketStores, state.storage, ticketStore.openStore);
      const entries = new Map(
        state.storage.sql
          .exec<{ purchase_id: number; n: number }>(
            "SELECT purchase_id, count(*) AS n FROM entries GROUP BY purchase_id",
          )
          .toArray()
          .map((e) => [e.purchase_id, e.n]),
      );
      const purchases = ticketStore
        .purchasesAfter(db, 0, 1_000_000)
        .map((p) => ({ ...p, ticket_id: ticketId, entries: entries.get(p.id) ?? 0 }));
      return { ticket: ticketStore.readTicket(db)!, purchases };
    }),
  );

/** Every purchase of these tickets, by order. */
async function purchasesByOrder(ticketIds: Iterable<number>) {
  const byOrder = new Map<string, Purchase[]>();
  const truths = await Promise.all([...new Set(ticketIds)].map(ticketTruth));
  for (const t of truths)
    for (const p of t.purchases) if (p.order_id) byOrder.set(p.order_id, [...(byOrder.get(p.order_id) ?? []), p]);
  return { byOrder, truths };
}

/** An object that was just reset (a crash injected) throws at its next call: the call is made again. */
async function again<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (attempt >= 3 || !String(err).includes("injected")) throw err;
    }
  }
}

/** Evicted once it has finished what it is doing (an object not running now has nothing to lose). */
type Make = () => DurableObjectStub;
const evict = (stub: Make) => evictDurableObject(stub()).catch(() => {});

const live = (p: PurchaseRow) => p.status === "held" || p.status === "confirmed";
const alarmOf = (stub: Make) => again(() => runInDurableObject(stub(), (_, state) => state.storage.getAlarm()));

/** Runs the object's alarm if it is due, as the runtime does (a failed alarm is tried again). */
const runDue = (stub: Make) =>
  again(() =>
    runInDurableObject(stub(), async (instance, state) => {
      const at = await state.storage.getAlarm();
      if (at === null || at > Date.now()) return { ran: false, at, threw: null };
      await state.storage.deleteAlarm();
      let threw: string | null = null;
      try {
        await (instance as unknown as { alarm(): Promise<void> }).alarm();
      } catch (err) {
        threw = String(err);
        await state.storage.setAlarm(Date.now() + 1_000);
      }
      return { ran: true, at: await state.storage.getAlarm(), threw };
    }),
  );

// ---------------------------------------------------------------- baskets

const INTENTS = {
  confirm: 14,
  "confirm-cancel": 5,
  "owner-cancel": 8,
  "admin-cancel": 4,
  pay: 16,
  "pay-cancel": 5,
  "pay-later": 5,
  "pay-late": 6,
  "session-expired": 5,
  abandon: 4,
  expire: 8,
  "expire-confirm": 8,
  "race-confirm-cancel": 4,
  "race-pay-cancel": 4,
  "cancel-pay": 3,
  "double-confirm": 3,
} as const;
type Intent = keyof typeof INTENTS;
type Via = "rpc" | "key" | "user" | "bare";

interface Session {
  id: string;
  intent: string;
  amount: number;
  currency: string;
}

interface Basket {
  n: number;
  user: number;
  via: Via;
  key: string | null;
  id: string | null;
  lines: { ticket_id: number; quantity: number }[];
  intent: Intent;
  rng: Rng;
  placed: "held" | "refused" | "unknown" | "other" | null;
  session: Session | null;
  paid: Session | null; // a paid event was acted on (or may have been)
  late: boolean; // placed again at P3, or cancelled already: no more steps
  trace: string[];
}

interface Violation {
  kind: string;
  detail: string;
  order?: string;
  known?: string;
}

type Counts = Record<string, number>;
const bump = (c: Counts, k: string, n = 1) => {
  c[k] = (c[k] ?? 0) + n;
};

class Wave {
  readonly tag: string;
  readonly rng: Rng;
  readonly chaos: Rng;
  tickets: number[] = [];
  baskets: Basket[] = [];
  orders = new Set<string>(); // every order of this wave (a stub is made for each call: one that saw its object crash stays broken)
  ticketsOf = new Map<string, number[]>(); // each order's tickets
  crashes: Promise<unknown>[] = []; // injected, not yet done
  seen = new Set<string>(); // orders a settle has read
  touched = new Set<string>(); // orders called since their alarm was last read
  checked = new Set<string>(); // orders checked at their D + 61 s
  pending = new Map<string, number>(); // order → D + 61 s
  violations: Violation[] = [];
  constructor(
    readonly seed: number,
    readonly index: number,
    readonly stats: Stats,
  ) {
    this.tag = `${seed}.${index}`;
    this.rng = prng(mix(seed, index, "plan"));
    this.chaos = prng(mix(seed, index, "chaos"));
  }
  basketOf(id: string) {
    return this.baskets.find((b) => b.id === id);
  }
  violate(v: Violation) {
    this.violations.push(v);
  }
}

interface Stats {
  baskets: number;
  waves: number;
  place: Counts;
  answers: Counts;
  intents: Counts;
  final: Counts;
  faults: Counts;
  webhooks: Counts;
  known: Counts;
  checks: Counts;
  ms: Counts;
}
const newStats = (): Stats => ({
  baskets: 0,
  waves: 0,
  place: {},
  answers: {},
  intents: {},
  final: {},
  faults: {},
  webhooks: {},
  known: {},
  checks: {},
  ms: {},
});
/** Real time spent in each part of a wave, for the figures. */
async function timed<T>(stats: Stats, what: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    bump(stats.ms, what, Math.round(performance.now() - started));
  }
}

function record(w: Wave, b: Basket, what: string, a: Answer) {
  if (b.id) w.touched.add(b.id);
  const said = `${what} ${a.status}${a.code ? ` ${a.code}` : ""}`;
  b.trace.push(`${new Date().toISOString()} ${said}`);
  bump(w.stats.answers, said);
  if (a.took !== undefined && a.took > (w.stats.ms[`slowest ${what}`] ?? 0))
    w.stats.ms[`slowest ${what}`] = Math.round(a.took);
  if (a.status >= 500 && a.status !== 503) w.violate({ kind: "http-5xx", detail: said, order: b.id ?? undefined });
}

/** The coordinator is evicted between two steps (it finishes what it is doing first), or crashes in the middle of one. */
async function between(w: Wave, b: Basket) {
  if (!b.id) return;
  if (b.rng() < 0.05) {
    bump(w.stats.faults, "coordinator evicted");
    b.trace.push("(evicted)");
    const id = b.id;
    await evict(() => stubOf(id));
  }
  if (b.rng() < CRASH) {
    bump(w.stats.faults, "coordinator crashed");
    b.trace.push("(crash)");
    const id = b.id;
    w.crashes.push(
      scheduler
        .wait(int(b.rng, 0, 4))
        .then(() => runInDurableObject(stubOf(id), (_, state) => state.abort("injected: crashed mid-step")))
        .catch(() => {}),
    );
  }
}

async function place(w: Wave, b: Basket, retries = 3): Promise<void> {
  const body = b.via === "user" ? { lines: b.lines } : { user_id: b.user, lines: b.lines };
  for (let attempt = 0; attempt <= retries; attempt++) {
    await between(w, b);
    let a: Answer;
    if (b.via === "rpc") {
      const id = b.id!;
      a = await rpc(() =>
        stubOf(id).place(id, {
          user_id: b.user,
          lines: b.lines,
          principal: null,
          hash: `fuzz-${id}`,
          deadline: Date.now() + 10_000,
        }),
      );
      if (a.status === 200) a.status = 201;
    } else {
      const headers = b.via === "user" ? await asOwner(b.user) : asAdmin;
      a = await http("POST", "/orders", b.key ? { ...headers, "Idempotency-Key": b.key } : headers, body);
      if (a.status === 201) b.id ??= a.body.id as string;
    }
    record(w, b, "place", a);
    if (a.status === 201) b.placed = "held";
    else if (a.status === 409 && (a.code === "order_refused" || a.code === "currency_mismatch")) b.placed = "refused";
    else if (a.status === 503 || a.status === 0) b.placed = "unknown";
    else b.placed = "other";
    if (b.placed !== "unknown" || b.via === "bare") return; // without a key, a retry would be another order
  }
}

async function confirm(w: Wave, b: Basket) {
  await between(w, b);
  const id = b.id!;
  const a =
    b.rng() < 0.5 ? await rpc(() => stubOf(id).confirm()) : await http("POST", `/orders/${id}/confirm`, asAdmin);
  record(w, b, "confirm", a);
  return a;
}

async function cancel(w: Wave, b: Basket, who: "owner" | "admin") {
  await between(w, b);
  const id = b.id!;
  const a =
    b.rng() < 0.5
      ? await rpc(() => stubOf(id).cancel(who === "owner" ? { role: "user", id: b.user } : { role: "admin" }))
      : await http("POST", `/orders/${id}/cancel`, who === "owner" ? await asOwner(b.user) : asAdmin);
  record(w, b, `cancel(${who})`, a);
  return a;
}

async function checkout(w: Wave, b: Basket): Promise<boolean> {
  for (let attempt = 0; attempt < 4; attempt++) {
    await between(w, b);
    const a = await http("POST", `/orders/${b.id}/checkout`, await asOwner(b.user), URLS);
    record(w, b, "checkout", a);
    if (a.status === 200) {
      const id = a.body.session_id as string;
      if (b.session && b.session.id !== id) {
        w.violate({ kind: "second-session", detail: `${b.session.id} then ${id}`, order: b.id! });
      }
      const res = await fetch(`https://api.stripe.com/v1/checkout/sessions/${id}`, {
        headers: { Authorization: `Bearer ${env.STRIPE_SECRET_KEY}` },
      });
      const s = (await res.json()) as { payment_intent: string; amount_total: number; currency: string };
      b.session = { id, intent: s.payment_intent, amount: s.amount_total, currency: s.currency };
      return true;
    }
    if (a.status !== 503 && a.status !== 502 && a.status !== 0) return false;
  }
  return false;
}

/** The order's state as a webhook event may change it (not its projection nor a refund Stripe made meanwhile). */
const eventView = (t: OrderTruth | null) =>
  t &&
  JSON.stringify([
    t.order.state,
    t.order.paid_session_id,
    t.order.payment_intent,
    t.order.confirmed_at,
    t.order.cancelled_at,
    t.refunds,
    t.handled,
    t.lines.map((l) => l.settled),
  ]);

/** One Stripe event, delivered five times: after its first answer, each is `ignored` and changes nothing. */
async function deliverFive(w: Wave, b: Basket, type: "paid" | "expired") {
  const s = b.session!;
  const id = b.id!;
  const payload = JSON.stringify({
    id: `evt_fuzz_${w.tag}_${b.n}_${type}`,
    object: "event",
    type: type === "paid" ? "checkout.session.completed" : "checkout.session.expired",
    data: {
      object: {
        object: "checkout.session",
        id: s.id,
        client_reference_id: id,
        metadata: { order_id: id },
        payment_status: type === "paid" ? "paid" : "unpaid",
        payment_intent: type === "paid" ? s.intent : null,
        amount_total: s.amount,
        currency: s.currency,
      },
    },
  });
  if (type === "paid") b.paid = s;
  let first: string | null = null; // the order once the event was first answered
  for (let k = 0; k < 5; k++) {
    if (k > 0) await between(w, b);
    const a = await http(
      "POST",
      "/payments/stripe/webhook",
      { "Content-Type": "application/json", "Stripe-Signature": await sign(payload) },
      payload,
    );
    const result = (a.body.result as string | undefined) ?? a.code ?? "";
    record(w, b, `event(${type})#${k + 1}`, { ...a, code: result });
    bump(w.stats.webhooks, `${k === 0 ? "first" : "again"} ${a.status} ${result}`);
    if (first !== null) {
      // A redelivery may meet a coordinator that crashed (503): it must still change nothing.
      const now = k === 4 ? eventView(await orderTruth(id)) : first;
      if ((a.status === 200 && result !== "ignored") || (a.status !== 200 && a.status !== 503) || now !== first) {
        w.violate({
          kind: "webhook-replay",
          detail: `delivery ${k + 1} of ${type}: ${a.status} ${result}; ${first} → ${now}`,
          order: id,
        });
      }
    } else if (a.status === 200) first = eventView(await orderTruth(id));
  }
}

// ---------------------------------------------------------------- a wave

async function createTickets(w: Wave, groups: number) {
  const specs = Array.from({ length: groups * 5 }, (_, i) => ({
    game_id: freshGameId(),
    name: `Fuzz ${w.tag} ${i}`,
    type: pick(w.rng, ["adult", "child", "member"]),
    price: pick(w.rng, [5, 12.5, 20, 35.5]),
    stock: int(w.rng, 4, 14),
    hold_seconds: pick(w.rng, [60, 120, 300]),
    currency: w.rng() < 0.06 ? "GBP" : "EUR", // a basket over two currencies is refused
  }));
  w.tickets = await Promise.all(
    specs.map(async (spec, i) => {
      const a = await http("POST", "/tickets", asAdmin, spec);
      expect(a.status, JSON.stringify(a.body)).toBe(200);
      const id = a.body.id as number;
      faults.ticketName.set(id, `${w.tag}.${i}`);
      return id;
    }),
  );
}

function plan(w: Wave, first: number, count: number) {
  for (let i = 0; i < count; i++) {
    const n = first + i;
    const rng = prng(mix(w.seed, w.index, "basket", i));
    const group = w.tickets.slice(Math.floor(i / GROUP) * 5, Math.floor(i / GROUP) * 5 + 5);
    const chosen = [...group].sort(() => rng() - 0.5).slice(0, pick(rng, [1, 1, 2, 2, 3, 4]));
    const via = weighted<Via>(rng, { rpc: 3, key: 3, user: 2, bare: 1 });
    const user = 100_000 + (w.seed % 1000) * 10_000 + n;
    const key = via === "key" || via === "user" ? `fuzz-${w.tag}-${i}` : null;
    const b: Basket = {
      n,
      user,
      via,
      key,
      id: via === "rpc" ? `ord_${hex32(w.seed, w.index, i)}` : null,
      lines: chosen.map((ticket_id) => ({ ticket_id, quantity: int(rng, 1, 3) })),
      intent: weighted<Intent>(rng, INTENTS),
      rng,
      placed: null,
      session: null,
      paid: null,
      late: false,
      trace: [],
    };
    w.baskets.push(b);
    bump(w.stats.intents, b.intent);
  }
}

async function keyedIds(w: Wave) {
  for (const b of w.baskets) {
    if (b.via === "key") b.id = await keyedOrderId("admin", b.key!);
    if (b.via === "user") b.id = await keyedOrderId(`user:${b.user}`, b.key!);
    if (b.id) w.orders.add(b.id);
  }
}

/** Orders whose id no answer gave (placed without a key, answered 503): found among the objects. */
const seenObjects = new Set<string>();
async function discover(w: Wave) {
  const ids = await listDurableObjectIds(env.ORDERS);
  for (const oid of ids) {
    const name = oid.toString();
    if (seenObjects.has(name)) continue;
    seenObjects.add(name);
    const id = await again(() =>
      runInDurableObject(
        env.ORDERS.get(oid),
        (_, state) => orderStore.readOrder(opened(orderStores, state.storage, orderStore.openOrderStore))?.id ?? null,
      ),
    );
    const t = id === null ? null : await orderTruth(id);
    if (t && !w.orders.has(t.order.id) && t.lines.some((l) => w.tickets.includes(l.ticket_id))) {
      w.orders.add(t.order.id);
      w.touched.add(t.order.id);
      w.ticketsOf.set(
        t.order.id,
        t.lines.map((l) => l.ticket_id),
      );
      bump(w.stats.checks, "orders found without an answer");
    }
  }
}

/** Runs a phase's steps at once, while ticket objects are evicted, D1 fails, and (`tick`) the clock moves. */
async function phase(w: Wave, steps: (() => Promise<unknown>)[], tick: boolean) {
  let running = true;
  let ticked = 0;
  let outages = 0;
  const side: Promise<unknown>[] = [];
  const chaos = (async () => {
    while (running) {
      await scheduler.wait(5 + Math.floor(w.chaos() * 20));
      const r = w.chaos();
      // Time passes (at most TICK_MS in a phase), as alarms do not run in one: their objects are called instead.
      const step = Math.min(Math.floor(w.chaos() * 120), TICK_MS - ticked);
      if (tick && step > 0) {
        clock.add(step);
        ticked += step;
      }
      if (r < 0.04) {
        // Not awaited: it waits for the object to finish what it is doing.
        bump(w.stats.faults, "ticket evicted");
        const t = pick(w.chaos, w.tickets);
        void evict(() => sellerOf(t));
      } else if (r < 0.06 && !d1.down && outages < 1) {
        // A short outage, one a phase: every answer waiting for its projection then waits its 2 s out.
        outages++;
        d1.down = true;
        d1.windows++;
        const ms = 20 + Math.floor(w.chaos() * 180);
        side.push(scheduler.wait(ms).then(() => (d1.down = false)));
      }
    }
  })();
  const t1 = performance.now();
  const outcomes = await Promise.allSettled(
    steps.map((s, i) =>
      s().catch((err) => {
        const b = w.baskets[i];
        throw new Error(`basket ${b?.n} (${b?.id}) after ${b?.trace.at(-1)}: ${err}`);
      }),
    ),
  );
  const t2 = performance.now();
  running = false;
  await chaos;
  await Promise.all([...side, ...w.crashes]);
  w.crashes = [];
  bump(w.stats.ms, "phase steps", Math.round(t2 - t1));
  bump(w.stats.ms, "phase side", Math.round(performance.now() - t2));
  d1.down = false;
  for (const o of outcomes)
    if (o.status === "rejected") w.violate({ kind: "step-threw", detail: String(o.reason?.stack ?? o.reason) });
}

/** How far the clock moves during a phase, at most. */
const TICK_MS = 10_000;

/** Alarms due within this much of each other are run together (as late as this, at most). */
const QUANTUM_MS = 250;

/** Every object's due alarm, in time order, up to `until`; each order is checked at its D + 61 s. */
async function settle(w: Wave, until: number, chaos: boolean) {
  type Obj = { kind: "ticket" | "order"; name: string; stub: Make; at: number | null };
  const tickets = new Map<number, Obj>(
    w.tickets.map((t) => [t, { kind: "ticket", name: String(t), stub: () => sellerOf(t), at: null }]),
  );
  const orders: Obj[] = [...w.orders].map((id) => ({ kind: "order", name: id, stub: () => stubOf(id), at: null }));
  const all = [...tickets.values(), ...orders];
  await Promise.all(all.map(async (o) => (o.at = await alarmOf(o.stub))));
  await deadlines(w);
  w.touched.clear();
  const ran = new Set<Obj>(); // their alarm ran: what it left running may arm it again
  for (let round = 0; ; round++) {
    if (round === 5_000) {
      w.violate({ kind: "not-quiet", detail: "alarms kept ringing at the same time" });
      break;
    }
    const now = Date.now();
    const due = all.filter((o) => o.at !== null && o.at <= now);
    if (due.length > 0) {
      bump(w.stats.checks, "settle rounds");
      if (chaos) {
        d1.down = w.chaos() < 0.05;
        if (d1.down) d1.windows++;
        if (w.chaos() < 0.1) {
          bump(w.stats.faults, "ticket evicted");
          await evict(pick(w.chaos, [...tickets.values()]).stub);
        }
        if (w.chaos() < 0.1 && orders.length > 0) {
          bump(w.stats.faults, "coordinator evicted");
          await evict(pick(w.chaos, orders).stub);
        }
      }
      await Promise.all(
        due.map(async (o) => {
          const r = await runDue(o.stub);
          o.at = r.at;
          ran.add(o);
          bump(w.stats.checks, `${o.kind} alarms run`);
          if (r.threw) w.violate({ kind: "alarm-threw", detail: `${o.kind} ${o.name}: ${r.threw}`, order: o.name });
        }),
      );
      d1.down = false;
      // An order's alarm calls its tickets, which may arm theirs.
      const touched = new Set(due.filter((o) => o.kind === "order").flatMap((o) => w.ticketsOf.get(o.name) ?? []));
      await Promise.all(
        [...touched].map(async (t) => {
          const o = tickets.get(t);
          if (o) o.at = await alarmOf(o.stub);
        }),
      );
      continue;
    }
    await Promise.all([...ran].map(async (o) => (o.at = await alarmOf(o.stub))));
    ran.clear();
    if (all.some((o) => o.at !== null && o.at <= now)) continue;
    await checkpoints(w, now);
    const nextAlarm = Math.min(...all.map((o) => o.at ?? Number.POSITIVE_INFINITY).filter((at) => at > now));
    const nextCheck = Math.min(...[...w.pending.values()].filter((at) => at > now));
    const next = Math.min(nextAlarm + QUANTUM_MS, nextCheck);
    if (!(Math.min(nextAlarm, nextCheck) <= until)) break;
    clock.to(Math.min(next, until));
  }
  clock.to(until);
  await checkpoints(w, Date.now());
  for (const o of orders) w.seen.add(o.name);
}

/** The deadline D of each order not yet checked (called since, or never read): it is checked at D + 61 s. */
async function deadlines(w: Wave) {
  const ids = [...w.orders].filter((id) => !w.checked.has(id) && (w.touched.has(id) || !w.seen.has(id)));
  await Promise.all(
    ids.map(async (id) => {
      const t = await orderTruth(id);
      if (t?.order.expires_at && t.order.state !== "confirmed")
        w.pending.set(id, Date.parse(t.order.expires_at) + GRACE_MS + 1_000);
    }),
  );
}

/** Orders whose D + 61 s has come: decided, with every line confirmed alike or released. */
async function checkpoints(w: Wave, now: number) {
  const due = [...w.pending].filter(([, at]) => at <= now).map(([id]) => id);
  if (due.length === 0) return;
  const truths = new Map<string, OrderTruth>();
  await Promise.all(
    due.map(async (id) => {
      const t = await orderTruth(id);
      if (t) truths.set(id, t);
    }),
  );
  const { byOrder } = await purchasesByOrder([...truths.values()].flatMap((t) => t.lines.map((l) => l.ticket_id)));
  for (const id of due) {
    const t = truths.get(id);
    w.pending.delete(id);
    if (!t) continue;
    const at = t.order.expires_at ? Date.parse(t.order.expires_at) + GRACE_MS + 1_000 : null;
    if (at !== null && at > now && t.order.state !== "confirmed") {
      w.pending.set(id, at); // its deadline moved (a checkout)
      continue;
    }
    w.checked.add(id);
    bump(w.stats.checks, "orders checked at D + 61 s");
    const problems = orderProblems(t, byOrder.get(id) ?? [], false);
    if (t.order.state === "held" || t.order.state === "placing" || t.order.state === "confirming")
      problems.push(`still ${t.order.state} at D + 61 s`);
    for (const p of problems) flag(w, t, byOrder.get(id) ?? [], `at D + 61 s: ${p}`);
  }
}

/** What is wrong with an order and its lines as the tickets hold them (`end`: everything settled). */
function orderProblems(t: OrderTruth, mine: Purchase[], end: boolean): string[] {
  const o = t.order;
  const key = `${o.id}/${o.attempt}`;
  const problems: string[] = [];
  const lives = mine.filter(live);
  if (o.state === "confirmed") {
    for (const l of t.lines) {
      const p = mine.find((p) => p.idem_key === key && p.ticket_id === l.ticket_id);
      if (p?.status !== "confirmed" || p.quantity !== l.quantity)
        problems.push(`line of ticket ${l.ticket_id} is ${p?.status ?? "missing"} in a confirmed order`);
      else if (end && o.paid_session_id && p.paid_session_id !== o.paid_session_id)
        problems.push(`line of ticket ${l.ticket_id} was never told of the order's payment`);
    }
    const strays = lives.filter((p) => p.idem_key !== key);
    if (strays.length > 0) problems.push(`${strays.length} purchases of an earlier attempt are live`);
  } else if (o.state === "held" && !end) {
    for (const l of t.lines) {
      const p = mine.find((p) => p.idem_key === key && p.ticket_id === l.ticket_id);
      if (p?.status !== "held")
        problems.push(`line of ticket ${l.ticket_id} is ${p?.status ?? "missing"} in a held order`);
    }
  } else if (o.state !== "placing" && o.state !== "confirming" && lives.length > 0) {
    problems.push(`${lives.map((p) => `${p.ticket_id}:${p.status}`).join(", ")} live in a ${o.state} order`);
  }
  if (end) {
    if (["placing", "held", "confirming"].includes(o.state)) problems.push(`left ${o.state}`);
    if (o.state === "cancelled" && o.paid_session_id) problems.push("paid and cancelled, never refunded");
  }
  return problems;
}

/** The known defect an order shows, if any (see TOLERATED). */
function knownDefect(t: OrderTruth, mine: Purchase[]): string | null {
  const o = t.order;
  const key = `${o.id}/${o.attempt}`;
  const ours = mine.filter((p) => p.idem_key === key);
  if (o.state === "confirming") {
    // A line given back as `expired` after being taken again keeps its entries: taking it again throws.
    if (ours.some((p) => p.status === "expired" && p.entries > 0)) return "retake-entries";
    if (t.alarm === null) return "stuck-confirming";
  }
  if (
    (o.state === "cancelled" || o.state === "refunded") &&
    o.paid_session_id &&
    ours.some((p) => p.status !== "confirmed" && p.confirmed_at !== null && !p.paid_session_id)
  )
    return "unpaid-line-refund";
  return null;
}

function flag(w: Wave, t: OrderTruth, mine: Purchase[], detail: string) {
  const known = knownDefect(t, mine);
  if (known) bump(w.stats.known, known);
  const o = t.order;
  const state =
    `order ${o.state} (attempt ${o.attempt}, v${o.version}, expires ${o.expires_at}, paid ${o.paid_session_id}, ` +
    `alarm ${t.alarm && new Date(t.alarm).toISOString()}); lines ` +
    t.lines.map((l) => `${l.ticket_id}:${l.answer}/${l.settled}`).join(" ") +
    "; purchases " +
    mine
      .map(
        (p) =>
          `${p.ticket_id}:${p.idem_key?.split("/")[1]}:${p.status}${p.paid_session_id ? "+paid" : ""}:${p.refunded_minor}`,
      )
      .join(" ");
  w.violate({ kind: "order", detail: `${detail} [${state}]`, order: o.id, known: known ?? undefined });
}

/** After a wave's placements: each `held` answer has every line held, each `order_refused` none. */
async function checkAnswers(w: Wave) {
  const { byOrder } = await purchasesByOrder(w.tickets);
  await Promise.all(
    w.baskets
      .filter((b) => b.id && (b.placed === "held" || b.placed === "refused"))
      .map(async (b) => {
        const t = await orderTruth(b.id!);
        const mine = byOrder.get(b.id!) ?? [];
        if (!t) return w.violate({ kind: "answer", detail: `answered ${b.placed}, no order`, order: b.id! });
        const key = `${b.id}/${t.order.attempt}`;
        if (b.placed === "held") {
          for (const l of b.lines) {
            const p = mine.find((p) => p.ticket_id === l.ticket_id && p.idem_key === key);
            if (p?.status !== "held" || p.quantity !== l.quantity)
              w.violate({ kind: "answer", detail: `answered held, line ${l.ticket_id} ${p?.status}`, order: b.id! });
          }
          if (mine.filter(live).length !== b.lines.length)
            w.violate({ kind: "answer", detail: `answered held, ${mine.filter(live).length} live`, order: b.id! });
        } else if (mine.some(live)) {
          w.violate({ kind: "answer", detail: "answered order_refused, a line is live", order: b.id! });
        }
        bump(w.stats.checks, "place answers checked");
      }),
  );
}

/** The end of a wave: every order, ticket, session, payment and the read model. */
async function checkEnd(w: Wave) {
  const { byOrder, truths: tickets } = await purchasesByOrder(w.tickets);
  const orders = (await Promise.all([...w.orders].map(orderTruth))).filter((t) => t !== null);
  const known = new Map(orders.map((t) => [t.order.id, t]));
  for (const t of orders) {
    bump(w.stats.final, t.order.state);
    const mine = byOrder.get(t.order.id) ?? [];
    for (const p of orderProblems(t, mine, true)) flag(w, t, mine, `at the end: ${p}`);
    if (t.alarm !== null && t.alarm <= Date.now() + 5 * 60_000 && !knownDefect(t, mine))
      w.violate({ kind: "not-quiet", detail: `alarm at ${new Date(t.alarm).toISOString()}`, order: t.order.id });
  }
  for (const [orderId, ps] of byOrder)
    if (!known.has(orderId))
      w.violate({ kind: "orphan", detail: `${ps.length} purchases of an unknown order`, order: orderId });
  for (const { ticket: t, purchases } of tickets) {
    const held = purchases.filter((p) => p.status === "held").reduce((n, p) => n + p.quantity, 0);
    const sold = purchases.filter((p) => p.status === "confirmed").reduce((n, p) => n + p.quantity - p.returned, 0);
    if (t.sold !== sold || t.held !== held)
      w.violate({
        kind: "ticket",
        detail: `ticket ${t.id}: sold ${t.sold} held ${t.held}; its purchases ${sold} ${held}`,
      });
    if (t.sold + t.held > t.stock) w.violate({ kind: "ticket", detail: `ticket ${t.id} oversold` });
    if (t.held > 0) w.violate({ kind: "ticket", detail: `ticket ${t.id}: ${t.held} units still held` });
    bump(w.stats.checks, "tickets checked");
    bump(w.stats.final, "units sold", t.sold);
  }
  // One Checkout Session per order, at the stand-in for Stripe.
  const asked = (await (await fetch("https://api.stripe.com/__fake/requests")).json()) as {
    path: string;
    idempotencyKey: string | null;
    form: Record<string, string>;
  }[];
  const sessions = new Map<string, Set<string | null>>();
  for (const r of asked)
    if (r.path === "/v1/checkout/sessions" && known.has(r.form.client_reference_id!))
      sessions.set(
        r.form.client_reference_id!,
        (sessions.get(r.form.client_reference_id!) ?? new Set()).add(r.idempotencyKey),
      );
  for (const [id, keys] of sessions) {
    bump(w.stats.checks, "orders with a session");
    if (keys.size > 1) w.violate({ kind: "sessions", detail: `${keys.size} Checkout Sessions`, order: id });
  }
  // A payment is kept by a confirmed order it paid, else given back whole.
  for (const b of w.baskets.filter((b) => b.paid)) {
    const t = known.get(b.id!);
    const res = await fetch(`https://api.stripe.com/v1/refunds?payment_intent=${b.paid!.intent}&limit=100`, {
      headers: { Authorization: `Bearer ${env.STRIPE_SECRET_KEY}` },
    });
    const back = ((await res.json()) as { data: { amount: number }[] }).data.reduce((n, r) => n + r.amount, 0);
    const kept = t?.order.state === "confirmed" && t.order.payment_intent === b.paid!.intent;
    const acted = t && (t.order.payment_intent === b.paid!.intent || t.refunds > 0);
    bump(w.stats.checks, "payments checked");
    if (kept ? back !== 0 : acted && back !== b.paid!.amount) {
      const detail = `paid ${b.paid!.amount}, ${back} given back, order ${t?.order.state}`;
      if (t) flag(w, t, byOrder.get(t.order.id) ?? [], detail);
      else w.violate({ kind: "payment", detail, order: b.id! });
    }
    if (kept) bump(w.stats.final, "payments kept");
    else if (back > 0) bump(w.stats.final, "payments given back");
  }
  // D1, the read model, agrees with the objects.
  const ticketRows = await env.DB.prepare(
    `SELECT id, sold, held FROM tickets WHERE id IN (${w.tickets.map(() => "?").join(",")})`,
  )
    .bind(...w.tickets)
    .all<{ id: number; sold: number; held: number }>();
  for (const row of ticketRows.results) {
    const t = tickets.find((x) => x.ticket.id === row.id)!.ticket;
    if (row.sold !== t.sold || row.held !== t.held)
      w.violate({
        kind: "read-model",
        detail: `ticket ${row.id} in D1: ${row.sold}/${row.held}, object ${t.sold}/${t.held}`,
      });
  }
  const shown = orders.filter((t) => t.order.state !== "placing" && t.order.state !== "refused");
  for (let i = 0; i < shown.length; i += 50) {
    const part = shown.slice(i, i + 50);
    const rows = await env.DB.prepare(`SELECT id, status FROM orders WHERE id IN (${part.map(() => "?").join(",")})`)
      .bind(...part.map((t) => t.order.id))
      .all<{ id: string; status: string }>();
    const status = new Map(rows.results.map((r) => [r.id, r.status]));
    for (const t of part)
      if (status.get(t.order.id) !== statusOf(t.order))
        w.violate({
          kind: "read-model",
          detail: `order in D1: ${status.get(t.order.id)}, object ${statusOf(t.order)}`,
          order: t.order.id,
        });
  }
}

async function runWave(seed: number, index: number, first: number, count: number, stats: Stats) {
  const w = new Wave(seed, index, stats);
  faults.seed = mix(seed, index);
  await timed(stats, "setup", () => createTickets(w, Math.ceil(count / GROUP)));
  plan(w, first, count);
  await keyedIds(w);
  for (const b of w.baskets) if (b.id) w.orders.add(b.id);
  faults.on = true;
  const t0 = Date.now();

  // P0: every basket placed at once.
  await timed(stats, "P0", () =>
    phase(
      w,
      w.baskets.map((b) => () => place(w, b)),
      false,
    ),
  );
  for (const b of w.baskets) {
    if (b.id) {
      w.orders.add(b.id);
      w.ticketsOf.set(
        b.id,
        b.lines.map((l) => l.ticket_id),
      );
    }
    bump(stats.place, `${b.via} ${b.placed}`);
  }
  await timed(stats, "discover", () => discover(w));
  await timed(stats, "check answers", () => checkAnswers(w));

  // P1: what each buyer or the box office does next.
  clock.to(t0 + 2_000);
  await timed(stats, "P1", () =>
    phase(
      w,
      w.baskets.map((b) => async () => {
        if (!b.id) return;
        if (b.placed === "unknown" && b.via !== "bare")
          await place(w, b, 1); // a client that retries later
        else if (b.placed === "refused" && b.via !== "bare" && b.rng() < 0.5) {
          b.trace.push("(placed again)");
          await place(w, b, 1); // a new attempt under the same key
        }
        if (b.placed !== "held") return;
        switch (b.intent) {
          case "confirm":
          case "confirm-cancel":
            return confirm(w, b);
          case "owner-cancel":
            return cancel(w, b, "owner");
          case "admin-cancel":
            return cancel(w, b, "admin");
          case "pay":
            if (await checkout(w, b)) await deliverFive(w, b, "paid");
            return;
          case "pay-cancel":
            if (!(await checkout(w, b))) return;
            await deliverFive(w, b, "paid");
            // Half the time, the box office cancels it at once (before the order's alarm has run).
            if (b.rng() < 0.5) {
              b.late = true;
              await cancel(w, b, "admin");
            }
            return;
          case "pay-later":
          case "pay-late":
          case "session-expired":
          case "abandon":
          case "race-pay-cancel":
          case "cancel-pay":
            return checkout(w, b);
          case "race-confirm-cancel":
            return Promise.all([confirm(w, b), cancel(w, b, "owner")]);
          case "double-confirm":
            return Promise.all([confirm(w, b), confirm(w, b)]);
        }
      }),
      true,
    ),
  );
  await timed(stats, "discover", () => discover(w));
  await timed(stats, "settle 1", () => settle(w, Date.now() + 30_000, true));

  // P2: payments a little later, cancellations of confirmed and paid orders, reads.
  await timed(stats, "P2", () =>
    phase(
      w,
      w.baskets.map((b) => async () => {
        if (!b.id || b.placed !== "held") return;
        if (b.rng() < 0.1) record(w, b, "read", await http("GET", `/orders/${b.id}`, await asOwner(b.user)));
        switch (b.intent) {
          case "confirm-cancel":
            return cancel(w, b, "admin");
          case "pay-cancel":
            return b.late || cancel(w, b, "admin");
          case "pay-later":
            return b.session && deliverFive(w, b, "paid");
          case "session-expired":
            return b.session && deliverFive(w, b, "expired");
          case "race-pay-cancel":
            return b.session && Promise.all([deliverFive(w, b, "paid"), cancel(w, b, "owner")]);
          case "cancel-pay":
            await cancel(w, b, "owner");
            return b.session && deliverFive(w, b, "paid");
        }
      }),
      true,
    ),
  );
  // Past every deadline but those a checkout lengthened.
  await timed(stats, "settle 2", () => settle(w, Date.now() + 360_000, true));

  // P3: the box office confirms expired orders (their lines taken again if free), while buyers refused at first
  // try again (the same key: a new attempt) for the units that came back; a checkout asked again.
  await timed(stats, "P3", () =>
    phase(
      w,
      w.baskets.map((b) => async () => {
        if (b.id && b.placed === "refused" && b.via !== "bare" && !b.late && b.rng() < 0.5) {
          b.late = true; // held now, it is left to its deadline: its units come back before P4
          b.trace.push("(placed again, late)");
          return place(w, b, 1);
        }
        if (!b.id || b.placed !== "held" || b.late) return;
        if (b.intent === "expire-confirm") return confirm(w, b);
        if (b.intent === "abandon" && b.session && b.rng() < 0.5) return checkout(w, b);
      }),
      true,
    ),
  );
  // Past every Checkout Session's end.
  await timed(stats, "settle 3", () => settle(w, t0 + 2_000 + 33 * 60_000, true));

  // P4: payments that come after their order expired; confirms again; the box office cancels confirmed orders.
  await timed(stats, "P4", () =>
    phase(
      w,
      w.baskets.map((b) => async () => {
        if (!b.id || b.placed !== "held" || b.late) return;
        if (b.intent === "pay-late" && b.session) return deliverFive(w, b, "paid");
        // The box office tries again when its first confirm found a line's units taken (they may be free now).
        const refused = b.trace.some((t) => t.includes("confirm 409 hold_expired"));
        if (b.intent === "expire-confirm" && (refused || b.rng() < 0.4)) return confirm(w, b);
        if (b.intent === "confirm" && b.rng() < 0.15) return cancel(w, b, "admin");
      }),
      true,
    ),
  );
  // Settled: first with faults, then without, until every alarm is quiet.
  await timed(stats, "settle 4", () => settle(w, Date.now() + 5 * 60_000, true));
  faults.on = false;
  await timed(stats, "settle 5", () => settle(w, Date.now() + 10 * 60_000, false));
  await timed(stats, "check end", () => checkEnd(w));
  stats.waves++;
  stats.baskets += count;
  return w;
}

function report(w: Wave, failing: Violation[]) {
  const lines = [`seed ${w.seed}, wave ${w.index}: ${failing.length} violations`];
  for (const v of failing.slice(0, 12)) {
    lines.push(`- [${v.kind}${v.known ? ` (known: ${v.known})` : ""}] ${v.order ?? ""} ${v.detail}`);
    const b = v.order ? w.basketOf(v.order) : undefined;
    if (b)
      lines.push(
        `    basket ${b.n} via ${b.via}${b.key ? ` key ${b.key}` : ""}, user ${b.user}, intent ${b.intent}, ` +
          `lines ${JSON.stringify(b.lines)}`,
        ...b.trace.map((s) => `      ${s}`),
      );
  }
  lines.push(
    `replay: ORDERS_FUZZ_SEED=${w.seed} ORDERS_FUZZ_BASKETS=${PER_SEED} ORDERS_FUZZ_WAVE=${WAVE} ` +
      `ORDERS_FUZZ_ONLY_WAVE=${w.index} npx vitest run --project workers test/orders-fuzz.test.ts`,
  );
  return lines.join("\n");
}

it.each(SEEDS)(
  `seed %i: every order is decided alike on every line, under lost answers, evictions and D1 outages`,
  { timeout: 60 * 60_000 },
  async (seed) => {
    const started = performance.now();
    const stats = newStats();
    clock.start();
    const failures: string[] = [];
    const waves = Math.ceil(PER_SEED / WAVE);
    // The stand-in for Stripe takes sessions that end at most 24 hours ahead of its own (real) clock.
    expect(waves * WAVE_CLOCK_MS, `${waves} waves for one seed: use more seeds, or larger waves`).toBeLessThan(
      22 * 3_600_000,
    );
    for (let index = 0; index < waves; index++) {
      if (config.only !== undefined && index !== config.only) continue;
      const count = Math.min(WAVE, PER_SEED - index * WAVE);
      const w = await runWave(seed, index, index * WAVE, count, stats);
      const failing = w.violations.filter((v) => STRICT || !v.known || !TOLERATED.has(v.known));
      if (failing.length > 0) failures.push(report(w, failing));
    }
    vi.useRealTimers();
    stats.faults["answers lost before acting"] = faults.lostBefore;
    stats.faults["answers lost after acting"] = faults.lostAfter;
    stats.faults["line calls"] = faults.lineCalls;
    stats.faults["D1 windows"] = d1.windows;
    stats.faults["D1 calls failed"] = d1.failed;
    stats.ms["D1 calls"] = d1.calls;
    stats.ms["D1 ms"] = Math.round(d1.ms);
    const summary = {
      seed,
      seconds: Math.round((performance.now() - started) / 100) / 10,
      ...stats,
      logged: Object.fromEntries(logged),
    };
    // The figures, for `npm run orders:fuzz` and the curious.
    console.log(`ORDERS_FUZZ_SUMMARY ${JSON.stringify(summary)}`);
    faults.lineCalls = faults.lostBefore = faults.lostAfter = d1.windows = d1.failed = d1.calls = d1.ms = 0;
    logged.clear();
    expect(failures, failures.join("\n\n")).toEqual([]);
    expect(stats.baskets).toBe(config.only !== undefined ? Math.min(WAVE, PER_SEED - config.only * WAVE) : PER_SEED);
  },
);
