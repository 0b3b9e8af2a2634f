import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as store from "../src/ticket/store";
import { api, asAdmin, asUser, buy, createTicket, expectProblem, postJson, sellerOf } from "./helpers";
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

// Edges of payments and holds found by an adversarial review, each
// reproduced here first (they failed) and then mended.

afterEach(() => vi.useRealTimers());
const clockAt = (when: number) => vi.useFakeTimers({ toFake: ["Date"], now: when });

const inObject = (ticketId: number, purchaseId: number) =>
  runInDurableObject(sellerOf(ticketId), (_, state) => {
    const db = store.openStore(state.storage);
    return { purchase: store.findPurchase(db, purchaseId)!, ticket: store.readTicket(db)! };
  });
const unitsOf = (ticketId: number, userId: number) =>
  runInDurableObject(sellerOf(ticketId), (_, state) => store.unitsOf(store.openStore(state.storage), userId));
const paid = (session: { session_id: string }, hold: { id: number }, ticket: { id: number }, intent?: string) =>
  event("checkout.session.completed", { id: session.session_id, purchaseId: hold.id, ticketId: ticket.id, intent });
const refundsOf = async (intent: string) =>
  (await stripeRequests("/v1/refunds")).filter((r) => r.form.payment_intent === intent);

describe("payments: edges", () => {
  it("expires the open session of a hold confirmed by hand, and refunds a payment made on it anyway", async () => {
    const { ticket, hold, session } = await held();
    expect((await api(`/purchases/${hold.id}/confirm`, { method: "POST", headers: asAdmin })).status).toBe(200);
    await scheduler.wait(50);
    expect(await stripeRequests(`/v1/checkout/sessions/${session.session_id}/expire`)).toHaveLength(1);
    const intent = `pi_double_${hold.id}`;
    const res = await deliverSigned(paid(session, hold, ticket, intent));
    expect(await res.json()).toEqual({ received: true, result: "refunded" });
    expect(await refundsOf(intent)).toHaveLength(1);
    expect((await purchase(hold.id)).status).toBe("confirmed"); // still the box office's sale
  });

  it("refunds a payment made on a hold confirmed by hand and then cancelled (its entries are gone)", async () => {
    const { ticket, hold, session } = await held(5, 2);
    expect((await postJson(`/purchases/${hold.id}/confirm`, {}, asAdmin)).status).toBe(200);
    expect((await postJson(`/purchases/${hold.id}/cancel`, {}, asAdmin)).status).toBe(200);
    const intent = `pi_after_cancel_${hold.id}`;
    for (let delivery = 0; delivery < 2; delivery++) {
      const res = await deliverSigned(paid(session, hold, ticket, intent)); // and Stripe's redelivery
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ received: true });
    }
    expect(await refundsOf(intent)).toHaveLength(1);
    expect((await purchase(hold.id)).status).toBe("refunded");
    expect((await ticketNow(ticket.id)).sold).toBe(0);
  });

  it("confirms a delayed payment (async_payment_succeeded after an unpaid completion)", async () => {
    const { ticket, hold, session } = await held();
    const ids = { id: session.session_id, purchaseId: hold.id, ticketId: ticket.id };
    const unpaid = await deliverSigned(event("checkout.session.completed", { ...ids, paid: false }));
    expect(await unpaid.json()).toEqual({ received: true, result: "ignored" });
    const later = await deliverSigned(event("checkout.session.async_payment_succeeded", ids));
    expect(await later.json()).toEqual({ received: true, result: "confirmed" });
  });

  it("refunds once, answering 200 to both of two concurrent deliveries of a late payment", async () => {
    const { ticket, hold, session } = await held(2, 2);
    clockAt(Date.parse(session.expires_at) + 1_000);
    expect((await buy({ user_id: 99, ticket_id: ticket.id, quantity: 2 })).status).toBe(200);
    const intent = `pi_concurrent_${hold.id}`;
    const payload = paid(session, hold, ticket, intent);
    const answers = await Promise.all([deliverSigned(payload), deliverSigned(payload)]);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    expect(await refundsOf(intent)).toHaveLength(1);
    expect((await inObject(ticket.id, hold.id)).purchase).toMatchObject({
      status: "refunded",
      refund_id: expect.any(String),
    });
  });

  it("finds the payment of an event that did not carry it, and ends refunded only once the refund is made", async () => {
    const { ticket, hold, session } = await held(2, 2);
    clockAt(Date.parse(session.expires_at) + 1_000);
    expect((await buy({ user_id: 98, ticket_id: ticket.id, quantity: 2 })).status).toBe(200);
    const payload = JSON.stringify({
      ...JSON.parse(paid(session, hold, ticket)),
      data: {
        object: {
          object: "checkout.session",
          id: session.session_id,
          client_reference_id: String(hold.id),
          metadata: { ticket_id: String(ticket.id) },
          payment_status: "paid",
          payment_intent: null,
        },
      },
    });
    await failStripe("/v1/refunds");
    const decided = await deliverSigned(payload);
    expect(await decided.json()).toEqual({ received: true, result: "refunded" }); // the decision, recorded
    expect((await inObject(ticket.id, hold.id)).purchase.status).toBe("expired"); // nothing claimed yet
    vi.setSystemTime(Date.now() + 2_000);
    await runDurableObjectAlarm(sellerOf(ticket.id)); // the object retries the refund
    expect(await refundsOf(`pi_test_${hold.id}`)).toHaveLength(2); // the failed one and the one made
    await runDurableObjectAlarm(sellerOf(ticket.id));
    const d1 = await env.DB.prepare("SELECT status FROM purchases WHERE id = ?").bind(hold.id).first();
    expect(d1).toEqual({ status: "refunded" });
  });

  it("keeps max_per_user when an ended hold takes its units again: by hand (409) and by a late payment (refund)", async () => {
    const ticket = await createTicket({ stock: 50, max_per_user: 2, hold_seconds: 60 });
    const hold = (await (
      await postJson("/tickets/hold", { user_id: 9, ticket_id: ticket.id, quantity: 2 })
    ).json()) as Purchase;
    clockAt(Date.parse(hold.expires_at!) + 1_000);
    expect((await buy({ user_id: 9, ticket_id: ticket.id, quantity: 2 })).status).toBe(200);
    const late = await api(`/purchases/${hold.id}/confirm`, { method: "POST", headers: asAdmin });
    expect(await expectProblem(late, 409, "user_limit")).toMatchObject({ max_per_user: 2, bought: 2 });
    expect(await unitsOf(ticket.id, 9)).toBe(2);

    vi.useRealTimers();
    const paidLate = await held(50, 2);
    await api(`/tickets/${paidLate.ticket.id}`, {
      method: "PATCH",
      headers: { ...asAdmin, "Content-Type": "application/json" },
      body: JSON.stringify({ max_per_user: 2 }),
    });
    clockAt(Date.parse(paidLate.session.expires_at) + 1_000);
    expect((await buy({ user_id: 7, ticket_id: paidLate.ticket.id, quantity: 2 })).status).toBe(200);
    const res = await deliverSigned(
      paid(paidLate.session, paidLate.hold, paidLate.ticket, `pi_limit_${paidLate.hold.id}`),
    );
    expect(await res.json()).toEqual({ received: true, result: "refunded" });
    expect(await unitsOf(paidLate.ticket.id, 7)).toBe(2);
  });

  it("ignores a paid event for a hold that never started checkout (a session that is not its own)", async () => {
    const ticket = await createTicket({ stock: 5 });
    const hold = (await (await postJson("/tickets/hold", { user_id: 7, ticket_id: ticket.id })).json()) as Purchase;
    const res = await deliverSigned(
      event("checkout.session.completed", { id: "cs_from_elsewhere", purchaseId: hold.id, ticketId: ticket.id }),
    );
    expect(await res.json()).toEqual({ received: true, result: "ignored" });
    expect((await purchase(hold.id)).status).toBe("held");
  });

  it("ends the session with a hold longer than 31 minutes, and never hands out an ended session", async () => {
    const { hold, session } = await held(5, 1, 3_600);
    expect((await purchase(hold.id)).expires_at).toBe(session.expires_at);
    expect(Date.parse(session.expires_at) - Date.now()).toBeGreaterThan(59 * 60_000);
    clockAt(Date.parse(session.expires_at) + 1_000);
    const again = await postJson(`/purchases/${hold.id}/checkout`, URLS, await asUser(7));
    await expectProblem(again, 409, "invalid_state"); // the hold ended with its session
  });

  it("asks for a new session at least 30 minutes ahead when a retry comes late", async () => {
    const ticket = await createTicket({ stock: 5 });
    const hold = (await (await postJson("/tickets/hold", { user_id: 7, ticket_id: ticket.id })).json()) as Purchase;
    await failStripe("/v1/checkout/sessions", 1, "lost");
    await expectProblem(await postJson(`/purchases/${hold.id}/checkout`, URLS), 502, "payment_provider_error");
    const retryAt = Date.now() + 2 * 60_000;
    clockAt(retryAt);
    expect((await postJson(`/purchases/${hold.id}/checkout`, URLS)).status).toBe(200);
    const asked = (await stripeRequests("/v1/checkout/sessions")).filter(
      (r) => r.form.client_reference_id === String(hold.id),
    );
    expect(Number(asked.at(-1)!.form.expires_at) - retryAt / 1000).toBeGreaterThanOrEqual(30 * 60);
  });

  it("refuses a retry with other return URLs while an attempt's outcome is unknown", async () => {
    const ticket = await createTicket({ stock: 5 });
    const hold = (await (await postJson("/tickets/hold", { user_id: 7, ticket_id: ticket.id })).json()) as Purchase;
    await failStripe("/v1/checkout/sessions", 1, "lost");
    await expectProblem(await postJson(`/purchases/${hold.id}/checkout`, URLS), 502, "payment_provider_error");
    const other = { success_url: "https://shop.club.example/thanks", cancel_url: "https://shop.club.example/back" };
    await expectProblem(await postJson(`/purchases/${hold.id}/checkout`, other), 400, "validation_error");
    expect((await postJson(`/purchases/${hold.id}/checkout`, URLS)).status).toBe(200);
  });

  it("clears cancelled_at when a late payment confirms a cancelled hold", async () => {
    const { ticket, hold, session } = await held();
    expect((await api(`/purchases/${hold.id}/cancel`, { method: "POST", headers: await asUser(7) })).status).toBe(200);
    const res = await deliverSigned(paid(session, hold, ticket));
    expect(await res.json()).toEqual({ received: true, result: "confirmed" });
    expect(await purchase(hold.id)).toMatchObject({ status: "confirmed", cancelled_at: null });
    const d1 = await env.DB.prepare("SELECT status, cancelled_at FROM purchases WHERE id = ?").bind(hold.id).first();
    expect(d1).toEqual({ status: "confirmed", cancelled_at: null });
  });
});
