import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as store from "../src/ticket/store";
import { api, asAdmin, asUser, createTicket, freshGameId, postJson, sellerOf } from "./helpers";
import { deliverSigned, failStripe, stripeRequests, URLS } from "./stripe-helpers";

// An order is paid once, through one Checkout Session; the box office gives
// its units back with refunds; a payment that comes too late confirms it only
// if every line can be taken again, and is refunded whole otherwise.

afterEach(() => vi.useRealTimers());

interface Order {
  id: string;
  status: string;
  total_price: number;
  refunded_price: number;
  expires_at: string | null;
  lines: { ticket_id: number; purchase_id: number; status: string; entries?: { id: number }[] }[];
}

const inTicket = (ticketId: number) =>
  runInDurableObject(sellerOf(ticketId), (_, state) => store.readTicket(store.openStore(state.storage))!);
const read = async (id: string) => (await (await api(`/orders/${id}`, { headers: asAdmin })).json()) as Order;
let events = 0;
const sessionEvent = (type: string, order: string, session: string, intent = `pi_${order}`) =>
  JSON.stringify({
    id: `evt_order_${Date.now()}_${++events}`,
    object: "event",
    type,
    data: {
      object: {
        object: "checkout.session",
        id: session,
        client_reference_id: order,
        metadata: { order_id: order },
        payment_status: "paid",
        payment_intent: intent,
      },
    },
  });

/** A held order of two tickets (2 x 35.50 + 1 x 20), and its Checkout Session. */
async function heldOrder(user: number, stocks = [10, 10]) {
  const game = freshGameId();
  const a = await createTicket({ game_id: game, stock: stocks[0], price: 35.5, hold_seconds: 60 });
  const b = await createTicket({ game_id: game, stock: stocks[1], price: 20, hold_seconds: 60 });
  const placed = await postJson(
    "/orders",
    {
      lines: [
        { ticket_id: a.id, quantity: 2 },
        { ticket_id: b.id, quantity: 1 },
      ],
    },
    await asUser(user),
  );
  expect(placed.status).toBe(201);
  const order = (await placed.json()) as Order;
  const co = await postJson(`/orders/${order.id}/checkout`, URLS, await asUser(user));
  expect(co.status).toBe(200);
  const session = ((await co.json()) as { session_id: string; expires_at: string }).session_id;
  return { a, b, order, session };
}

async function settle(order: string, tickets: number[]) {
  vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 2_000 }); // the refunds' retries are due
  for (let i = 0; i < 4; i++) {
    for (const t of tickets) await runDurableObjectAlarm(sellerOf(t));
    await runDurableObjectAlarm(env.ORDERS.getByName(order));
  }
}

describe("an order's payment", () => {
  it("confirms every line once paid, and holds every line as long as its session", async () => {
    const { a, b, order, session } = await heldOrder(401);
    const line = (await (await api(`/purchases/${order.lines[0]!.purchase_id}`, { headers: asAdmin })).json()) as {
      expires_at: string;
    };
    expect(Date.parse(line.expires_at) - Date.now()).toBeGreaterThan(30 * 60_000); // lengthened with the session
    const paid = sessionEvent("checkout.session.completed", order.id, session);
    for (let i = 0; i < 5; i++) {
      const res = await deliverSigned(paid);
      expect(await res.json()).toEqual({ received: true, result: i === 0 ? "confirmed" : "ignored" });
    }
    expect(await read(order.id)).toMatchObject({ status: "confirmed", refunded_price: 0 });
    expect(await inTicket(a.id)).toMatchObject({ sold: 2, held: 0 });
    expect(await inTicket(b.id)).toMatchObject({ sold: 1, held: 0 });
    const sessions = (await stripeRequests("/v1/checkout/sessions")).filter(
      (r) => r.form.client_reference_id === order.id,
    );
    expect(sessions).toHaveLength(1);
  });

  it("cancels the order when its session expires at Stripe", async () => {
    const { a, order, session } = await heldOrder(402);
    const res = await deliverSigned(sessionEvent("checkout.session.expired", order.id, session));
    expect(await res.json()).toEqual({ received: true, result: "cancelled" });
    expect((await read(order.id)).status).toBe("cancelled");
    expect(await inTicket(a.id)).toMatchObject({ held: 0, sold: 0 });
  });

  it("after the order expired: confirms it if every line can be taken again, else refunds the payment whole", async () => {
    const free = await heldOrder(403);
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse((await read(free.order.id)).expires_at!) + 120_000 });
    await runDurableObjectAlarm(env.ORDERS.getByName(free.order.id));
    expect((await read(free.order.id)).status).toBe("expired");
    const late = await deliverSigned(sessionEvent("checkout.session.completed", free.order.id, free.session));
    expect(await late.json()).toEqual({ received: true, result: "confirmed" });
    expect(await inTicket(free.a.id)).toMatchObject({ sold: 2, held: 0 });
    vi.useRealTimers();

    const gone = await heldOrder(404, [2, 10]);
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse((await read(gone.order.id)).expires_at!) + 120_000 });
    await runDurableObjectAlarm(env.ORDERS.getByName(gone.order.id));
    // Someone else takes the first ticket's units meanwhile.
    expect((await postJson("/tickets/buy", { user_id: 9, ticket_id: gone.a.id, quantity: 2 })).status).toBe(200);
    const intent = `pi_late_${gone.order.id}`;
    const res = await deliverSigned(sessionEvent("checkout.session.completed", gone.order.id, gone.session, intent));
    expect(await res.json()).toEqual({ received: true, result: "refunded" });
    expect((await read(gone.order.id)).status).toBe("refunded");
    // Nothing taken: the second ticket's units went back as they were, and the payment is given back whole.
    expect(await inTicket(gone.b.id)).toMatchObject({ sold: 0, held: 0 });
    expect(await inTicket(gone.a.id)).toMatchObject({ sold: 2, held: 0 });
    await settle(gone.order.id, [gone.a.id, gone.b.id]);
    const refunds = (await stripeRequests("/v1/refunds")).filter((r) => r.form.payment_intent === intent);
    expect(refunds.map((r) => r.form.amount)).toEqual(["9100"]);
    expect((await read(gone.order.id)).refunded_price).toBe(91);
  });
});

