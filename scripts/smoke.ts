// End-to-end smoke over real HTTP: starts the API the way the README does
// (`npm run dev`), exercises every endpoint, runs a short rush, and stops
// the server by its process id. Exits non-zero on any failure.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminHeader, gateBearer, userBearer } from "./lib/dev-vars.ts";
import { type Client, client } from "./lib/load.ts";
import { rush } from "./lib/rush.ts";
import { seed } from "./lib/seed.ts";
import { freePort, startServer } from "./lib/server.ts";
import { type Delivered, startStripeFake } from "./lib/stripe-fake.ts";
import { startReceiver } from "./lib/webhook-receiver.ts";

const DEADLINE_MS = 4 * 60_000;
const failures: string[] = [];

function check(what: string, ok: boolean, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"}  ${what}${ok || !detail ? "" : `: ${detail}`}`);
  if (!ok) failures.push(what);
}

async function expectStatus(
  c: Client,
  what: string,
  method: string,
  path: string,
  status: number,
  body?: unknown,
  headers?: Record<string, string>,
) {
  const res = await c.send(method, path, body, headers);
  check(`${what} -> ${status}`, res.status === status, `${res.status} ${res.body.slice(0, 300)}`);
  return res.status === status && res.body ? JSON.parse(res.body) : undefined;
}

interface OrderLine {
  ticket_id: number;
  quantity: number;
  purchase_id: number;
  status: string;
  entries?: { id: number; code: string | null; status: string }[];
}
interface Order {
  id: string;
  user_id: number;
  status: string;
  total_price: number;
  lines: OrderLine[];
}

/**
 * Orders (baskets over several tickets): a three-line basket held all at once,
 * replayed with its key, paid through the Stripe stand-in, read back with its
 * entries; a basket that cannot be held whole (nothing held), one of two
 * currencies, one confirmed by the box office, one cancelled by its owner.
 */
