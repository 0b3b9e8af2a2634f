import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, expect, it, vi } from "vitest";
import * as orders from "../src/order/store";
import type { LineDecision } from "../src/ticket/lines";
import * as store from "../src/ticket/store";
import { TicketSeller } from "../src/ticket/ticket-seller";
import { asAdmin, asUser, BASE, createTicket, postJson, sellerOf } from "./helpers";
import { deliverSigned, stripeRequests, URLS } from "./stripe-helpers";

// An order's decisions reach every line, whatever is lost on the way: found
// by the seeded order fuzz (test/orders-fuzz.test.ts), each kept here as the
// smallest case that broke.

afterEach(() => vi.useRealTimers());

const orderOf = (id: string) => env.ORDERS.getByName(id);
// Straight to the worker, to see its 503s.
const confirm = (id: string) =>
  exports.default.fetch(new Request(`${BASE}/orders/${id}/confirm`, { method: "POST", headers: asAdmin }));
const inOrder = (id: string) =>
  runInDurableObject(orderOf(id), async (_, state) => {
    const db = orders.openOrderStore(state.storage);
    return { order: orders.readOrder(db)!, alarm: await state.storage.getAlarm() };
  });

// A line given back after a first confirm took it again keeps its cancelled entries; taken again, it gets new ones.

it("confirms an expired order again once its units are free, after a first confirm found them taken", async () => {
  const a = await createTicket({ stock: 5 });
  const b = await createTicket({ stock: 2 });
  const placed = await postJson("/orders", {
    user_id: 51,
    lines: [
      { ticket_id: a.id, quantity: 1 },
      { ticket_id: b.id, quantity: 2 },
    ],
  });
  expect(placed.status).toBe(201);
  const order = (await placed.json()) as { id: string; expires_at: string };

  // It expires; someone else buys one of b's units; the box office's confirm cannot take b's line again.
  vi.useFakeTimers({ toFake: ["Date"], now: Date.parse(order.expires_at) + 1_000 });
  await runDurableObjectAlarm(orderOf(order.id));
  const other = await postJson("/tickets/buy", { user_id: 52, ticket_id: b.id, quantity: 1 });
  expect(other.status).toBe(200);
  const first = await confirm(order.id);
  expect([first.status, ((await first.json()) as { code: string }).code]).toEqual([409, "hold_expired"]);

  // The other buyer's unit goes back: every line of the order can be taken again.
  const { id: otherId } = (await other.json()) as { id: number };
  expect((await postJson(`/purchases/${otherId}/cancel`, {})).status).toBe(200);
  const second = await confirm(order.id);
  const state = await runInDurableObject(
    orderOf(order.id),
    (_, s) => orders.readOrder(orders.openOrderStore(s.storage))!.state,
  );
  const inB = await runInDurableObject(sellerOf(b.id), (_, s) => store.readTicket(store.openStore(s.storage))!);
  expect({ status: second.status, state, soldInB: inB.sold }).toEqual({ status: 200, state: "confirmed", soldInB: 2 });
});

// A confirmation carried on by the alarm is retried until decided, even when the alarm's own try loses an answer.

it("carries a confirmation on until it is decided, whichever of its tries lose a line's answer", async () => {
  const a = await createTicket({ stock: 5 });
  const b = await createTicket({ stock: 5 });
  const placed = await postJson("/orders", {
    user_id: 31,
    lines: [
      { ticket_id: a.id, quantity: 1 },
      { ticket_id: b.id, quantity: 1 },
    ],
  });
  expect(placed.status).toBe(201);
  const { id } = (await placed.json()) as { id: string };

  // Ticket b's answers to `confirmed` are lost twice (it acts on neither); the third one arrives.
  let lost = 2;
  const settleLine = TicketSeller.prototype.settleLine;
  TicketSeller.prototype.settleLine = async function (
    this: TicketSeller,
    ticketId: number,
    key: string,
    d: LineDecision,
  ) {
    if (ticketId === b.id && d.to === "confirmed" && lost > 0) {
      lost--;
      throw new Error("injected: the ticket's answer was lost");
    }
    return settleLine.call(this, ticketId, key, d);
  };
  try {
    const first = await confirm(id);
    expect([first.status, ((await first.json()) as { code: string }).code]).toEqual([503, "outcome_unknown"]);
    expect((await inOrder(id)).order.state).toBe("confirming");
    expect(await runDurableObjectAlarm(orderOf(id))).toBe(true); // its retry: lost again, then delivered
  } finally {
    TicketSeller.prototype.settleLine = settleLine;
  }
  expect(lost).toBe(0);
  for (let i = 0; i < 10 && (await runDurableObjectAlarm(orderOf(id))); i++);

  const now = await inOrder(id);
  expect({ state: now.order.state, alarm: now.alarm !== null }).toEqual({ state: "confirmed", alarm: false });
  expect((await confirm(id)).status).toBe(200);
});

// A line not yet told of the order's payment when the box office cancels is told with the cancel, and refunds.

it("refunds every line of a paid order the box office cancels, told of its payment or not", async () => {
  const a = await createTicket({ stock: 5, price: 30 });
  const b = await createTicket({ stock: 5, price: 20 });
  const user = await asUser(41);
  const placed = await postJson(
    "/orders",
    {
      lines: [
        { ticket_id: a.id, quantity: 1 },
        { ticket_id: b.id, quantity: 2 },
      ],
    },
    user,
  );
  expect(placed.status).toBe(201);
  const { id } = (await placed.json()) as { id: string };
  const co = await postJson(`/orders/${id}/checkout`, URLS, user);
  expect(co.status).toBe(200);
  const { session_id } = (await co.json()) as { session_id: string };
  const paid = JSON.stringify({
    id: `evt_${id}_paid`,
    object: "event",
    type: "checkout.session.completed",
    data: {
      object: {
        object: "checkout.session",
        id: session_id,
        client_reference_id: id,
        metadata: { order_id: id },
        payment_status: "paid",
        payment_intent: `pi_${id}`,
        amount_total: 7000,
        currency: "eur",
      },
    },
  });

  // Ticket b's answer to `confirmed` with the payment is lost once, before it acts.
  let lost = 1;
  const settleLine = TicketSeller.prototype.settleLine;
  TicketSeller.prototype.settleLine = async function (
    this: TicketSeller,
    ticketId: number,
    key: string,
    d: LineDecision,
  ) {
    if (ticketId === b.id && d.to === "confirmed" && d.paid && lost > 0) {
      lost--;
      throw new Error("injected: the ticket's answer was lost");
    }
    return settleLine.call(this, ticketId, key, d);
  };
  try {
    expect(await (await deliverSigned(paid)).json()).toEqual({ received: true, result: "confirmed" });
  } finally {
    TicketSeller.prototype.settleLine = settleLine;
  }
  expect(lost).toBe(0);
  // The box office cancels it before the order's alarm has told ticket b again.
  expect((await postJson(`/orders/${id}/cancel`, {})).status).toBe(200);
  for (let round = 0; round < 3; round++) {
    for (const t of [a, b]) await runDurableObjectAlarm(sellerOf(t.id));
    await runDurableObjectAlarm(orderOf(id));
  }

  const refunded = (await stripeRequests("/v1/refunds"))
    .filter((r) => r.form.payment_intent === `pi_${id}`)
    .reduce((n, r) => n + Number(r.form.amount), 0);
  const state = await runInDurableObject(
    orderOf(id),
    (_, s) => orders.readOrder(orders.openOrderStore(s.storage))!.state,
  );
  expect({ refunded, state }).toEqual({ refunded: 7000, state: "refunded" });
});
