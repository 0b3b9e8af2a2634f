import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as store from "../src/ticket/store";
import { api, asAdmin, asGate, postJson, sellerOf } from "./helpers";
import { deliverSigned, event, failStripe, held, stripeRequests } from "./stripe-helpers";

// Races and repeats of refunds and offline admissions that an adversarial review tried: each unit is
// refunded once, and each person let in is reported.

afterEach(() => vi.useRealTimers());
const inObject = (ticketId: number, purchaseId: number) =>
  runInDurableObject(sellerOf(ticketId), (_, state) => {
    const db = store.openStore(state.storage);
    return { purchase: store.findPurchase(db, purchaseId)!, refunds: store.refundsOf(db, purchaseId) };
  });

async function paid(quantity: number) {
  const h = await held(10, quantity);
  const intent = `pi_r14h_${h.hold.id}`;
  const e = event("checkout.session.completed", {
    id: h.session.session_id,
    purchaseId: h.hold.id,
    ticketId: h.ticket.id,
    intent,
  });
  expect(await (await deliverSigned(e)).json()).toEqual({ received: true, result: "confirmed" });
  return { ...h, intent, payload: e };
}

describe("refunds and admissions under races and repeats", () => {
  it("entry cancels racing a purchase cancel and repeated cancels refund each unit once, and end refunded", async () => {
    const { ticket, hold } = await paid(3);
    await failStripe("/v1/refunds", 2, "lost");
    const res = await Promise.all([
      postJson(`/entries/${hold.id * 1000 + 1}/cancel`, {}, asAdmin),
      postJson(`/purchases/${hold.id}/cancel`, {}, asAdmin),
      postJson(`/entries/${hold.id * 1000 + 2}/cancel`, {}, asAdmin),
      postJson(`/purchases/${hold.id}/cancel`, {}, asAdmin),
    ]);
    expect(res.every((r) => [200, 409].includes(r.status))).toBe(true);
    for (let i = 0; i < 4; i++) {
      vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 20 * 60_000 });
      await runDurableObjectAlarm(sellerOf(ticket.id));
    }
    const { purchase, refunds } = await inObject(ticket.id, hold.id);
    expect(refunds.reduce((s, r) => s + r.amount_minor, 0)).toBe(3 * 3550);
    expect(refunds.every((r) => r.status === "succeeded")).toBe(true);
    expect(purchase).toMatchObject({ status: "refunded", refunded_minor: 3 * 3550 });
    const t = (await (await api(`/tickets/${ticket.id}`)).json()) as { sold: number };
    expect(t.sold).toBe(0);
  });

  it("a redelivered or async event of a paid purchase after a box-office cancel refunds nothing more", async () => {
    const { ticket, hold, session, intent } = await paid(1);
    expect((await postJson(`/purchases/${hold.id}/cancel`, {}, asAdmin)).status).toBe(200);
    const async = event("checkout.session.async_payment_succeeded", {
      id: session.session_id,
      purchaseId: hold.id,
      ticketId: ticket.id,
      intent,
    });
    expect(await (await deliverSigned(async)).json()).toEqual({ received: true, result: "ignored" });
    await expectNoConfirm(hold.id);
    expect((await inObject(ticket.id, hold.id)).refunds).toHaveLength(1);
    expect((await stripeRequests("/v1/refunds")).filter((r) => r.form.payment_intent === intent)).toHaveLength(1);
  });

  it("an offline admission of a code reissued twice reports a conflict for each of the two people", async () => {
    const { ticket, hold } = await paid(1);
    const entries = async () =>
      (
        (await (await api(`/purchases/${hold.id}`, { headers: asAdmin })).json()) as {
          entries: { id: number; code: string }[];
        }
      ).entries;
    const [e1] = await entries();
    const t0 = new Date(Date.now() - 120_000).toISOString();
    const e2 = (await (await postJson(`/entries/${e1!.id}/reissue`, {}, asAdmin)).json()) as { code: string };
    const t1 = new Date(Date.now() + 1_000).toISOString();
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 2_000 });
    const e3 = (await (await postJson(`/entries/${e1!.id + 1}/reissue`, {}, asAdmin)).json()) as { code: string };
    vi.useRealTimers();
    const gateA = await asGate([ticket.game_id], "a");
    const gateB = await asGate([ticket.game_id], "b");
    const up = async (code: string, nonce: string, at: string, g: Record<string, string>) =>
      (
        (await (await postJson("/checkins/batch", { scans: [{ code, nonce, scanned_at: at }] }, g)).json()) as {
          answers: { result: string; conflict?: true }[];
        }
      ).answers[0]!;
    expect(await up(e2.code, "b1", t1, gateB)).toMatchObject({ result: "admitted", conflict: true });
    expect(await up(e1!.code, "a1", t0, gateA)).toMatchObject({ result: "admitted", conflict: true });
    const live = (await (await postJson("/checkins", { code: e3.code, nonce: "c1" }, gateA)).json()) as {
      result: string;
    };
    expect(live.result).toBe("rejected");
  });
});

async function expectNoConfirm(id: number) {
  const res = await postJson(`/purchases/${id}/confirm`, {}, asAdmin);
  expect(res.status).toBe(409);
}
