import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as store from "../src/ticket/store";
import { api, asAdmin, asUser, buy, createTicket, expectProblem, postJson, sellerOf, type Ticket } from "./helpers";

// The purchase lifecycle: hold → confirm / cancel / expire, each one transaction in the ticket's object.

interface Purchase {
  id: number;
  user_id: number;
  ticket_id: number;
  quantity: number;
  status: string;
  expires_at: string | null;
  confirmed_at: string | null;
  cancelled_at: string | null;
  created_at: string;
}

const hold = async (body: Record<string, unknown>, headers: Record<string, string> = asAdmin) => {
  const res = await postJson("/tickets/hold", body, headers);
  return { res, status: res.status, body: (await res.json()) as Purchase & { code?: string } };
};
const act = (id: number, action: "confirm" | "cancel", headers: Record<string, string> = asAdmin) =>
  api(`/purchases/${id}/${action}`, { method: "POST", headers });
const purchase = async (id: number) => (await (await api(`/purchases/${id}`, { headers: asAdmin })).json()) as Purchase;
const ticketNow = async (id: number) => (await (await api(`/tickets/${id}`)).json()) as Ticket & { held: number };

/** The ticket as its object holds it (not the read model). */
const inObject = (ticketId: number) =>
  runInDurableObject(sellerOf(ticketId), (_, state) => store.readTicket(store.openStore(state.storage))!);

/**
 * The alarm set for the holds: each change first sets one a few seconds
 * ahead (it projects the change should the instance die); that one re-arms for
 * the earliest hold's end.
 */
async function nextAlarm(ticketId: number) {
  const alarm = () => runInDurableObject(sellerOf(ticketId), (_, state) => state.storage.getAlarm());
  const first = await alarm();
  if (first !== null && first <= Date.now() + 5_000) await runDurableObjectAlarm(sellerOf(ticketId));
  return alarm();
}

/** Runs the rest of the test at `when` on the clock of this isolate (the worker's and the objects'). */
function clockAt(when: string | number) {
  vi.useFakeTimers({ toFake: ["Date"], now: new Date(when) });
}
afterEach(() => vi.useRealTimers());

describe("POST /tickets/hold", () => {
  it("holds units for hold_seconds: 201, Location, held counted out of available", async () => {
    const ticket = await createTicket({ stock: 10, hold_seconds: 120 });
    const before = Date.now();
    const { res, body } = await hold({ user_id: 7, ticket_id: ticket.id, quantity: 3 });
    expect(res.status).toBe(201);
    expect(res.headers.get("Location")).toBe(`/purchases/${body.id}`);
    expect(body).toMatchObject({ user_id: 7, quantity: 3, status: "held", confirmed_at: null, cancelled_at: null });
    const ends = Date.parse(body.expires_at!);
    expect(ends - before).toBeGreaterThanOrEqual(119_000);
    expect(ends - before).toBeLessThanOrEqual(121_000);
    expect(await ticketNow(ticket.id)).toMatchObject({ sold: 0, held: 3, available: 7 });
    // The alarm rings when the hold ends (after the one that makes sure the change reached D1).
    expect(await nextAlarm(ticket.id)).toBe(ends);
  });

  it("never holds more than the stock under 200 concurrent holders", async () => {
    const ticket = await createTicket({ stock: 50 });
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => hold({ user_id: 1_000 + i, ticket_id: ticket.id })),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(50);
    expect(answers.filter((a) => a.status === 409 && a.body.code === "sold_out")).toHaveLength(150);
    expect(await inObject(ticket.id)).toMatchObject({ held: 50, sold: 0 });
    expect(await ticketNow(ticket.id)).toMatchObject({ held: 50, sold: 0, available: 0 });
  });

  it("replays a hold with the same Idempotency-Key; the same key on a purchase is another order (422)", async () => {
    const ticket = await createTicket({ stock: 10 });
    const body = { user_id: 8, ticket_id: ticket.id, quantity: 2 };
    const key = { ...asAdmin, "Idempotency-Key": "hold-once" };
    const first = await hold(body, key);
    const again = await hold(body, key);
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.body).toEqual(first.body);
    const reused = await expectProblem(await postJson("/tickets/buy", body, key), 422, "idempotency_key_reused");
    // The same body: what differs is buy and hold, and the answer says so rather than "another body" alone.
    expect(reused.detail).toContain("a hold where this is a purchase");
    expect((await inObject(ticket.id)).held).toBe(2);
  });

  it("counts held units against max_per_user", async () => {
    const ticket = await createTicket({ stock: 50, max_per_user: 2, hold_seconds: 60 });
    expect((await hold({ user_id: 9, ticket_id: ticket.id, quantity: 2 })).status).toBe(201);
    const over = await postJson("/tickets/buy", { user_id: 9, ticket_id: ticket.id });
    expect(await expectProblem(over, 409, "user_limit")).toMatchObject({ bought: 2 });
    await expectProblem(await postJson("/tickets/hold", { user_id: 9, ticket_id: ticket.id }), 409, "user_limit");
    clockAt(Date.now() + 61_000); // the hold ends: its units no longer count
    expect((await buy({ user_id: 9, ticket_id: ticket.id, quantity: 2 })).status).toBe(200);
  });
});

