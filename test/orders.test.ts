import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as store from "../src/ticket/store";
import { api, asAdmin, asUser, createTicket, expectProblem, freshGameId, postJson, sellerOf } from "./helpers";
import { deliverSigned, stripeRequests, URLS } from "./stripe-helpers";

// Orders: a basket over several tickets, held all or nothing, decided once by
// its object and followed by every line.

afterEach(() => vi.useRealTimers());

interface Order {
  id: string;
  user_id: number;
  status: string;
  currency: string;
  total_price: number;
  refunded_price: number;
  expires_at: string | null;
  lines: {
    ticket_id: number;
    quantity: number;
    unit_price: number;
    purchase_id: number;
    status: string;
    entries?: { id: number; code: string | null; status: string }[];
  }[];
}

const inTicket = (ticketId: number) =>
  runInDurableObject(sellerOf(ticketId), (_, state) => store.readTicket(store.openStore(state.storage))!);
const orderOf = (id: string) => env.ORDERS.getByName(id);

/** Three tickets of one game: adult, child, member. */
async function basketTickets(stock = 10, overrides: Record<string, unknown> = {}) {
  const game = freshGameId();
  return Promise.all(
    [
      { name: "North", type: "adult", price: 35.5 },
      { name: "North", type: "child", price: 20 },
      { name: "North", type: "member", price: 30 },
    ].map((t) => createTicket({ game_id: game, stock, ...t, ...overrides })),
  );
}

const place = (body: unknown, headers: Record<string, string> = asAdmin) => postJson("/orders", body, headers);

async function placed(userId = 7, quantities = [2, 1, 1], stock = 10) {
  const tickets = await basketTickets(stock);
  const res = await place(
    { lines: tickets.map((t, i) => ({ ticket_id: t.id, quantity: quantities[i] })) },
    { ...(await asUser(userId)), "Idempotency-Key": `basket-${tickets[0]!.id}` },
  );
  expect(res.status).toBe(201);
  return { tickets, order: (await res.json()) as Order, res };
}

describe("POST /orders", () => {
  it("holds every line in its ticket, at once, and answers the order held with its deadline", async () => {
    const { tickets, order, res } = await placed();
    expect(res.headers.get("Location")).toBe(`/orders/${order.id}`);
    expect(order).toMatchObject({ user_id: 7, status: "held", currency: "EUR", total_price: 35.5 * 2 + 20 + 30 });
    expect(order.lines.map((l) => [l.ticket_id, l.quantity, l.status])).toEqual([
      [tickets[0]!.id, 2, "held"],
      [tickets[1]!.id, 1, "held"],
      [tickets[2]!.id, 1, "held"],
    ]);
    // The deadline is the shortest hold of its tickets (900 s), a minute before any line lets go by itself.
    const deadline = Date.parse(order.expires_at!);
    expect(deadline - Date.now()).toBeGreaterThan(880_000);
    for (const [i, t] of tickets.entries()) {
      expect(await inTicket(t.id)).toMatchObject({ held: [2, 1, 1][i], sold: 0 });
    }
    const ends = await Promise.all(
      order.lines.map(async (l) => {
        const line = (await (await api(`/purchases/${l.purchase_id}`, { headers: asAdmin })).json()) as {
          expires_at: string;
        };
        return Date.parse(line.expires_at);
      }),
    );
    expect(Math.min(...ends) - deadline).toBe(60_000);
  });

  it("holds nothing when a line cannot be held: 409 order_refused says why, and the others are released", async () => {
    const tickets = await basketTickets(5);
    expect((await postJson("/tickets/buy", { user_id: 1, ticket_id: tickets[1]!.id, quantity: 4 })).status).toBe(200);
    const res = await place({
      user_id: 8,
      lines: [
        { ticket_id: tickets[0]!.id, quantity: 2 },
        { ticket_id: tickets[1]!.id, quantity: 3 },
        { ticket_id: 987654321, quantity: 1 },
      ],
    });
    const problem = await expectProblem(res, 409, "order_refused");
    expect(problem).toMatchObject({
      lines: [
        { ticket_id: tickets[1]!.id, code: "sold_out", available: 1 },
        { ticket_id: 987654321, code: "ticket_not_found" },
      ],
    });
    expect(await inTicket(tickets[0]!.id)).toMatchObject({ held: 0, sold: 0 });
    expect(await inTicket(tickets[1]!.id)).toMatchObject({ held: 0, sold: 4 });
  });

  it("answers a replay with the same key with the same order; another body is 422", async () => {
    const { tickets, order } = await placed(9);
    const again = await place(
      { lines: tickets.map((t, i) => ({ ticket_id: t.id, quantity: [2, 1, 1][i] })) },
      { ...(await asUser(9)), "Idempotency-Key": `basket-${tickets[0]!.id}` },
    );
    expect(again.status).toBe(201);
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    expect(((await again.json()) as Order).id).toBe(order.id);
    expect(await inTicket(tickets[0]!.id)).toMatchObject({ held: 2 });
    const other = await place(
      { lines: [{ ticket_id: tickets[0]!.id, quantity: 1 }] },
      { ...(await asUser(9)), "Idempotency-Key": `basket-${tickets[0]!.id}` },
    );
    await expectProblem(other, 422, "idempotency_key_reused");
  });

  it("refuses two currencies, duplicated tickets, no lines, and the admin without user_id", async () => {
    const game = freshGameId();
    const eur = await createTicket({ game_id: game });
    const gbp = await createTicket({ game_id: game, currency: "GBP" });
    await expectProblem(
      await place({ user_id: 3, lines: [{ ticket_id: eur.id }, { ticket_id: gbp.id }] }),
      409,
      "currency_mismatch",
    );
    expect(await inTicket(eur.id)).toMatchObject({ held: 0 });
    await expectProblem(
      await place({ user_id: 3, lines: [{ ticket_id: eur.id }, { ticket_id: eur.id }] }),
      400,
      "validation_error",
    );
    await expectProblem(await place({ user_id: 3, lines: [] }), 400, "validation_error");
    await expectProblem(await place({ lines: [{ ticket_id: eur.id }] }), 400, "validation_error");
    await expectProblem(await place({ user_id: 4, lines: [{ ticket_id: eur.id }] }, await asUser(3)), 403, "forbidden");
  });

  it("counts a line's units against max_per_user, with the buyer's other purchases", async () => {
    const [a, b] = await basketTickets(10, { max_per_user: 2 });
    expect((await postJson("/tickets/buy", { user_id: 12, ticket_id: a!.id, quantity: 1 })).status).toBe(200);
    const refused = await expectProblem(
      await place({
        user_id: 12,
        lines: [
          { ticket_id: a!.id, quantity: 2 },
          { ticket_id: b!.id, quantity: 1 },
        ],
      }),
      409,
      "order_refused",
    );
    expect(refused).toMatchObject({ lines: [{ ticket_id: a!.id, code: "user_limit", max_per_user: 2, bought: 1 }] });
    expect(await inTicket(b!.id)).toMatchObject({ held: 0 });
  });
});

