import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as store from "../src/ticket/store";
import { api, asAdmin, asUser, createTicket, postJson, sellerOf } from "./helpers";
import { deliverSigned, held, stripeRequests, URLS } from "./stripe-helpers";

// A payment is known by its Checkout Session (paid once) or its intent, whichever an event names; edges an
// adversarial review reproduced here (each failed), and then mended.

afterEach(() => vi.useRealTimers());

let n = 0;
/** A Checkout Session event as Stripe sends it, with `payment_intent` as given (null: absent from the session). */
const sessionEvent = (type: string, s: { id: string; purchaseId: number; ticketId: number; intent: string | null }) =>
  JSON.stringify({
    id: `evt_r14_${Date.now()}_${++n}`,
    object: "event",
    type,
    data: {
      object: {
        object: "checkout.session",
        id: s.id,
        client_reference_id: String(s.purchaseId),
        metadata: { purchase_id: String(s.purchaseId), ticket_id: String(s.ticketId) },
        payment_status: "paid",
        payment_intent: s.intent,
      },
    },
  });

const inObject = (ticketId: number, purchaseId: number) =>
  runInDurableObject(sellerOf(ticketId), (_, state) => {
    const db = store.openStore(state.storage);
    return { purchase: store.findPurchase(db, purchaseId)!, refunds: store.refundsOf(db, purchaseId) };
  });
const refundRequests = async (intent: string) =>
  (await stripeRequests("/v1/refunds")).filter((r) => r.form.payment_intent === intent);

describe("a payment confirmed by an event that did not carry its payment_intent", () => {
  it("is not refunded as a 'second payment' when another event of the same session arrives: no free ticket", async () => {
    const { ticket, hold, session } = await held(10, 1);
    const intent = `pi_test_${hold.id}`; // the fake's session pays with this intent
    const completed = sessionEvent("checkout.session.completed", {
      id: session.session_id,
      purchaseId: hold.id,
      ticketId: ticket.id,
      intent: null,
    });
    expect(await (await deliverSigned(completed)).json()).toEqual({ received: true, result: "confirmed" });
    // The same session's payment, told again under another event id (async_payment_succeeded), now with its intent.
    const again = sessionEvent("checkout.session.async_payment_succeeded", {
      id: session.session_id,
      purchaseId: hold.id,
      ticketId: ticket.id,
      intent,
    });
    const answer = (await (await deliverSigned(again)).json()) as { result: string };
    const { purchase, refunds } = await inObject(ticket.id, hold.id);
    // The purchase keeps its entries and is confirmed: its one payment must not be given back.
    expect(purchase.status).toBe("confirmed");
    expect(refunds).toEqual([]);
    expect(await refundRequests(intent)).toEqual([]);
    expect(answer.result).toBe("ignored");
  });

  it("is not refunded when the same session's completed event comes again under a new id, also without intent", async () => {
    const { ticket, hold, session } = await held(10, 1);
    const payload = () =>
      sessionEvent("checkout.session.completed", {
        id: session.session_id,
        purchaseId: hold.id,
        ticketId: ticket.id,
        intent: null,
      });
    expect(await (await deliverSigned(payload())).json()).toEqual({ received: true, result: "confirmed" });
    const answer = (await (await deliverSigned(payload())).json()) as { result: string };
    const { purchase, refunds } = await inObject(ticket.id, hold.id);
    expect(purchase.status).toBe("confirmed");
    expect(refunds).toEqual([]); // the session's own payment, refunded as if it were a second one
    expect(answer.result).toBe("ignored");
  });

  it("is recognised by its session when a storefront's session is told again without its intent", async () => {
    const ticket = await createTicket({ stock: 5, price: 35.5 });
    const hold = (await (await postJson("/tickets/hold", { user_id: 7, ticket_id: ticket.id })).json()) as {
      id: number;
    };
    const storefront = (type: string, intent: string | null) => {
      const body = JSON.parse(
        sessionEvent(type, { id: `cs_store_${hold.id}`, purchaseId: hold.id, ticketId: ticket.id, intent }),
      );
      Object.assign(body.data.object, { amount_total: 3550, currency: "eur" });
      return JSON.stringify(body);
    };
    const first = await deliverSigned(storefront("checkout.session.completed", `pi_store_${hold.id}`));
    expect(await first.json()).toEqual({ received: true, result: "confirmed" });
    const again = await deliverSigned(storefront("checkout.session.async_payment_succeeded", null));
    const { purchase, refunds } = await inObject(ticket.id, hold.id);
    expect(purchase.status).toBe("confirmed");
    expect(refunds).toEqual([]); // decided: give back the session's (only) payment
    expect(((await again.json()) as { result: string }).result).toBe("ignored");
  });

  it("is refunded when the box office cancels the purchase: a paid unit given back is refunded", async () => {
    const { ticket, hold, session } = await held(10, 2);
    const completed = sessionEvent("checkout.session.completed", {
      id: session.session_id,
      purchaseId: hold.id,
      ticketId: ticket.id,
      intent: null,
    });
    expect(await (await deliverSigned(completed)).json()).toEqual({ received: true, result: "confirmed" });
    // One entry, then the rest: both give back paid units.
    expect((await postJson(`/entries/${hold.id * 1000 + 1}/cancel`, {}, asAdmin)).status).toBe(200);
    expect((await postJson(`/purchases/${hold.id}/cancel`, {}, asAdmin)).status).toBe(200);
    await scheduler.wait(50);
    const { refunds } = await inObject(ticket.id, hold.id);
    expect(refunds.map((r) => [r.reason, r.amount_minor])).toEqual([
      ["entry_cancelled", 3550],
      ["cancelled", 3550],
    ]);
  });
});