describe("expiry", () => {
  it("ends a hold at expires_at, to the second: units back, available restored exactly", async () => {
    const ticket = await createTicket({ stock: 5, hold_seconds: 60 });
    const { body } = await hold({ user_id: 11, ticket_id: ticket.id, quantity: 2 });
    const ends = Date.parse(body.expires_at!);
    clockAt(ends - 1);
    expect((await purchase(body.id)).status).toBe("held");
    clockAt(ends);
    expect(await purchase(body.id)).toMatchObject({ status: "expired", expires_at: body.expires_at });
    expect(await ticketNow(ticket.id)).toMatchObject({ held: 0, sold: 0, available: 5 });
  });

  it("is done by the alarm with nobody calling, once however often the alarm rings", async () => {
    const ticket = await createTicket({ stock: 5, hold_seconds: 60 });
    const { body } = await hold({ user_id: 12, ticket_id: ticket.id, quantity: 3 });
    clockAt(Date.parse(body.expires_at!) + 1);
    expect(await runDurableObjectAlarm(sellerOf(ticket.id))).toBe(true);
    // Alarms run at least once: a second ringing (and a late call) must change nothing.
    await runInDurableObject(sellerOf(ticket.id), (instance: { alarm(): Promise<void> }) => instance.alarm());
    expect(await inObject(ticket.id)).toMatchObject({ held: 0, sold: 0 });
    expect((await purchase(body.id)).status).toBe("expired");
    expect(await ticketNow(ticket.id)).toMatchObject({ held: 0, available: 5 });
  });

  it("leaks nothing over many hold / expire cycles", async () => {
    const ticket = await createTicket({ stock: 3, hold_seconds: 60 });
    let now = Date.now();
    for (let cycle = 0; cycle < 15; cycle++) {
      clockAt(now);
      const answers = await Promise.all([1, 2, 3, 4].map((u) => hold({ user_id: 100 + u, ticket_id: ticket.id })));
      expect(answers.filter((a) => a.status === 201)).toHaveLength(3);
      now += 61_000;
      clockAt(now);
      await runDurableObjectAlarm(sellerOf(ticket.id));
    }
    expect(await inObject(ticket.id)).toMatchObject({ held: 0, sold: 0 });
    expect(await ticketNow(ticket.id)).toMatchObject({ held: 0, sold: 0, available: 3 });
  });

  it("still ends holds on time after the object restarted", async () => {
    const ticket = await createTicket({ stock: 4, hold_seconds: 90 });
    const { body } = await hold({ user_id: 13, ticket_id: ticket.id, quantity: 4 });
    await evictDurableObject(sellerOf(ticket.id));
    expect(await nextAlarm(ticket.id)).toBe(Date.parse(body.expires_at!));
    clockAt(Date.parse(body.expires_at!));
    expect(await runDurableObjectAlarm(sellerOf(ticket.id))).toBe(true);
    expect(await inObject(ticket.id)).toMatchObject({ held: 0 });
  });

  it("races confirmation at the very instant of expiry: exactly one buyer gets the last unit", async () => {
    for (let round = 0; round < 5; round++) {
      const ticket = await createTicket({ stock: 1, hold_seconds: 60 });
      const { body } = await hold({ user_id: 20, ticket_id: ticket.id });
      clockAt(body.expires_at!);
      const [alarm, confirmed, other] = await Promise.all([
        runDurableObjectAlarm(sellerOf(ticket.id)),
        act(body.id, "confirm"),
        postJson("/tickets/buy", { user_id: 21, ticket_id: ticket.id }),
      ]);
      void alarm;
      const statuses = [confirmed.status, other.status].sort();
      expect(statuses).toEqual([200, 409]);
      expect(await inObject(ticket.id)).toMatchObject({ sold: 1, held: 0 });
      const status = (await purchase(body.id)).status;
      expect(status).toBe(confirmed.status === 200 ? "confirmed" : "expired");
      vi.useRealTimers();
    }
  });
});