describe("an order's decisions", () => {
  it("confirms every line by the box office, with entries for each; purchase endpoints refuse a line", async () => {
    const { tickets, order } = await placed(13);
    await expectProblem(await postJson(`/purchases/${order.lines[0]!.purchase_id}/confirm`, {}), 409, "part_of_order");
    const res = await postJson(`/orders/${order.id}/confirm`, {});
    expect(res.status).toBe(200);
    expect(((await res.json()) as Order).status).toBe("confirmed");
    for (const [i, t] of tickets.entries()) expect(await inTicket(t.id)).toMatchObject({ held: 0, sold: [2, 1, 1][i] });
    const read = (await (await api(`/orders/${order.id}`, { headers: await asUser(13) })).json()) as Order;
    expect(read.lines.map((l) => [l.status, l.entries?.length])).toEqual([
      ["confirmed", 2],
      ["confirmed", 1],
      ["confirmed", 1],
    ]);
    expect(read.lines.every((l) => l.entries!.every((e) => e.code?.startsWith("E1")))).toBe(true);
    await expectProblem(await api(`/orders/${order.id}`, { headers: await asUser(14) }), 403, "forbidden");
  });

  it("cancels every line for its owner while held; not once confirmed (the box office does)", async () => {
    const { tickets, order } = await placed(15);
    const res = await postJson(`/orders/${order.id}/cancel`, {}, await asUser(15));
    expect(((await res.json()) as Order).status).toBe("cancelled");
    for (const t of tickets) expect(await inTicket(t.id)).toMatchObject({ held: 0, sold: 0 });
    const second = await placed(16);
    expect((await postJson(`/orders/${second.order.id}/confirm`, {})).status).toBe(200);
    await expectProblem(await postJson(`/orders/${second.order.id}/cancel`, {}, await asUser(16)), 403, "forbidden");
    expect((await postJson(`/orders/${second.order.id}/cancel`, {})).status).toBe(200);
    for (const t of second.tickets) expect(await inTicket(t.id)).toMatchObject({ sold: 0 });
  });

  it("expires every line at its deadline, by the order's alarm", async () => {
    const { tickets, order } = await placed(17);
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse(order.expires_at!) + 1 });
    await runDurableObjectAlarm(orderOf(order.id));
    vi.useRealTimers();
    const read = (await (await api(`/orders/${order.id}`, { headers: asAdmin })).json()) as Order;
    expect(read.status).toBe("expired");
    expect(read.lines.map((l) => l.status)).toEqual(["expired", "expired", "expired"]);
    for (const t of tickets) expect(await inTicket(t.id)).toMatchObject({ held: 0 });
  });

  it("is paid once, through one Checkout Session with a line item per line", async () => {
    const { tickets, order } = await placed(18);
    const co = await postJson(`/orders/${order.id}/checkout`, URLS, await asUser(18));
    expect(co.status).toBe(200);
    const session = (await co.json()) as { session_id: string; expires_at: string };
    const [asked] = (await stripeRequests("/v1/checkout/sessions")).filter(
      (r) => r.form.client_reference_id === order.id,
    );
    expect(asked!.form).toMatchObject({
      "metadata[order_id]": order.id,
      "line_items[0][quantity]": "2",
      "line_items[0][price_data][unit_amount]": "3550",
      "line_items[2][price_data][unit_amount]": "3000",
    });
    const paid = JSON.stringify({
      id: `evt_order_${order.id}`,
      object: "event",
      type: "checkout.session.completed",
      data: {
        object: {
          object: "checkout.session",
          id: session.session_id,
          client_reference_id: order.id,
          metadata: { order_id: order.id },
          payment_status: "paid",
          payment_intent: `pi_${order.id}`,
        },
      },
    });
    expect(await (await deliverSigned(paid)).json()).toEqual({ received: true, result: "confirmed" });
    expect(await (await deliverSigned(paid)).json()).toEqual({ received: true, result: "ignored" });
    for (const [i, t] of tickets.entries()) expect(await inTicket(t.id)).toMatchObject({ held: 0, sold: [2, 1, 1][i] });
    const list = (await (await api("/users/18/orders", { headers: await asUser(18) })).json()) as {
      orders: Order[];
      next_cursor: string | null;
    };
    expect(list.orders[0]).toMatchObject({ id: order.id, status: "confirmed" });
    expect(list.orders[0]!.lines.map((l) => l.entries?.length)).toEqual([2, 1, 1]);
  });
});
