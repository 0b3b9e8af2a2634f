import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as store from "../src/ticket/store";
import { api, asAdmin, asUser, createTicket, expectProblem, postJson, sellerOf } from "./helpers";
import {
  deliverSigned,
  event,
  failStripe,
  held,
  type Purchase,
  purchase,
  stripeRequests,
  ticketNow,
  URLS,
} from "./stripe-helpers";

// Money given back: a refund is decided and recorded in the transaction of
// the change that gives it back, before Stripe is asked, made by the ticket's
// object until Stripe has made it, and never taken back.

afterEach(() => vi.useRealTimers());
const clockAt = (when: number) => vi.useFakeTimers({ toFake: ["Date"], now: when });
const later = (ms: number) => vi.setSystemTime(Date.now() + ms);

const inObject = (ticketId: number, purchaseId: number) =>
  runInDurableObject(sellerOf(ticketId), (_, state) => {
    const db = store.openStore(state.storage);
    return { purchase: store.findPurchase(db, purchaseId)!, refunds: store.refundsOf(db, purchaseId) };
  });
const refundsOf = async (intent: string) =>
  (await stripeRequests("/v1/refunds")).filter((r) => r.form.payment_intent === intent);
const paid = (session: { session_id: string }, hold: { id: number }, ticket: { id: number }, intent: string) =>
  event("checkout.session.completed", { id: session.session_id, purchaseId: hold.id, ticketId: ticket.id, intent });

type Detailed = Purchase & {
  refunded_price: number;
  entries: unknown[];
  refunds: { amount: number; reason: string; status: string }[];
};
const detailed = async (id: number) => (await (await api(`/purchases/${id}`, { headers: asAdmin })).json()) as Detailed;

/** A purchase paid through Stripe: a hold of `quantity`, its session, and the payment event. */
async function paidPurchase(quantity: number, intent: string) {
  const { ticket, hold, session } = await held(10, quantity);
  const res = await deliverSigned(paid(session, hold, ticket, intent));
  expect(await res.json()).toEqual({ received: true, result: "confirmed" });
  return { ticket, hold };
}

describe("a refund decided for a late payment", () => {
  it("stays the decision when Stripe's answer is lost and a unit frees up before the redelivery: never a free ticket", async () => {
    const { ticket, hold, session } = await held(1, 1);
    clockAt(Date.parse(session.expires_at) + 1_000); // the hold ended...
    const other = (await (await postJson("/tickets/hold", { user_id: 55, ticket_id: ticket.id })).json()) as Purchase;
    expect(other.status).toBe("held"); // ...and someone else took the unit
    const intent = `pi_p5_${hold.id}`;
    const payload = paid(session, hold, ticket, intent);
    await failStripe("/v1/refunds", 1, "lost"); // Stripe makes the refund; its answer breaks off
    expect(await (await deliverSigned(payload)).json()).toEqual({ received: true, result: "refunded" });
    expect(await refundsOf(intent)).toHaveLength(1);
    // The unit frees up before Stripe delivers the event again.
    expect((await postJson(`/purchases/${other.id}/cancel`, {}, await asUser(55))).status).toBe(200);
    expect(await (await deliverSigned(payload)).json()).toEqual({ received: true, result: "ignored" });
    // Nor does the box office confirm it: its payment is being given back.
    await expectProblem(await postJson(`/purchases/${hold.id}/confirm`, {}, asAdmin), 409, "payment_refunded");
    expect(await ticketNow(ticket.id)).toMatchObject({ sold: 0, held: 0, available: 1 });
    // The object's retry finds the refund Stripe made (by its name) and asks for nothing more.
    later(2_000);
    await runDurableObjectAlarm(sellerOf(ticket.id));
    expect(await refundsOf(intent)).toHaveLength(1);
    const { purchase: p, refunds } = await inObject(ticket.id, hold.id);
    expect(p).toMatchObject({ status: "refunded", refunded_minor: 3550, refund_id: expect.stringMatching(/^re_/) });
    expect(refunds).toMatchObject([{ reason: "late_payment", status: "succeeded", amount_minor: 3550 }]);
    expect((await detailed(hold.id)).entries).toEqual([]);
  });

  it("is refunded, not confirmed, when the ticket's currency changed while nothing was sold or held", async () => {
    const { ticket, hold, session } = await held(5, 1); // EUR 35.50
    clockAt(Date.parse(session.expires_at) + 1_000);
    const patch = await api(`/tickets/${ticket.id}`, {
      method: "PATCH",
      headers: { ...asAdmin, "Content-Type": "application/json" },
      body: JSON.stringify({ currency: "USD", price: 50 }),
    });
    expect(patch.status).toBe(200); // allowed: sold + held = 0
    const intent = `pi_c1_${hold.id}`;
    expect(await (await deliverSigned(paid(session, hold, ticket, intent))).json()).toEqual({
      received: true,
      result: "refunded",
    });
    expect(await ticketNow(ticket.id)).toMatchObject({ sold: 0, currency: "USD" });
    expect(await refundsOf(intent)).toMatchObject([{ form: { amount: "3550" } }]);
    expect(await purchase(hold.id)).toMatchObject({ status: "refunded" });
  });
});