async function orders(c: Client, stripeUrl: string, game: number, user: number, asUser: Record<string, string>) {
  const stand = async (name: string, price: number, stock: number, currency = "EUR") =>
    (await expectStatus(c, `POST /tickets (${name})`, "POST", "/tickets", 200, {
      game_id: game,
      name,
      price,
      stock,
      currency,
    })) as { id: number };
  const [a, b, d] = [await stand("Order A", 20, 6), await stand("Order B", 15, 5), await stand("Order C", 12.5, 4)];
  const counts = async (ids: number[]) =>
    Promise.all(
      ids.map(async (id) => {
        const t = await c.send("GET", `/tickets/${id}`);
        return t.status === 200 ? (JSON.parse(t.body) as { sold: number; held: number }) : { sold: -1, held: -1 };
      }),
    );
  const countsAre = async (what: string, ids: number[], want: [sold: number, held: number][]) => {
    const got = (await counts(ids)).map((t) => [t.sold, t.held]);
    check(what, JSON.stringify(got) === JSON.stringify(want), `[sold, held] ${JSON.stringify(got)}`);
  };
  const tickets = [a.id, b.id, d.id];
  const basket = {
    lines: [
      { ticket_id: a.id, quantity: 2 },
      { ticket_id: b.id, quantity: 1 },
      { ticket_id: d.id, quantity: 3 },
    ],
  };
  const keyed = (key: string) => ({ ...asUser, "Idempotency-Key": `smoke-${user}-${key}` });
  const place = await c.send("POST", "/orders", basket, keyed("order"));
  check("POST /orders (three lines) -> 201", place.status === 201, `${place.status} ${place.body.slice(0, 300)}`);
  const order = place.status === 201 ? (JSON.parse(place.body) as Order) : undefined;
  check("the order's Location", place.headers.location === `/orders/${order?.id}`, place.headers.location);
  check(
    "the order is held: every line, as asked, for its user",
    order?.status === "held" &&
      order.user_id === user &&
      order.total_price === 92.5 &&
      order.lines.length === 3 &&
      order.lines.every((l, i) => l.status === "held" && l.quantity === basket.lines[i]!.quantity && l.purchase_id > 0),
    place.body,
  );
  const replay = await c.send("POST", "/orders", basket, keyed("order"));
  const replayed = replay.status === 201 ? (JSON.parse(replay.body) as Order) : undefined;
  check(
    "POST /orders again with its Idempotency-Key answers the same order",
    replay.headers["idempotent-replayed"] === "true" &&
      replayed?.id === order?.id &&
      JSON.stringify(replayed?.lines.map((l) => l.purchase_id)) ===
        JSON.stringify(order?.lines.map((l) => l.purchase_id)),
    `${replay.status} ${replay.body.slice(0, 300)}`,
  );
  await countsAre("each ticket holds its line's units, nothing sold", tickets, [
    [0, 2],
    [0, 1],
    [0, 3],
  ]);

  // A basket one of whose lines cannot be held: refused whole, nothing held (its other line released).
  const refused = await expectStatus(
    c,
    "POST /orders with a line past the stock",
    "POST",
    "/orders",
    409,
    {
      lines: [
        { ticket_id: a.id, quantity: 1 },
        { ticket_id: d.id, quantity: 2 },
      ],
    },
    keyed("refused"),
  );
  check(
    "order_refused names the line and why",
    refused?.code === "order_refused" &&
      refused.lines?.length === 1 &&
      refused.lines[0].ticket_id === d.id &&
      refused.lines[0].code === "sold_out" &&
      refused.lines[0].available === 1,
    JSON.stringify(refused),
  );
  const usd = await stand("Order USD", 30, 5, "USD");
  const mixed = await expectStatus(
    c,
    "POST /orders over two currencies",
    "POST",
    "/orders",
    409,
    {
      lines: [
        { ticket_id: b.id, quantity: 1 },
        { ticket_id: usd.id, quantity: 1 },
      ],
    },
    keyed("currencies"),
  );
  check("currency_mismatch", mixed?.code === "currency_mismatch", JSON.stringify(mixed));
  await countsAre(
    "the refused baskets hold nothing",
    [...tickets, usd.id],
    [
      [0, 2],
      [0, 1],
      [0, 3],
      [0, 0],
    ],
  );
  const other = { Authorization: await userBearer(user + 1) };
  await expectStatus(c, "GET /orders/{id} as another user", "GET", `/orders/${order?.id}`, 403, undefined, other);
  await expectStatus(
    c,
    "POST /orders/{id}/confirm as its user",
    "POST",
    `/orders/${order?.id}/confirm`,
    403,
    {},
    asUser,
  );

  // Paid through the Stripe stand-in: one session for the order, one line item per line.
  const session = await expectStatus(
    c,
    "POST /orders/{id}/checkout",
    "POST",
    `/orders/${order?.id}/checkout`,
    200,
    { success_url: "https://club.example/paid", cancel_url: "https://club.example/cancelled" },
    asUser,
  );
  const pageText = await (await fetch(session?.checkout_url ?? stripeUrl)).text();
  check("the checkout page shows the order's total", pageText.includes("92.50 EUR"), pageText.slice(0, 400));
  const paid = (await (
    await fetch(`${stripeUrl}/__fake/sessions/${session?.session_id}/pay`, { method: "POST" })
  ).json()) as Delivered;
  check(
    "the paid session's event confirms the order",
    paid.webhook?.status === 200 && (paid.webhook.body as { result?: string }).result === "confirmed",
    JSON.stringify(paid),
  );
  const read = (await expectStatus(
    c,
    "GET /orders/{id} once paid",
    "GET",
    `/orders/${order?.id}`,
    200,
    undefined,
    asUser,
  )) as Order | undefined;
  const withCodes = (o?: Order) =>
    o?.status === "confirmed" &&
    o.lines.length === 3 &&
    o.lines.every(
      (l, i) =>
        l.status === "confirmed" &&
        l.quantity === basket.lines[i]!.quantity &&
        l.entries?.length === l.quantity &&
        l.entries.every((e) => typeof e.code === "string" && e.status === "valid"),
    );
  check("paid → confirmed, every line with an entry per unit, with codes", withCodes(read), JSON.stringify(read));
  await countsAre("each ticket sold its line's units, none held", tickets, [
    [2, 0],
    [1, 0],
    [3, 0],
  ]);

  // Confirmed by the box office; cancelled by its owner while held (its units back).
  const boxOffice = (await expectStatus(
    c,
    "POST /orders (two lines, for the box office)",
    "POST",
    "/orders",
    201,
    {
      lines: [
        { ticket_id: a.id, quantity: 1 },
        { ticket_id: b.id, quantity: 1 },
      ],
    },
    keyed("box-office"),
  )) as Order | undefined;
  const confirmed = await expectStatus(c, "POST /orders/{id}/confirm", "POST", `/orders/${boxOffice?.id}/confirm`, 200);
  check("held → confirmed by the box office", confirmed?.status === "confirmed", JSON.stringify(confirmed));
  const toCancel = (await expectStatus(
    c,
    "POST /orders (one line, to cancel)",
    "POST",
    "/orders",
    201,
    { lines: [{ ticket_id: a.id, quantity: 3 }] },
    keyed("cancel"),
  )) as Order | undefined;
  const cancelled = await expectStatus(
    c,
    "POST /orders/{id}/cancel as its owner",
    "POST",
    `/orders/${toCancel?.id}/cancel`,
    200,
    {},
    asUser,
  );
  check("held → cancelled by its owner", cancelled?.status === "cancelled", JSON.stringify(cancelled));
  await countsAre("sold and held per ticket: the paid and box-office orders sold, the cancelled one back", tickets, [
    [3, 0],
    [2, 0],
    [3, 0],
  ]);

  // The fan's orders from the read model (it trails the orders' objects by a D1 round trip), with entries.
  const want = new Map([
    [order?.id, "confirmed"],
    [boxOffice?.id, "confirmed"],
    [toCancel?.id, "cancelled"],
  ]);
  let listed: Order[] = [];
  for (const t0 = Date.now(); Date.now() - t0 < 10_000; await new Promise((r) => setTimeout(r, 250))) {
    const page = await c.send("GET", `/users/${user}/orders`, undefined, asUser);
    listed = page.status === 200 ? (JSON.parse(page.body) as { orders: Order[] }).orders : [];
    if (listed.length === want.size && listed.every((o) => want.get(o.id) === o.status)) break;
  }
  check(
    "GET /users/{id}/orders: the three orders placed, none refused, each in its status",
    listed.length === want.size && listed.every((o) => want.get(o.id) === o.status),
    JSON.stringify(listed.map((o) => [o.id, o.status])),
  );
  check(
    "GET /users/{id}/orders: the paid order's lines with their entries and codes",
    withCodes(listed.find((o) => o.id === order?.id)),
    JSON.stringify(listed.find((o) => o.id === order?.id)),
  );
}