describe("two checkout calls for one hold at once (a double click)", () => {
  it("keep the hold as long as the session the fan was given, even when one of them got an error from Stripe", async () => {
    const ticket = await createTicket({ stock: 1, hold_seconds: 60, price: 35.5 });
    const hold = (await (await postJson("/tickets/hold", { user_id: 7, ticket_id: ticket.id })).json()) as {
      id: number;
    };
    // Stripe answers one of the two with an error (as a concurrent request with the same key gets 409 at Stripe).
    await fetch("https://api.stripe.com/__fake/fail?path=%2Fv1%2Fcheckout%2Fsessions&times=1&mode=error", {
      method: "POST",
    });
    const fan = await asUser(7);
    // Both calls reach Stripe before either is answered (two tabs, a double click).
    const original = globalThis.fetch;
    const waiting: (() => void)[] = [];
    globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (url === "https://api.stripe.com/v1/checkout/sessions") {
        await new Promise<void>((release) => {
          waiting.push(release);
          if (waiting.length === 2) for (const r of waiting) r();
        });
      }
      return original(input, init);
    }) as typeof fetch;
    let a: Response;
    let b: Response;
    try {
      [a, b] = await Promise.all([
        postJson(`/purchases/${hold.id}/checkout`, URLS, fan),
        postJson(`/purchases/${hold.id}/checkout`, URLS, fan),
      ]);
    } finally {
      globalThis.fetch = original;
    }
    expect(waiting).toHaveLength(2);
    const ok = [a, b].find((r) => r.status === 200)!;
    expect([a.status, b.status].sort()).toEqual([200, 502]);
    const session = (await ok.json()) as { session_id: string; expires_at: string };
    const { purchase } = await inObject(ticket.id, hold.id);
    expect(purchase.checkout_session_id).toBe(session.session_id);
    // The fan was sent to a session that lives 31 minutes: the hold must last as long (README: they end together).
    expect(purchase.expires_at).toBe(session.expires_at);
    const shown = (await (await api(`/purchases/${hold.id}`, { headers: asAdmin })).json()) as { expires_at: string };
    expect(shown.expires_at).toBe(session.expires_at);
  });
});

describe("a refund Stripe made but answered 5xx for", () => {
  it("is found at Stripe before it is asked again, so a unit is refunded once (a 500's outcome is unknown)", async () => {
    const { ticket, hold, session } = await held(10, 2);
    const intent = `pi_r14_500_${hold.id}`;
    const completed = sessionEvent("checkout.session.completed", {
      id: session.session_id,
      purchaseId: hold.id,
      ticketId: ticket.id,
      intent,
    });
    expect(await (await deliverSigned(completed)).json()).toEqual({ received: true, result: "confirmed" });
    // Stripe makes the next refund, then answers 500 (an incident on its side).
    const original = globalThis.fetch;
    let once = true;
    globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const res = await original(input, init);
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (once && url === "https://api.stripe.com/v1/refunds") {
        once = false;
        return Response.json({ error: { type: "api_error", message: "internal" } }, { status: 500 });
      }
      return res;
    }) as typeof fetch;
    try {
      // The box office cancels one of the two entries: one unit's price back.
      expect((await postJson(`/entries/${hold.id * 1000 + 1}/cancel`, {}, asAdmin)).status).toBe(200);
      for (let i = 0; once && i < 100; i++) await scheduler.wait(20);
      expect(once).toBe(false); // the refund was asked, made, and answered 500
      await scheduler.wait(20);
    } finally {
      globalThis.fetch = original;
    }
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 5_000 });
    await runDurableObjectAlarm(sellerOf(ticket.id));
    // Partial refunds of one payment add up at Stripe: asked again under a new key, it would refund the unit
    // twice. The retry looks among the payment's refunds first, finds it by its name, and asks nothing more.
    expect(await refundRequests(intent)).toHaveLength(1);
    const { purchase, refunds } = await inObject(ticket.id, hold.id);
    expect(refunds).toMatchObject([{ status: "succeeded", amount_minor: purchase.unit_price_minor }]);
    expect(purchase.refunded_minor).toBe(purchase.unit_price_minor);
  });
});