describe("POST /purchases/{purchase_id}/confirm", () => {
  it("confirms a hold: held units become sold, and a repeat answers the same purchase", async () => {
    const ticket = await createTicket({ stock: 10 });
    const { body } = await hold({ user_id: 30, ticket_id: ticket.id, quantity: 4 });
    const res = await act(body.id, "confirm");
    expect(res.status).toBe(200);
    const confirmed = (await res.json()) as Purchase;
    expect(confirmed).toMatchObject({ id: body.id, status: "confirmed", expires_at: null });
    expect(confirmed.confirmed_at).not.toBeNull();
    expect(await ticketNow(ticket.id)).toMatchObject({ sold: 4, held: 0, available: 6 });
    expect(await (await act(body.id, "confirm")).json()).toEqual(confirmed);
    expect((await inObject(ticket.id)).sold).toBe(4);
  });

  it("confirms an ended hold if its units can be taken again, else 409 hold_expired", async () => {
    const ticket = await createTicket({ stock: 3, hold_seconds: 60 });
    const a = (await hold({ user_id: 31, ticket_id: ticket.id, quantity: 2 })).body;
    clockAt(Date.parse(a.expires_at!) + 1_000);
    expect((await act(a.id, "confirm")).status).toBe(200); // the units were still free
    const b = (await hold({ user_id: 32, ticket_id: ticket.id, quantity: 1 })).body;
    clockAt(Date.parse(b.expires_at!) + 1_000);
    expect((await buy({ user_id: 33, ticket_id: ticket.id })).status).toBe(200); // takes the freed unit
    const late = await expectProblem(await act(b.id, "confirm"), 409, "hold_expired");
    expect(late.available).toBe(0);
    expect(await inObject(ticket.id)).toMatchObject({ sold: 3, held: 0 });
  });

  it("refuses a cancelled purchase (409 invalid_state), and anyone but the admin (403)", async () => {
    const ticket = await createTicket({ stock: 3 });
    const { body } = await hold({ user_id: 34, ticket_id: ticket.id });
    await expectProblem(await act(body.id, "confirm", await asUser(34)), 403, "forbidden");
    expect((await act(body.id, "cancel")).status).toBe(200);
    const refused = await expectProblem(await act(body.id, "confirm"), 409, "invalid_state");
    expect(refused).toMatchObject({ purchase_status: "cancelled" });
    await expectProblem(await act(987_654_321, "confirm"), 404, "not_found");
  });
});

describe("POST /purchases/{purchase_id}/cancel", () => {
  it("lets the owner cancel a hold; its units go back; a repeat answers the same purchase", async () => {
    const ticket = await createTicket({ stock: 5 });
    const { body } = await hold({ user_id: 40, ticket_id: ticket.id, quantity: 2 }, await asUser(40));
    const res = await act(body.id, "cancel", await asUser(40));
    expect(res.status).toBe(200);
    const cancelled = (await res.json()) as Purchase;
    expect(cancelled).toMatchObject({ status: "cancelled" });
    expect(cancelled.cancelled_at).not.toBeNull();
    expect(await ticketNow(ticket.id)).toMatchObject({ held: 0, available: 5 });
    expect(await (await act(body.id, "cancel", await asUser(40))).json()).toEqual(cancelled);
    await expectProblem(await act(body.id, "cancel", await asUser(41)), 403, "forbidden");
  });

  it("cancels a confirmed purchase for the admin only, returning exactly its units", async () => {
    const ticket = await createTicket({ stock: 10 });
    const mine = (await buy({ user_id: 42, ticket_id: ticket.id, quantity: 3 })).body as unknown as Purchase;
    await buy({ user_id: 43, ticket_id: ticket.id, quantity: 2 });
    await expectProblem(await act(mine.id, "cancel", await asUser(42)), 403, "forbidden");
    expect((await act(mine.id, "cancel")).status).toBe(200);
    expect(await ticketNow(ticket.id)).toMatchObject({ sold: 2, held: 0, available: 8 });
    expect((await inObject(ticket.id)).sold).toBe(2);
  });

  it("refuses an expired hold with 409 invalid_state", async () => {
    const ticket = await createTicket({ stock: 5, hold_seconds: 60 });
    const { body } = await hold({ user_id: 44, ticket_id: ticket.id });
    clockAt(Date.parse(body.expires_at!) + 1);
    const refused = await expectProblem(await act(body.id, "cancel"), 409, "invalid_state");
    expect(refused).toMatchObject({ purchase_status: "expired" });
  });
});