describe("refunds by the box office", () => {
  it("refunds in full what it takes back of a paid purchase, retrying a refused refund from the alarm; ends refunded", async () => {
    const intent = `pi_box_${Date.now()}`;
    const { ticket, hold } = await paidPurchase(2, intent);
    await failStripe("/v1/refunds"); // Stripe refuses the first try
    const cancelled = await postJson(`/purchases/${hold.id}/cancel`, {}, asAdmin);
    expect(await cancelled.json()).toMatchObject({ status: "cancelled" });
    expect(await ticketNow(ticket.id)).toMatchObject({ sold: 0, available: 10 });
    await scheduler.wait(50);
    expect((await detailed(hold.id)).refunds).toMatchObject([{ amount: 71, reason: "cancelled", status: "pending" }]);
    later(2_000);
    await runDurableObjectAlarm(sellerOf(ticket.id));
    const asked = await refundsOf(intent);
    expect(asked.map((r) => r.form.amount)).toEqual(["7100", "7100"]);
    expect(asked[1]!.idempotencyKey).not.toBe(asked[0]!.idempotencyKey); // Stripe refused: nothing was made
    expect(await detailed(hold.id)).toMatchObject({
      status: "refunded",
      refunded_price: 71,
      refunds: [{ amount: 71, status: "succeeded" }],
    });
    // Cancelling again (a retry after a lost answer) answers the purchase and refunds nothing more.
    expect(await (await postJson(`/purchases/${hold.id}/cancel`, {}, asAdmin)).json()).toMatchObject({
      status: "refunded",
    });
    later(2_000);
    await runDurableObjectAlarm(sellerOf(ticket.id));
    expect(await refundsOf(intent)).toHaveLength(2);
  });

  it("is the only way back for confirmed units: its owner may not cancel them, not even one entry at a time", async () => {
    const intent = `pi_p3_${Date.now()}`;
    const { hold } = await paidPurchase(2, intent);
    const fan = await asUser(7);
    await expectProblem(await postJson(`/purchases/${hold.id}/cancel`, {}, fan), 403, "forbidden");
    for (const n of [1, 2]) {
      await expectProblem(await postJson(`/entries/${hold.id * 1000 + n}/cancel`, {}, fan), 403, "forbidden");
    }
    expect((await detailed(hold.id)).status).toBe("confirmed");
    expect(await refundsOf(intent)).toHaveLength(0);
  });

  it("refunds the price of each entry it cancels (a partial refund); the purchase ends refunded with its last", async () => {
    const intent = `pi_entry_${Date.now()}`;
    const { ticket, hold } = await paidPurchase(2, intent);
    const first = await postJson(`/entries/${hold.id * 1000 + 1}/cancel`, {}, asAdmin);
    expect(await first.json()).toMatchObject({ status: "cancelled" });
    await scheduler.wait(50);
    expect(await detailed(hold.id)).toMatchObject({ status: "confirmed", refunded_price: 35.5 });
    expect((await refundsOf(intent)).map((r) => r.form.amount)).toEqual(["3550"]);
    // Cancelling it again (a retry after a lost answer) answers the cancelled entry and refunds nothing more.
    const again = await postJson(`/entries/${hold.id * 1000 + 1}/cancel`, {}, asAdmin);
    expect(await again.json()).toMatchObject({ id: hold.id * 1000 + 1, status: "cancelled" });
    expect((await postJson(`/entries/${hold.id * 1000 + 2}/cancel`, {}, asAdmin)).status).toBe(200);
    await scheduler.wait(50);
    expect(await detailed(hold.id)).toMatchObject({ status: "refunded", refunded_price: 71 });
    expect((await refundsOf(intent)).map((r) => r.form.amount)).toEqual(["3550", "3550"]);
    expect(await ticketNow(ticket.id)).toMatchObject({ sold: 0 });
  });

  it("refunds nothing for a purchase not paid through Stripe", async () => {
    const ticket = await createTicket({ stock: 5 });
    const p = (await (await postJson("/tickets/buy", { user_id: 3, ticket_id: ticket.id })).json()) as Purchase;
    expect(await (await postJson(`/purchases/${p.id}/cancel`, {}, asAdmin)).json()).toMatchObject({
      status: "cancelled",
    });
    expect(await detailed(p.id)).toMatchObject({ refunded_price: 0, refunds: [] });
  });
});