// Its own local state, so a run neither sees nor leaves data in .wrangler/; its own Stripe stand-in.
const state = mkdtempSync(join(tmpdir(), "tickets-smoke-"));
const stripeVars = {
  STRIPE_API_BASE: `http://127.0.0.1:${await freePort()}`,
  STRIPE_SECRET_KEY: "sk_test_smoke",
  STRIPE_WEBHOOK_SECRET: "whsec_smoke",
};
const server = await startServer("npm", [
  "run",
  "dev",
  "--",
  "--persist-to",
  state,
  ...Object.entries(stripeVars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
]);
const stripe = await startStripeFake({
  port: Number(new URL(stripeVars.STRIPE_API_BASE).port),
  secretKey: stripeVars.STRIPE_SECRET_KEY,
  webhookSecret: stripeVars.STRIPE_WEBHOOK_SECRET,
  forwardTo: `${server.url}/payments/stripe/webhook`,
});
const watchdog = setTimeout(async () => {
  console.error(`smoke: over ${DEADLINE_MS} ms, stopping`);
  await server.stop();
  process.exit(1);
}, DEADLINE_MS);

try {
  const c = client(server.url, 64, { Authorization: adminHeader() });
  const game = 1 + Math.floor(Math.random() * 1e6);
  const user = 1 + Math.floor(Math.random() * 1e9);
  await expectStatus(c, "GET /health", "GET", "/health", 200);
  const ticket = await expectStatus(c, "POST /tickets", "POST", "/tickets", 200, {
    game_id: game,
    name: "Smoke Stand",
    price: 9.99,
    stock: 10,
  });
  await expectStatus(c, "POST /tickets invalid", "POST", "/tickets", 400, { game_id: 0 });
  await expectStatus(
    c,
    "POST /tickets with an empty Authorization",
    "POST",
    "/tickets",
    401,
    {},
    { Authorization: "" },
  );
  const asUser = { Authorization: await userBearer(user) };
  await expectStatus(
    c,
    "POST /tickets/buy for another user",
    "POST",
    "/tickets/buy",
    403,
    { user_id: user + 1, ticket_id: ticket?.id },
    asUser,
  );
  const keyedBuy = (what: string) =>
    expectStatus(
      c,
      what,
      "POST",
      "/tickets/buy",
      200,
      { user_id: user, ticket_id: ticket?.id, quantity: 2 },
      { ...asUser, "Idempotency-Key": `smoke-${user}` },
    );
  const purchase = await keyedBuy("POST /tickets/buy as the user");
  const again = await keyedBuy("POST /tickets/buy repeated with its Idempotency-Key");
  check(
    "the repeat returns the same purchase",
    purchase?.id !== undefined && again?.id === purchase.id,
    JSON.stringify(again),
  );
  check("purchase prices", purchase?.total_price === 19.98, JSON.stringify(purchase));
  await expectStatus(c, "POST /tickets/buy sold out", "POST", "/tickets/buy", 409, {
    user_id: user,
    ticket_id: ticket?.id,
    quantity: 9,
  });
  await expectStatus(c, "POST /tickets/buy unknown ticket", "POST", "/tickets/buy", 404, {
    user_id: user,
    ticket_id: 2 ** 40,
  });
  const mine = await expectStatus(c, "GET /tickets/user/{id}", "GET", `/tickets/user/${user}`, 200);
  check("user's purchases", purchase?.id !== undefined && mine?.[0]?.id === purchase.id, JSON.stringify(mine));
  const read = await expectStatus(c, "GET /tickets/{id}", "GET", `/tickets/${ticket?.id}`, 200);
  check("ticket availability", read?.available === 8, JSON.stringify(read));
  const byGame = await expectStatus(c, "GET /tickets/game/{id}", "GET", `/tickets/game/${game}`, 200);
  check("game's tickets", byGame?.length === 1 && byGame[0].id === ticket?.id, JSON.stringify(byGame));
  const page = await expectStatus(c, "GET /tickets", "GET", "/tickets?skip=0&limit=100", 200);
  check("debug listing", Array.isArray(page) && page.length >= 1);
  const patched = await expectStatus(c, "PATCH /tickets/{id}", "PATCH", `/tickets/${ticket?.id}`, 200, {
    price: 12.5,
    stock: 12,
  });
  check("the PATCH took effect", patched?.price === 12.5 && patched?.available === 10, JSON.stringify(patched));
  const later = await expectStatus(c, "POST /tickets/buy after the PATCH", "POST", "/tickets/buy", 200, {
    user_id: user,
    ticket_id: ticket?.id,
  });
  check("the next order pays the new price", later?.unit_price === 12.5, JSON.stringify(later));
  await expectStatus(c, "PATCH /tickets/{id} of game_id", "PATCH", `/tickets/${ticket?.id}`, 400, { game_id: 2 });
  await expectStatus(c, "PATCH /tickets/{id} stock below sold", "PATCH", `/tickets/${ticket?.id}`, 409, { stock: 1 });
  const rebuilt = await expectStatus(c, "POST /tickets/{id}/resync", "POST", `/tickets/${ticket?.id}/resync`, 200);
  check("resync re-projected every purchase", rebuilt?.purchases === 2, JSON.stringify(rebuilt));
  await expectStatus(c, "GET /tickets/0", "GET", "/tickets/0", 400);
  await expectStatus(c, "GET unknown route", "GET", "/nope", 404);

  // The purchase lifecycle: hold → confirm, hold → cancel; hold → expire is checked at the end (60 s).
  const life = await expectStatus(c, "POST /tickets (holds)", "POST", "/tickets", 200, {
    game_id: game,
    name: "Smoke Holds",
    price: 20,
    stock: 5,
    hold_seconds: 60,
  });
  const holdOf = (quantity: number) =>
    expectStatus(c, `POST /tickets/hold (${quantity})`, "POST", "/tickets/hold", 201, {
      user_id: user,
      ticket_id: life?.id,
      quantity,
    });
  const toConfirm = await holdOf(1);
  const confirmed = await expectStatus(
    c,
    "POST /purchases/{id}/confirm",
    "POST",
    `/purchases/${toConfirm?.id}/confirm`,
    200,
  );
  check("hold → confirmed", confirmed?.status === "confirmed", JSON.stringify(confirmed));
  const toCancel = await holdOf(1);
  const cancelled = await expectStatus(
    c,
    "POST /purchases/{id}/cancel as its owner",
    "POST",
    `/purchases/${toCancel?.id}/cancel`,
    200,
    undefined,
    asUser,
  );
  check("hold → cancelled", cancelled?.status === "cancelled", JSON.stringify(cancelled));
  const toExpire = await holdOf(3);
  const lifeTicket = await expectStatus(c, "GET /tickets/{id} with holds", "GET", `/tickets/${life?.id}`, 200);
  check(
    "held units are out of available",
    lifeTicket?.held === 3 && lifeTicket?.available === 1,
    JSON.stringify(lifeTicket),
  );

  // Paying through the Stripe stand-in: hold → checkout → the buyer pays → Stripe's signed event confirms.
  const toPay = await holdOf(1);
  const session = await expectStatus(
    c,
    "POST /purchases/{id}/checkout",
    "POST",
    `/purchases/${toPay?.id}/checkout`,
    200,
    { success_url: "https://club.example/paid", cancel_url: "https://club.example/cancelled" },
    asUser,
  );
  const checkoutPage = await fetch(session?.checkout_url ?? stripe.url);
  check("the checkout page shows the hold's price", (await checkoutPage.text()).includes("20.00 EUR"));
  const paid = (await (
    await fetch(`${stripe.url}/__fake/sessions/${session?.session_id}/pay`, { method: "POST" })
  ).json()) as Delivered;
  check(
    "the paid session's event confirms the purchase",
    paid.webhook?.status === 200 && (paid.webhook.body as { result?: string }).result === "confirmed",
    JSON.stringify(paid),
  );
  const settled = await expectStatus(c, "GET /purchases/{id} once paid", "GET", `/purchases/${toPay?.id}`, 200);
  check(
    "hold → paid → confirmed, with its entry",
    settled?.status === "confirmed" && settled?.entries?.length === 1,
    JSON.stringify(settled),
  );

  await orders(c, stripe.url, game, user, asUser);

  // The gate: a purchase's entries carry codes; one scan admits, the second is refused.
  const withEntries = await expectStatus(
    c,
    "GET /purchases/{id} with entries",
    "GET",
    `/purchases/${purchase?.id}`,
    200,
  );
  const code = withEntries?.entries?.[0]?.code;
  check(
    "a confirmed purchase has an entry per unit, with codes",
    withEntries?.entries?.length === 2 && typeof code === "string",
    JSON.stringify(withEntries),
  );
  const asGate = { Authorization: await gateBearer("smoke-gate", [game]) };
  const keys = await expectStatus(c, "GET /games/{id}/gate-keys", "GET", `/games/${game}/gate-keys`, 200);
  check("gate keys are published", keys?.keys?.length >= 1, JSON.stringify(keys));
  const first = await expectStatus(
    c,
    "POST /checkins",
    "POST",
    "/checkins",
    200,
    { code, nonce: `smoke-${user}-1` },
    asGate,
  );
  check("the first scan admits", first?.result === "admitted", JSON.stringify(first));
  const second = await expectStatus(
    c,
    "POST /checkins again",
    "POST",
    "/checkins",
    200,
    { code, nonce: `smoke-${user}-2` },
    asGate,
  );
  check("the second scan is refused", second?.reason === "already_checked_in", JSON.stringify(second));
  // Reserved seating: a seat map as CSV, two seats held together by best available, confirmed, each entry
  // carrying its seat, and the gate's answer showing it.
  const seatCsv = [
    "block,row,seat,category",
    ...["A", "B"].flatMap((row) => Array.from({ length: 6 }, (_, i) => `N1,${row},${i + 1},standard`)),
  ].join("\r\n");
  const mapRes = await fetch(`${server.url}/games/${game}/seatmap`, {
    method: "PUT",
    headers: { Authorization: adminHeader(), "Content-Type": "text/csv" },
    body: seatCsv,
  });
  const mapSummary = (await mapRes.json()) as { seats?: number };
  check(
    "PUT /games/{id}/seatmap (CSV) -> 200",
    mapRes.status === 200 && mapSummary.seats === 12,
    JSON.stringify(mapSummary),
  );
  const seated = await expectStatus(c, "POST /tickets (seated)", "POST", "/tickets", 200, {
    game_id: game,
    name: "Smoke North",
    type: "general",
    price: 30,
    seating: { categories: ["standard"] },
  });
  check("a seated ticket's stock is its seats", seated?.stock === 12, JSON.stringify(seated));
  const seatHold = await expectStatus(
    c,
    "POST /tickets/hold (best available, together)",
    "POST",
    "/tickets/hold",
    201,
    {
      user_id: user,
      ticket_id: seated?.id,
      quantity: 2,
      best_available: { together: true },
    },
  );
  check(
    "two seats side by side in the front row",
    seatHold?.seats?.length === 2 && seatHold.seats.every((id: string) => id.startsWith("N1-A-")),
    JSON.stringify(seatHold),
  );
  await expectStatus(c, "POST /purchases/{id}/confirm (seats)", "POST", `/purchases/${seatHold?.id}/confirm`, 200);
  const seatedRead = await expectStatus(c, "GET /purchases/{id} (seats)", "GET", `/purchases/${seatHold?.id}`, 200);
  const seatEntries = (seatedRead?.entries ?? []) as {
    code: string;
    seat?: { block: string; row: string; seat: string };
  }[];
  check(
    "an entry per seat, each with its seat",
    seatEntries.length === 2 && seatEntries.every((e) => e.seat?.block === "N1" && e.seat.row === "A"),
    JSON.stringify(seatEntries),
  );
  const seatScan = await expectStatus(
    c,
    "POST /checkins (seat)",
    "POST",
    "/checkins",
    200,
    {
      code: seatEntries[0]?.code,
      nonce: `smoke-${user}-seat`,
    },
    asGate,
  );
  check(
    "the scan answer shows the seat and the ticket",
    seatScan?.result === "admitted" &&
      seatScan?.entry?.seat?.seat === seatEntries[0]?.seat?.seat &&
      seatScan?.ticket?.name === "Smoke North",
    JSON.stringify(seatScan),
  );
  const free = await expectStatus(c, "GET /games/{id}/seats", "GET", `/games/${game}/seats?block=N1`, 200);
  check("availability answers per row", Array.isArray(free?.blocks?.[0]?.rows), JSON.stringify(free));
  await expectStatus(
    c,
    "POST /tickets/buy with a gate token",
    "POST",
    "/tickets/buy",
    403,
    { user_id: user, ticket_id: ticket?.id },
    asGate,
  );

  const ticketCount = async () =>
    ((await expectStatus(c, "GET /tickets", "GET", "/tickets?limit=100", 200)) ?? []).length;
  const seeded = await seed(c);
  const afterFirst = await ticketCount();
  const reseeded = await seed(c);
  check(
    "npm run seed is idempotent",
    JSON.stringify(reseeded) === JSON.stringify(seeded) && (await ticketCount()) === afterFirst,
    JSON.stringify({ seeded, reseeded }),
  );

  // Webhooks: a local endpoint hears of the rush's purchases, through the queue, signed.
  const receiver = await startReceiver();
  const hook = await expectStatus(c, "POST /webhooks", "POST", "/webhooks", 201, {
    url: receiver.url,
    event_types: ["purchase.confirmed"],
  });
  receiver.useSecret(hook?.secret ?? "");

  const result = await rush(c, { stock: 50, buyers: 1000, concurrency: 64 });
  const { all, oversold, consistent, problems } = result;
  console.log(
    `rush: ${all.requests} requests, ${all.rps} req/s, p99 ${all.p99} ms, statuses ${JSON.stringify(all.statuses)}`,
  );
  check("rush: no oversell", oversold === 0, `oversold by ${oversold}`);
  check("rush: consistent, only 200 and 409", consistent, problems.join("; "));

  const rushEvents = () => receiver.received.filter((e) => e.data.ticket_id === result.ticketId);
  for (let waited = 0; rushEvents().length < result.purchaseIds.length && waited < 30_000; waited += 250) {
    await new Promise((r) => setTimeout(r, 250));
  }
  await new Promise((r) => setTimeout(r, 2_500)); // and no more come
  // Delivery is at least once: a receiver counts events by their id.
  const events = [...new Map(rushEvents().map((e) => [e.id, e])).values()];
  const ids = events.map((e) => e.data.id as number).sort((a, b) => a - b);
  const told = [...result.purchaseIds].sort((a, b) => a - b);
  check(
    "webhooks: exactly one purchase.confirmed per purchase of the rush, none for refused orders",
    JSON.stringify(ids) === JSON.stringify(told) && events.every((e) => e.type === "purchase.confirmed"),
    `${events.length} events for ${told.length} purchases`,
  );
  check("webhooks: every signature verifies", events.length > 0 && events.every((e) => e.verified));
  await receiver.close();

  // The hold made above ends at its expires_at, by the object's alarm: the read
  // model shows it with nobody asking the object (then the object is asked).
  await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(toExpire?.expires_at) + 1_500 - Date.now())));
  const after = await expectStatus(c, "GET /tickets/{id} after expiry", "GET", `/tickets/${life?.id}`, 200);
  check("the expired hold's units are back", after?.held === 0 && after?.available === 3, JSON.stringify(after));
  const expired = await expectStatus(c, "GET /purchases/{id} after expiry", "GET", `/purchases/${toExpire?.id}`, 200);
  check("hold → expired on time", expired?.status === "expired", JSON.stringify(expired));
  c.close();
} catch (err) {
  check("smoke ran to the end", false, String(err));
} finally {
  clearTimeout(watchdog);
  await server.stop();
  await stripe.close();
  rmSync(state, { recursive: true, force: true });
}

if (failures.length) {
  console.error(`smoke: ${failures.length} failed`);
  process.exit(1);
}
console.log("smoke: all passed");