describe("refunds of an order by the box office", () => {
  async function paidOrder(user: number) {
    const h = await heldOrder(user);
    const intent = `pi_box_${h.order.id}`;
    const res = await deliverSigned(sessionEvent("checkout.session.completed", h.order.id, h.session, intent));
    expect(await res.json()).toEqual({ received: true, result: "confirmed" });
    return { ...h, intent };
  }

  it("refunds a cancelled paid order in full, each line's units by its ticket, retried; it ends refunded", async () => {
    const { a, b, order, intent } = await paidOrder(405);
    await failStripe("/v1/refunds"); // the first refund try is refused
    const res = await postJson(`/orders/${order.id}/cancel`, {});
    expect(((await res.json()) as Order).status).toBe("cancelled");
    expect(await inTicket(a.id)).toMatchObject({ sold: 0 });
    await settle(order.id, [a.id, b.id]);
    const made = (await stripeRequests("/v1/refunds")).filter((r) => r.form.payment_intent === intent);
    expect(made.map((r) => r.form.amount).sort()).toEqual(["2000", "7100", "7100"].sort());
    expect(await read(order.id)).toMatchObject({ status: "refunded", refunded_price: 91 });
  });

  it("refunds one unit's price when the box office cancels one entry of a paid line", async () => {
    const { a, order, intent } = await paidOrder(406);
    const entries = (await read(order.id)).lines[0]!.entries!;
    expect((await postJson(`/entries/${entries[0]!.id}/cancel`, {})).status).toBe(200);
    await scheduler.wait(50);
    expect(
      (await stripeRequests("/v1/refunds")).filter((r) => r.form.payment_intent === intent).map((r) => r.form.amount),
    ).toEqual(["3550"]);
    expect(await read(order.id)).toMatchObject({ status: "confirmed", refunded_price: 35.5 });
    expect(await inTicket(a.id)).toMatchObject({ sold: 1 });
  });

  it("decides a cancel racing a payment once: every line follows, and money and units add up", async () => {
    const { a, b, order, session } = await heldOrder(407);
    const [cancel, paid] = await Promise.all([
      postJson(`/orders/${order.id}/cancel`, {}, await asUser(407)),
      deliverSigned(sessionEvent("checkout.session.completed", order.id, session)),
    ]);
    expect(cancel.status).toBe(200);
    expect(paid.status).toBe(200);
    const now = await read(order.id);
    // Cancelled first and paid after (the units free): confirmed; paid first: the owner's cancel found it confirmed.
    const sold = now.status === "confirmed" ? [2, 1] : [0, 0];
    expect(await inTicket(a.id)).toMatchObject({ sold: sold[0], held: 0 });
    expect(await inTicket(b.id)).toMatchObject({ sold: sold[1], held: 0 });
    expect(now.lines.every((l) => l.status === (now.status === "confirmed" ? "confirmed" : "cancelled"))).toBe(true);
  });
});