describe("checkout attempts Stripe refuses", () => {
  it("leave the hold ending when it did: a refused attempt never lengthens it", async () => {
    const ticket = await createTicket({ stock: 1, hold_seconds: 60 });
    const t0 = Date.now();
    const hold = (await (await postJson("/tickets/hold", { user_id: 7, ticket_id: ticket.id })).json()) as Purchase;
    for (const at of [0, 29, 58]) {
      clockAt(t0 + at * 1_000);
      await failStripe("/v1/checkout/sessions", 1, "error");
      expect((await postJson(`/purchases/${hold.id}/checkout`, URLS, await asUser(7))).status).toBe(502);
      expect((await inObject(ticket.id, hold.id)).purchase.expires_at).toBe(hold.expires_at);
    }
    clockAt(t0 + 2 * 60_000);
    expect((await purchase(hold.id)).status).toBe("expired");
    expect(await ticketNow(ticket.id)).toMatchObject({ held: 0, available: 1 });
  });

  it("are not made for prices Stripe cannot charge: 409 not_chargeable, and the hold is untouched", async () => {
    const cheap = await createTicket({ stock: 5, price: 0.2, currency: "GBP" });
    const hold = (await (await postJson("/tickets/hold", { user_id: 7, ticket_id: cheap.id })).json()) as Purchase;
    const refused = await expectProblem(
      await postJson(`/purchases/${hold.id}/checkout`, URLS, await asUser(7)),
      409,
      "not_chargeable",
    );
    expect(refused).toMatchObject({ currency: "GBP", minimum: 0.3 });
    const yen = await createTicket({ stock: 5, price: 1000.5, currency: "JPY" });
    const yenHold = (await (await postJson("/tickets/hold", { user_id: 7, ticket_id: yen.id })).json()) as Purchase;
    await expectProblem(
      await postJson(`/purchases/${yenHold.id}/checkout`, URLS, await asUser(7)),
      409,
      "not_chargeable",
    );
    expect((await purchase(hold.id)).expires_at).toBe(hold.expires_at);
    const asked = (await stripeRequests("/v1/checkout/sessions")).filter((r) =>
      [String(hold.id), String(yenHold.id)].includes(r.form.client_reference_id!),
    );
    expect(asked).toEqual([]);
  });

  it("send whole-unit currencies to Stripe in their own unit", async () => {
    const yen = await createTicket({ stock: 5, price: 4000, currency: "JPY" });
    const hold = (await (await postJson("/tickets/hold", { user_id: 7, ticket_id: yen.id })).json()) as Purchase;
    expect((await postJson(`/purchases/${hold.id}/checkout`, URLS, await asUser(7))).status).toBe(200);
    const [asked] = (await stripeRequests("/v1/checkout/sessions")).filter(
      (r) => r.form.client_reference_id === String(hold.id),
    );
    expect(asked!.form["line_items[0][price_data][unit_amount]"]).toBe("4000");
  });
});

describe("events of a session the purchase did not record", () => {
  it("answer 200 to its expiry once the hold ended after a lost checkout answer", async () => {
    const ticket = await createTicket({ stock: 1, hold_seconds: 60 });
    const hold = (await (await postJson("/tickets/hold", { user_id: 7, ticket_id: ticket.id })).json()) as Purchase;
    await failStripe("/v1/checkout/sessions", 1, "lost");
    expect((await postJson(`/purchases/${hold.id}/checkout`, URLS, await asUser(7))).status).toBe(502);
    clockAt(Date.now() + 40 * 60_000);
    expect((await purchase(hold.id)).status).toBe("expired");
    const expired = event("checkout.session.expired", {
      id: "cs_unrecorded",
      purchaseId: hold.id,
      ticketId: ticket.id,
    });
    const res = await deliverSigned(expired);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, result: "ignored" });
  });

  it("confirm the purchase when the session charged its price, and are ignored for another amount", async () => {
    const ticket = await createTicket({ stock: 5, price: 20 });
    const hold = (await (
      await postJson("/tickets/hold", { user_id: 7, ticket_id: ticket.id, quantity: 2 })
    ).json()) as Purchase;
    const storefront = (amount: number) =>
      event("checkout.session.completed", {
        id: `cs_storefront_${amount}_${hold.id}`,
        purchaseId: hold.id,
        ticketId: ticket.id,
        amount,
        currency: "eur",
      });
    expect(await (await deliverSigned(storefront(3999))).json()).toEqual({ received: true, result: "ignored" });
    expect((await purchase(hold.id)).status).toBe("held");
    expect(await (await deliverSigned(storefront(4000))).json()).toEqual({ received: true, result: "confirmed" });
    expect((await purchase(hold.id)).status).toBe("confirmed");
  });
});