describe("GET /purchases/{purchase_id}", () => {
  it("answers its owner and the admin with the purchase as its object holds it", async () => {
    const ticket = await createTicket({ stock: 5 });
    const { body } = await hold({ user_id: 50, ticket_id: ticket.id });
    const own = await api(`/purchases/${body.id}`, { headers: await asUser(50) });
    expect(own.status).toBe(200);
    expect(await own.json()).toEqual({ ...body, entries: [], refunded_price: 0, refunds: [] }); // entries come with confirmation
    await expectProblem(await api(`/purchases/${body.id}`, { headers: await asUser(51) }), 403, "forbidden");
    await expectProblem(await api(`/purchases/${body.id}`), 401, "unauthorized");
    await expectProblem(await api("/purchases/987654321", { headers: asAdmin }), 404, "not_found");
  });
});

describe("GET /tickets/user/{user_id} with the lifecycle", () => {
  it("lists every state, newest first, and filters by status; an unknown status is 400", async () => {
    const ticket = await createTicket({ stock: 10 });
    const user = 60;
    const bought = (await buy({ user_id: user, ticket_id: ticket.id })).body as unknown as Purchase;
    const held = (await hold({ user_id: user, ticket_id: ticket.id })).body;
    const cancelled = (await hold({ user_id: user, ticket_id: ticket.id })).body;
    await act(cancelled.id, "cancel");
    const all = (await (await api(`/tickets/user/${user}`, { headers: asAdmin })).json()) as Purchase[];
    expect(all.map((p) => [p.id, p.status])).toEqual([
      [cancelled.id, "cancelled"],
      [held.id, "held"],
      [bought.id, "confirmed"],
    ]);
    const onlyHeld = (await (
      await api(`/tickets/user/${user}?status=held`, { headers: asAdmin })
    ).json()) as Purchase[];
    expect(onlyHeld.map((p) => p.id)).toEqual([held.id]);
    const none = await api(`/tickets/user/${user}?status=refunded`, { headers: asAdmin });
    expect([none.status, await none.json()]).toEqual([200, []]);
    await expectProblem(await api(`/tickets/user/${user}?status=lost`, { headers: asAdmin }), 400, "validation_error");
  });
});

describe("the stock rule with holds", () => {
  it("refuses stock below sold + held with both figures, and takes hold_seconds by PATCH", async () => {
    const ticket = await createTicket({ stock: 10 });
    await buy({ user_id: 70, ticket_id: ticket.id, quantity: 3 });
    await hold({ user_id: 71, ticket_id: ticket.id, quantity: 2 });
    const patch = (body: unknown) =>
      api(`/tickets/${ticket.id}`, {
        method: "PATCH",
        headers: { ...asAdmin, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    const refused = await expectProblem(await patch({ stock: 4 }), 409, "stock_below_sold");
    expect(refused).toMatchObject({ sold: 3, held: 2 });
    expect((await patch({ stock: 5, hold_seconds: 300 })).status).toBe(200);
    const before = Date.now();
    const { body } = await hold({ user_id: 72, ticket_id: ticket.id }, asAdmin);
    expect(body.code).toBe("sold_out"); // 3 sold + 2 held = 5
    await patch({ stock: 6 });
    const later = (await hold({ user_id: 72, ticket_id: ticket.id })).body;
    expect(Date.parse(later.expires_at!) - before).toBeGreaterThanOrEqual(299_000);
    expect((await patch({ hold_seconds: 59 })).status).toBe(400);
  });

  it("is a CHECK in the object's storage and in the read model: 0 <= sold + held <= stock", async () => {
    const ticket = await createTicket({ stock: 2 });
    await hold({ user_id: 80, ticket_id: ticket.id, quantity: 2 });
    await expect(
      runInDurableObject(sellerOf(ticket.id), (_, state) => {
        state.storage.sql.exec("UPDATE ticket SET sold = 1");
      }),
    ).rejects.toThrow(/CHECK constraint failed/);
    await expect(env.DB.prepare("UPDATE tickets SET sold = 1 WHERE id = ?").bind(ticket.id).run()).rejects.toThrow(
      /CHECK constraint failed/,
    );
    await expect(env.DB.prepare("UPDATE tickets SET held = -1 WHERE id = ?").bind(ticket.id).run()).rejects.toThrow(
      /CHECK constraint failed/,
    );
  });
});
