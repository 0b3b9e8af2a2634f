import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { stripeApiBase } from "../src/payments/stripe";
import { api, asAdmin, asUser, buy, createTicket, expectProblem, postJson, sellerOf } from "./helpers";
import {
  deliver,
  deliverSigned,
  event,
  failStripe,
  held,
  type Purchase,
  purchase,
  SECRET,
  sign,
  stripeRequests,
  ticketNow,
  URLS,
} from "./stripe-helpers";

// Payments: the checkout session, and Stripe's webhook. Stripe's API is the
// stand-in of test/fake-stripe.ts (the runtime's outbound fetch); webhook
// payloads are signed here exactly as Stripe signs them.

afterEach(() => vi.useRealTimers());

describe("POST /purchases/{purchase_id}/checkout", () => {
  it("creates one Checkout Session for the hold, keyed by the purchase, and lengthens the hold to its end", async () => {
    const before = Date.now();
    const { ticket, hold, session } = await held(5, 2);
    expect(session.checkout_url).toMatch(/^https:\/\/checkout\.stripe\.test\//);
    const [created] = (await stripeRequests("/v1/checkout/sessions")).filter(
      (r) => r.form.client_reference_id === String(hold.id),
    );
    expect(created).toMatchObject({
      idempotencyKey: `purchase-${hold.id}-checkout-${Date.parse(session.expires_at) / 1000}`,
      form: {
        mode: "payment",
        "payment_method_types[0]": "card",
        "metadata[ticket_id]": String(ticket.id),
        "line_items[0][quantity]": "2",
        "line_items[0][price_data][unit_amount]": "3550",
        "line_items[0][price_data][currency]": "eur",
        "line_items[0][price_data][product_data][name]": "North Stand",
        success_url: URLS.success_url,
      },
    });
    // Stripe's minimum session life is 30 minutes: the hold lasts as long as the session.
    const ends = Date.parse(session.expires_at);
    expect(ends - before).toBeGreaterThanOrEqual(30 * 60_000);
    expect((await purchase(hold.id)).expires_at).toBe(session.expires_at);
    // A repeat answers the same session and asks Stripe for nothing more.
    const again = await postJson(`/purchases/${hold.id}/checkout`, URLS, asAdmin);
    expect(((await again.json()) as { session_id: string }).session_id).toBe(session.session_id);
    const all = (await stripeRequests("/v1/checkout/sessions")).filter(
      (r) => r.form.client_reference_id === String(hold.id),
    );
    expect(all).toHaveLength(1);
  });

  it("after a lost answer, a retry asks again with the same key and parameters: one session", async () => {
    const ticket = await createTicket({ stock: 5 });
    const hold = (await (await postJson("/tickets/hold", { user_id: 8, ticket_id: ticket.id })).json()) as Purchase;
    await failStripe("/v1/checkout/sessions", 1, "lost");
    await expectProblem(await postJson(`/purchases/${hold.id}/checkout`, URLS), 502, "payment_provider_error");
    const retry = await postJson(`/purchases/${hold.id}/checkout`, URLS);
    expect(retry.status).toBe(200);
    const asked = (await stripeRequests("/v1/checkout/sessions")).filter(
      (r) => r.form.client_reference_id === String(hold.id),
    );
    expect(asked).toHaveLength(2);
    expect(asked[1]!.idempotencyKey).toBe(asked[0]!.idempotencyKey);
    expect(asked[1]!.form).toEqual(asked[0]!.form);
    // The same session both times: the first was made, its answer lost.
    const [again] = await Promise.all([postJson(`/purchases/${hold.id}/checkout`, URLS)]);
    expect(((await again.json()) as { session_id: string }).session_id).toBe(
      ((await retry.clone().json()) as { session_id: string }).session_id,
    );
  });

  it("after Stripe answered an error, a retry is a new attempt (Stripe replays a key's error for a day)", async () => {
    const ticket = await createTicket({ stock: 5 });
    const hold = (await (await postJson("/tickets/hold", { user_id: 8, ticket_id: ticket.id })).json()) as Purchase;
    await failStripe("/v1/checkout/sessions");
    await expectProblem(await postJson(`/purchases/${hold.id}/checkout`, URLS), 502, "payment_provider_error");
    await scheduler.wait(1_100); // a new end, to the second
    expect((await postJson(`/purchases/${hold.id}/checkout`, URLS)).status).toBe(200);
    const asked = (await stripeRequests("/v1/checkout/sessions")).filter(
      (r) => r.form.client_reference_id === String(hold.id),
    );
    expect(asked).toHaveLength(2);
    expect(asked[1]!.idempotencyKey).not.toBe(asked[0]!.idempotencyKey);
  });

  it("is for held purchases of the buyer, with https return URLs (http://localhost only while developing)", async () => {
    const ticket = await createTicket({ stock: 5 });
    const bought = (await buy({ user_id: 9, ticket_id: ticket.id })).body as { id: number };
    await expectProblem(await postJson(`/purchases/${bought.id}/checkout`, URLS), 409, "invalid_state");
    const hold = (await (await postJson("/tickets/hold", { user_id: 9, ticket_id: ticket.id })).json()) as Purchase;
    await expectProblem(await postJson(`/purchases/${hold.id}/checkout`, URLS, await asUser(10)), 403, "forbidden");
    const plain = { ...URLS, success_url: "http://club.example/paid" };
    await expectProblem(await postJson(`/purchases/${hold.id}/checkout`, plain), 400, "validation_error");
    const local = { success_url: "http://localhost:5173/paid", cancel_url: "http://localhost:5173/back" };
    expect((await postJson(`/purchases/${hold.id}/checkout`, local)).status).toBe(200); // ENVIRONMENT=development here
    const { app } = await import("../src/index");
    const production = await app.fetch(
      new Request(`http://tickets.test/purchases/${hold.id}/checkout`, {
        method: "POST",
        headers: { ...asAdmin, "Content-Type": "application/json" },
        body: JSON.stringify(local),
      }),
      { ...env, ENVIRONMENT: "production" },
    );
    await expectProblem(production, 400, "validation_error");
  });

  it("answers 501 for checkout and webhook when Stripe is not configured", async () => {
    const { app } = await import("../src/index");
    const bare = { ...env, STRIPE_SECRET_KEY: undefined, STRIPE_WEBHOOK_SECRET: undefined };
    const checkout = await app.fetch(
      new Request("http://tickets.test/purchases/1/checkout", {
        method: "POST",
        headers: { ...asAdmin, "Content-Type": "application/json" },
        body: JSON.stringify(URLS),
      }),
      bare,
    );
    await expectProblem(checkout, 501, "payments_not_configured");
    const hook = await app.fetch(
      new Request("http://tickets.test/payments/stripe/webhook", { method: "POST", body: "{}" }),
      bare,
    );
    await expectProblem(hook, 501, "payments_not_configured");
  });
});

describe("POST /payments/stripe/webhook", () => {
  it("checks the signature before anything else: tampered, wrong secret, stale, missing are 400 with nothing done", async () => {
    const { ticket, hold, session } = await held();
    const payload = event("checkout.session.completed", {
      id: session.session_id,
      purchaseId: hold.id,
      ticketId: ticket.id,
    });
    const tampered = payload.replace('"paid"', '"paid" ');
    const now = Math.floor(Date.now() / 1000);
    for (const [body, signature] of [
      [tampered, await sign(payload)],
      [payload, await sign(payload, "whsec_wrong")],
      // Past the 300 s tolerance by a margin a slow run cannot eat.
      [payload, await sign(payload, SECRET, now - 330)],
      [payload, await sign(payload, SECRET, now + 330)],
      [payload, undefined],
      [payload, "t=abc,v1=00"],
    ] as const) {
      await expectProblem(await deliver(body, signature), 400, "invalid_signature");
    }
    expect((await purchase(hold.id)).status).toBe("held");
    const ok = await deliver(payload, await sign(payload, SECRET, Math.floor(Date.now() / 1000) - 290));
    expect(await ok.json()).toEqual({ received: true, result: "confirmed" });
  });

  it("confirms a paid session once, however often the event is delivered", async () => {
    const { ticket, hold, session } = await held(5, 2);
    const payload = event("checkout.session.completed", {
      id: session.session_id,
      purchaseId: hold.id,
      ticketId: ticket.id,
    });
    const answers = await Promise.all([deliverSigned(payload), deliverSigned(payload)]);
    const results = await Promise.all(
      answers.map(async (r) => [r.status, ((await r.json()) as { result: string }).result]),
    );
    expect(results.map(([s]) => s)).toEqual([200, 200]);
    expect(results.map(([, r]) => r).sort()).toEqual(["confirmed", "ignored"]);
    expect((await deliverSigned(payload)).status).toBe(200);
    expect((await purchase(hold.id)).status).toBe("confirmed");
    expect(await ticketNow(ticket.id)).toMatchObject({ sold: 2, held: 0 });
  });

  it("ignores (200) an unpaid completion, another session's event, and event types it does not act on", async () => {
    const { ticket, hold, session } = await held();
    const ids = { purchaseId: hold.id, ticketId: ticket.id };
    for (const payload of [
      event("checkout.session.completed", { id: session.session_id, ...ids, paid: false }),
      event("checkout.session.completed", { id: "cs_someone_else", ...ids }),
      event("checkout.session.async_payment_failed", { id: session.session_id, ...ids }),
      event("checkout.session.completed", { id: session.session_id, purchaseId: 987_654_321, ticketId: ticket.id }),
      JSON.stringify({ id: "evt_other", type: "customer.created", data: { object: { object: "customer" } } }),
    ]) {
      const res = await deliverSigned(payload);
      expect([res.status, await res.json()]).toEqual([200, { received: true, result: "ignored" }]);
    }
    expect((await purchase(hold.id)).status).toBe("held");
  });

  it("cancels the hold when its session expires", async () => {
    const { ticket, hold, session } = await held(3, 3);
    const res = await deliverSigned(
      event("checkout.session.expired", { id: session.session_id, purchaseId: hold.id, ticketId: ticket.id }),
    );
    expect(await res.json()).toEqual({ received: true, result: "cancelled" });
    expect((await purchase(hold.id)).status).toBe("cancelled");
    expect(await ticketNow(ticket.id)).toMatchObject({ held: 0, available: 3 });
  });

  it("confirms a payment that arrives after the hold ended if the units can be taken again", async () => {
    const { ticket, hold, session } = await held(3, 2);
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse(session.expires_at) + 1_000 });
    await runDurableObjectAlarm(sellerOf(ticket.id));
    expect((await purchase(hold.id)).status).toBe("expired");
    const res = await deliverSigned(
      event("checkout.session.completed", { id: session.session_id, purchaseId: hold.id, ticketId: ticket.id }),
    );
    expect(await res.json()).toEqual({ received: true, result: "confirmed" });
    expect(await ticketNow(ticket.id)).toMatchObject({ sold: 2, held: 0 });
  });

  it("refunds a payment that arrives after the units were sold to someone else, once, retrying a failed refund from its alarm", async () => {
    const { ticket, hold, session } = await held(2, 2);
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse(session.expires_at) + 1_000 });
    expect((await buy({ user_id: 99, ticket_id: ticket.id, quantity: 2 })).status).toBe(200); // the units are gone
    const payload = event("checkout.session.completed", {
      id: session.session_id,
      purchaseId: hold.id,
      ticketId: ticket.id,
      intent: `pi_late_${hold.id}`,
    });
    await failStripe("/v1/refunds");
    const decided = await deliverSigned(payload);
    expect(await decided.json()).toEqual({ received: true, result: "refunded" }); // recorded; Stripe refused this try
    expect((await purchase(hold.id)).status).toBe("expired"); // refunded once Stripe has made it
    expect(await (await deliverSigned(payload)).json()).toEqual({ received: true, result: "ignored" }); // decided already
    vi.setSystemTime(Date.now() + 2_000); // the refund's retry is due
    await runDurableObjectAlarm(sellerOf(ticket.id));
    const refunds = (await stripeRequests("/v1/refunds")).filter((r) => r.form.payment_intent === `pi_late_${hold.id}`);
    expect(refunds).toHaveLength(2); // the failed one, and its retry
    // Stripe answered the first with an error, so nothing was made: the retry is a new request, with a new key.
    expect(refunds.map((r) => r.idempotencyKey)).toEqual([
      expect.stringMatching(new RegExp(`^purchase-${hold.id}-refund-\\d+-0$`)),
      expect.stringMatching(new RegExp(`^purchase-${hold.id}-refund-\\d+-1$`)),
    ]);
    expect(refunds[1]!.form.amount).toBe("7100"); // 2 x 35.50
    expect((await purchase(hold.id)).status).toBe("refunded");
    expect(await ticketNow(ticket.id)).toMatchObject({ sold: 2, held: 0 });
  });

  it("expires the session at Stripe when its hold ends first", async () => {
    const { ticket, hold, session } = await held();
    await api(`/purchases/${hold.id}/cancel`, { method: "POST", headers: asAdmin });
    await scheduler.wait(50);
    const expired = await stripeRequests(`/v1/checkout/sessions/${session.session_id}/expire`);
    expect(expired).toHaveLength(1);
    expect((await ticketNow(ticket.id)).held).toBe(0);
  });
});

describe("Stripe's API base", () => {
  it("is Stripe's own host, unless a stand-in is set while developing", () => {
    const standIn = "http://127.0.0.1:12111";
    expect(stripeApiBase({ ENVIRONMENT: "development", STRIPE_API_BASE: standIn })).toBe(standIn);
    expect(stripeApiBase({ ENVIRONMENT: "development", STRIPE_API_BASE: "" })).toBe("https://api.stripe.com");
    // A deployment never sends payments elsewhere, whatever is set.
    expect(stripeApiBase({ ENVIRONMENT: "production", STRIPE_API_BASE: standIn })).toBe("https://api.stripe.com");
  });
});
