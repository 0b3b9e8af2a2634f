import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  runInDurableObject,
} from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { packEvents, type QueueMessage, type WebhookEvent } from "../src/events/types";
import worker from "../src/index";
import {
  api,
  asAdmin,
  asGate,
  asUser,
  buy,
  createTicket,
  expectDocumentedEvent,
  expectProblem,
  fieldsOf,
  type Problem,
  postJson,
  sellerOf,
} from "./helpers";
import { deliverSigned, event, held, purchase } from "./stripe-helpers";

// Webhooks end to end inside workerd: a ticket object's change writes its
// event, the real local queue carries it to this worker's consumer, which
// signs and delivers it to https://hooks.test (test/fake-receiver.ts).
// Signatures are checked here with WebCrypto, independently of the worker.

interface Webhook {
  id: number;
  url: string;
  event_types: string[];
  enabled: boolean;
  disabled_reason: string | null;
  secret?: string;
}
interface Delivery {
  id: string;
  event_id: string;
  event_type: string;
  status: string;
  attempts: number;
  response_code: number | null;
  next_retry_at: string | null;
  error: string | null;
}
/** A request test/fake-receiver.ts recorded, raw. */
interface ReceivedWebhook {
  path: string;
  headers: Record<string, string>;
  body: string;
}
interface Event {
  id: string;
  type: string;
  created_at: string;
  data: Record<string, unknown>;
}

let paths = 0;
const hookUrl = (kind: "ok" | "gone" | "fail" | "redirect" | "flaky") => `https://hooks.test/${kind}/${++paths}`;

async function register(url: string, eventTypes: string[] = ["*"]) {
  const res = await postJson("/webhooks", { url, event_types: eventTypes });
  expect(res.status).toBe(201);
  return (await res.json()) as Webhook & { secret: string };
}

afterEach(async () => {
  const all = (await (await api("/webhooks", { headers: asAdmin })).json()) as Webhook[];
  for (const w of all) await api(`/webhooks/${w.id}`, { method: "DELETE", headers: asAdmin });
});

/** What `url` received; each delivery must be as the document's `webhooks` describe it. */
const received = async (url: string) => {
  const all = (await (await fetch("https://hooks.test/__fake/requests")).json()) as ReceivedWebhook[];
  const mine = all.filter((r) => r.path === new URL(url).pathname);
  for (const r of mine) await expectDocumentedEvent(r);
  return mine;
};

/** Waits until `until` holds of what `url` received (the queue batches for a second per hop). */
async function receivedUntil(url: string, until: (got: ReceivedWebhook[]) => boolean, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await received(url);
    if (until(got) || Date.now() > deadline) return got;
    await scheduler.wait(100);
  }
}

// Standard Webhooks verification, written from the specification.
const base64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
async function verified(secret: string, r: ReceivedWebhook): Promise<boolean> {
  const id = r.headers["webhook-id"]!;
  const timestamp = r.headers["webhook-timestamp"]!;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const key = await crypto.subtle.importKey(
    "raw",
    base64(secret.replace(/^whsec_/, "")),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${r.body}`);
  for (const candidate of r.headers["webhook-signature"]!.split(" ")) {
    const [version, signature] = candidate.split(",");
    if (version === "v1" && (await crypto.subtle.verify("HMAC", key, base64(signature!), signed))) return true;
  }
  return false;
}

const events = (got: ReceivedWebhook[]) => got.map((r) => JSON.parse(r.body) as Event);

describe("webhook endpoints", () => {
  it("registers an endpoint with a secret shown once, lists, changes and removes it", async () => {
    const created = await register(hookUrl("ok"), ["purchase.confirmed"]);
    expect(created).toMatchObject({ event_types: ["purchase.confirmed"], enabled: true, disabled_reason: null });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const listed = (await (await api("/webhooks", { headers: asAdmin })).json()) as Webhook[];
    expect(listed.map((w) => w.id)).toContain(created.id);
    expect(JSON.stringify(listed)).not.toContain(created.secret);
    const one = (await (await api(`/webhooks/${created.id}`, { headers: asAdmin })).json()) as Webhook;
    expect(one).not.toHaveProperty("secret");

    const patched = await api(`/webhooks/${created.id}`, {
      method: "PATCH",
      headers: { ...asAdmin, "Content-Type": "application/json" },
      body: JSON.stringify({ event_types: ["*"], enabled: false }),
    });
    expect(await patched.json()).toMatchObject({ event_types: ["*"], enabled: false });

    expect((await api(`/webhooks/${created.id}`, { method: "DELETE", headers: asAdmin })).status).toBe(204);
    await expectProblem(await api(`/webhooks/${created.id}`, { headers: asAdmin }), 404, "not_found");
    await expectProblem(await api(`/webhooks/${created.id}`, { method: "DELETE", headers: asAdmin }), 404, "not_found");
  });

  it("is for admins only", async () => {
    const body = { url: hookUrl("ok") };
    await expectProblem(await postJson("/webhooks", body, {}), 401, "unauthorized");
    await expectProblem(await postJson("/webhooks", body, await asUser(1)), 403, "forbidden");
    await expectProblem(await api("/webhooks", { headers: await asUser(1) }), 403, "forbidden");
  });

  it("refuses private, loopback, link-local and metadata addresses, and plain http", async () => {
    const refused = [
      "http://hooks.example.com/x",
      "https://10.1.2.3/x",
      "https://172.20.0.1/x",
      "https://192.168.1.10/x",
      "https://169.254.169.254/latest/meta-data",
      "https://100.64.0.1/x",
      "https://0.0.0.0/x",
      "https://[fd00:ec2::254]/x",
      "https://[fe80::1]/x",
      "https://[::ffff:10.0.0.1]/x",
      "https://[::]/x",
      "https://[::a00:1]/x", // IPv4-compatible
      "https://[64:ff9b::a00:1]/x", // NAT64
      "https://[2002:a00:1::1]/x", // 6to4
      "https://[2001:0:a00:1::1]/x", // Teredo
      "https://[2001:db8::1]/x", // documentation
      "https://[ff02::1]/x",
      "https://metadata.google.internal/x",
      "https://printer.local/x",
      "https://intranet/x",
      "https://user:pass@hooks.example.com/x",
      "ftp://hooks.example.com/x",
      "not a url",
    ];
    for (const url of refused) {
      const res = await postJson("/webhooks", { url });
      const problem = (await expectProblem(res, 400, "validation_error")) as Problem;
      expect(fieldsOf(problem), url).toEqual(["url"]);
    }
    // Global unicast is public.
    expect((await postJson("/webhooks", { url: "https://[2606:4700::1111]/hooks" })).status).toBe(201);
    await expectProblem(
      await postJson("/webhooks", { url: hookUrl("ok"), event_types: ["ticket.exploded"] }),
      400,
      "validation_error",
    );
  });

  it("allows http://localhost in development only", async () => {
    const local = ["http://localhost:9000/hooks", "http://127.0.0.1:9000/hooks", "https://0x7f.1/hooks"];
    for (const url of local) expect((await postJson("/webhooks", { url })).status, url).toBe(201);
    const { app } = await import("../src/index");
    for (const url of local) {
      const res = await app.fetch(
        new Request("http://tickets.test/webhooks", {
          method: "POST",
          headers: { ...asAdmin, "Content-Type": "application/json" },
          body: JSON.stringify({ url }),
        }),
        { ...env, ENVIRONMENT: "production" },
      );
      expect(res.status, url).toBe(400);
    }
  });
});

describe("events", { timeout: 30_000 }, () => {
  it("delivers each change once, signed, with the object as of the change; none for refused orders", async () => {
    const hook = await register(hookUrl("ok"));
    const ticket = await createTicket({ stock: 3, max_per_order: 3 });
    const bought = [(await buy({ user_id: 1, ticket_id: ticket.id, quantity: 1 })).body as { id: number }];
    bought.push((await buy({ user_id: 2, ticket_id: ticket.id, quantity: 2 })).body as { id: number });
    expect((await buy({ user_id: 3, ticket_id: ticket.id, quantity: 1 })).status).toBe(409); // sold out: no event
    const got = await receivedUntil(hook.url, (g) => g.length >= 4);
    await scheduler.wait(1_500); // and nothing more comes

    const all = await received(hook.url);
    for (const r of all) expect(await verified(hook.secret, r)).toBe(true);
    const byType = (type: string) => events(all).filter((e) => e.type === type);
    expect(
      events(all)
        .map((e) => e.type)
        .sort(),
    ).toEqual(["ticket.created", "purchase.confirmed", "purchase.confirmed", "ticket.sold_out"].sort());
    expect(
      byType("purchase.confirmed")
        .map((e) => e.data.id)
        .sort(),
    ).toEqual(bought.map((p) => p.id).sort());
    expect(byType("purchase.confirmed")[0]!.data).toMatchObject({ ticket_id: ticket.id, status: "confirmed" });
    expect(byType("ticket.sold_out")[0]!.data).toMatchObject({ id: ticket.id, sold: 3, available: 0 });
    expect(byType("ticket.created")[0]!.data).toMatchObject({ id: ticket.id, name: ticket.name });
    for (const r of got) {
      expect(r.headers["webhook-id"]).toBe(JSON.parse(r.body).id);
      expect(r.headers["webhook-id"]).toMatch(/^evt_[0-9a-f]{32}$/);
    }
    // A signature over another body, or with another secret, does not verify.
    const tampered = { ...all[0]!, body: all[0]!.body.replace('"type"', '"type" ') };
    expect(await verified(hook.secret, tampered)).toBe(false);
    const other = await register(hookUrl("ok"));
    expect(await verified(other.secret, all[0]!)).toBe(false);
  });

  it("sends an entry's events with its holder and without its code; a reissue names the entry it replaces", async () => {
    const hook = await register(hookUrl("ok"), [
      "entry.checked_in",
      "entry.check_in_undone",
      "entry.cancelled",
      "entry.reissued",
    ]);
    const ticket = await createTicket({ stock: 5 });
    const { id } = (await buy({ user_id: 42, ticket_id: ticket.id, quantity: 3 })).body as { id: number };
    const { entries } = (await (await api(`/purchases/${id}`, { headers: asAdmin })).json()) as {
      entries: { id: number; code: string }[];
    };
    const [scanned, cancelled, reissued] = entries as [(typeof entries)[0], (typeof entries)[0], (typeof entries)[0]];
    const gate = await asGate([ticket.game_id]);
    expect((await postJson("/checkins", { code: scanned.code, nonce: `events-${id}` }, gate)).status).toBe(200);
    expect((await api(`/checkins/${scanned.id}`, { method: "DELETE", headers: asAdmin })).status).toBe(200);
    expect((await postJson(`/entries/${cancelled.id}/cancel`, {})).status).toBe(200);
    const fresh = (await (await postJson(`/entries/${reissued.id}/reissue`, {})).json()) as { id: number };

    const got = events(await receivedUntil(hook.url, (g) => g.length >= 4));
    const byType = Object.fromEntries(got.map((e) => [e.type, e.data]));
    expect(got).toHaveLength(4);
    expect(byType).toMatchObject({
      "entry.checked_in": { id: scanned.id, status: "checked_in" },
      "entry.check_in_undone": { id: scanned.id, status: "valid" },
      "entry.cancelled": { id: cancelled.id, status: "cancelled" },
      "entry.reissued": { id: fresh.id, status: "valid", replaces: reissued.id },
    });
    for (const e of got) {
      expect(e.data).toMatchObject({ user_id: 42, purchase_id: id, ticket_id: ticket.id, game_id: ticket.game_id });
      expect(e.data).not.toHaveProperty("code"); // a code admits: it goes to its holder only
    }
  });

  it("sends only the types an endpoint asked for", async () => {
    const hook = await register(hookUrl("ok"), ["purchase.held", "purchase.cancelled"]);
    const ticket = await createTicket({ stock: 5 });
    await buy({ user_id: 1, ticket_id: ticket.id });
    const hold = (await (await postJson("/tickets/hold", { user_id: 4, ticket_id: ticket.id })).json()) as {
      id: number;
    };
    expect((await postJson(`/purchases/${hold.id}/cancel`, {})).status).toBe(200);
    const got = await receivedUntil(hook.url, (g) => g.length >= 2);
    await scheduler.wait(1_500);
    expect(events(await received(hook.url)).map((e) => [e.type, e.data.id, e.data.status])).toEqual(
      expect.arrayContaining([
        ["purchase.held", hold.id, "held"],
        ["purchase.cancelled", hold.id, "cancelled"],
      ]),
    );
    expect(got).toHaveLength(2);
  });

  it("never sends an event for a change that was rolled back", async () => {
    const hook = await register(hookUrl("ok"), ["purchase.confirmed"]);
    const ticket = await createTicket({ stock: 5 });
    await buy({ user_id: 1, ticket_id: ticket.id }); // the object owns the ticket
    await receivedUntil(hook.url, (g) => g.length >= 1);
    // A fault inside the sale's transaction, at its last statement: the event's own insert.
    await runInDurableObject(sellerOf(ticket.id), (_, state) => {
      state.storage.sql.exec(
        "CREATE TRIGGER fault AFTER INSERT ON events WHEN NEW.type = 'purchase.confirmed' BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
      );
    });
    const failed = await buy({ user_id: 2, ticket_id: ticket.id });
    expect(failed.status).toBe(503);
    await runInDurableObject(sellerOf(ticket.id), (_, state) => {
      state.storage.sql.exec("DROP TRIGGER fault");
      // Nothing of the sale is left: no purchase, no units, no event.
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM purchases WHERE user_id = 2").one().n).toBe(0);
      expect(state.storage.sql.exec("SELECT sold FROM ticket").one().sold).toBe(1);
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM events").one().n).toBe(0);
    });
    const later = (await buy({ user_id: 3, ticket_id: ticket.id })).body as { id: number };
    await receivedUntil(hook.url, (g) => g.length >= 2);
    await scheduler.wait(1_500);
    const confirmed = events(await received(hook.url)).map((e) => e.data.user_id);
    expect(confirmed).toEqual([1, 3]);
    expect(later.id).toBeGreaterThan(0);
  });
});

describe("events in a rush", () => {
  it("fans a rush out to many endpoints, each event to each once", { timeout: 90_000 }, async () => {
    // 13 endpoints × a queue batch of events: far more rows than D1 binds parameters in one statement.
    const hooks = [];
    for (let i = 0; i < 13; i++) hooks.push(await register(hookUrl("ok"), ["purchase.confirmed"]));
    const ticket = await createTicket({ stock: 20 });
    const bought = await Promise.all(
      Array.from({ length: 20 }, (_, i) => buy({ user_id: 100 + i, ticket_id: ticket.id })),
    );
    const ids = bought.map((b) => b.body.id as number).sort();
    for (const hook of hooks) {
      const got = await receivedUntil(hook.url, (g) => g.length >= 20, 60_000);
      expect(
        events(got)
          .map((e) => e.data.id as number)
          .sort(),
      ).toEqual(ids);
    }
  });

  it("packs many events to a queue message, within the queue's limits, in order", () => {
    const bytes = (x: unknown) => new TextEncoder().encode(JSON.stringify(x)).length;
    const event = (i: number, data: object): WebhookEvent => ({
      id: `evt_${i}`,
      type: "ticket.updated",
      created_at: "",
      data,
    });
    const small = Array.from({ length: 200 }, (_, i) => event(i, { id: i }));
    expect(packEvents(small)).toEqual([[{ kind: "events", events: small }]]);
    const large = Array.from({ length: 40 }, (_, i) => event(i, { description: "é".repeat(15_000) })); // 30 KB each
    const sends = packEvents(large);
    expect(sends.length).toBeGreaterThan(1);
    for (const send of sends) {
      expect(bytes(send)).toBeLessThan(256_000);
      for (const message of send) expect(bytes(message)).toBeLessThan(128_000);
    }
    const ids = sends.flat().flatMap((m) => (m.kind === "events" ? m.events.map((e) => e.id) : []));
    expect(ids).toEqual(large.map((e) => e.id));
  });

  it("sends entry.cancelled for each entry a cancelled purchase cancels", { timeout: 30_000 }, async () => {
    const hook = await register(hookUrl("ok"), ["entry.cancelled", "purchase.cancelled"]);
    const ticket = await createTicket({ stock: 5 });
    const p = (await buy({ user_id: 7, ticket_id: ticket.id, quantity: 2 })).body as { id: number };
    expect((await postJson(`/purchases/${p.id}/cancel`, {}, asAdmin)).status).toBe(200);
    await receivedUntil(hook.url, (g) => g.length >= 3);
    await scheduler.wait(1_500);
    const got = events(await received(hook.url)).map((e) => [e.type, e.data.id, e.data.status]);
    expect(got).toEqual(
      expect.arrayContaining([
        ["purchase.cancelled", p.id, "cancelled"],
        ["entry.cancelled", p.id * 1000 + 1, "cancelled"],
        ["entry.cancelled", p.id * 1000 + 2, "cancelled"],
      ]),
    );
    expect(got).toHaveLength(3);
  });

  it("tells a hold's new end when a checkout lengthens it (purchase.updated)", { timeout: 30_000 }, async () => {
    const hook = await register(hookUrl("ok"), ["purchase.held", "purchase.updated"]);
    const { hold, session } = await held();
    await receivedUntil(hook.url, (g) => g.length >= 2);
    await scheduler.wait(1_500);
    const mine = events(await received(hook.url)).filter((e) => e.data.id === hold.id);
    expect(mine.map((e) => [e.type, e.data.expires_at])).toEqual([
      ["purchase.held", hold.expires_at],
      ["purchase.updated", session.expires_at],
    ]);
  });

  it("sends purchase.refunded only for a purchase that ends refunded", { timeout: 30_000 }, async () => {
    const hook = await register(hookUrl("ok"), ["purchase.confirmed", "purchase.refunded"]);
    const paid = (h: Awaited<ReturnType<typeof held>>, intent: string) =>
      deliverSigned(
        event("checkout.session.completed", {
          id: h.session.session_id,
          purchaseId: h.hold.id,
          ticketId: h.ticket.id,
          intent,
        }),
      );
    // Confirmed by hand, then paid online too: that payment is given back, the purchase stays confirmed.
    const kept = await held();
    expect((await postJson(`/purchases/${kept.hold.id}/confirm`, {}, asAdmin)).status).toBe(200);
    expect(await (await paid(kept, `pi_second_${kept.hold.id}`)).json()).toEqual({
      received: true,
      result: "refunded",
    });
    expect((await purchase(kept.hold.id)).status).toBe("confirmed");
    // Confirmed, cancelled, then paid: the payment is given back and the purchase ends refunded.
    const ended = await held();
    expect((await postJson(`/purchases/${ended.hold.id}/confirm`, {}, asAdmin)).status).toBe(200);
    expect((await postJson(`/purchases/${ended.hold.id}/cancel`, {}, asAdmin)).status).toBe(200);
    expect((await paid(ended, `pi_late_${ended.hold.id}`)).status).toBe(200);
    expect((await purchase(ended.hold.id)).status).toBe("refunded");

    await receivedUntil(hook.url, (g) => g.length >= 3);
    await scheduler.wait(1_500);
    const got = events(await received(hook.url)).map((e) => [e.type, e.data.id]);
    expect(got.filter(([type]) => type === "purchase.refunded")).toEqual([["purchase.refunded", ended.hold.id]]);
    expect(got).toHaveLength(3); // and the two confirmations
  });
});

describe("deliveries", { timeout: 30_000 }, () => {
  const deliveriesOf = async (webhookId: number) =>
    (await (await api(`/webhooks/${webhookId}/deliveries`, { headers: asAdmin })).json()) as Delivery[];

  /** An endpoint that got one purchase.confirmed (attempted once by the live queue), and that delivery. */
  async function oneDelivery(kind: "ok" | "gone" | "fail" | "redirect" | "flaky") {
    const hook = await register(hookUrl(kind), ["purchase.confirmed"]);
    const ticket = await createTicket({ stock: 5 });
    await buy({ user_id: 1, ticket_id: ticket.id });
    await receivedUntil(hook.url, (g) => g.length >= 1);
    let deliveries: Delivery[] = [];
    for (let i = 0; i < 50 && !(deliveries[0]?.attempts ?? 0); i++) {
      deliveries = await deliveriesOf(hook.id);
      await scheduler.wait(50);
    }
    return { hook, delivery: deliveries[0]! };
  }

  /** Runs the worker's consumer on one delivery message, as the queue would on attempt `attempts`. */
  async function attempt(deliveryId: string, attempts: number, queue = "ticket-events") {
    const batch = createMessageBatch<QueueMessage>(queue, [
      {
        id: `msg-${deliveryId}-${attempts}`,
        timestamp: new Date(),
        attempts,
        body: { kind: "delivery", delivery_id: deliveryId },
      },
    ]);
    // The test helpers record a retry but not its delay: watch the call itself.
    const message = batch.messages[0]!;
    const retry = message.retry.bind(message);
    let delaySeconds: number | undefined;
    message.retry = (options) => {
      delaySeconds = options?.delaySeconds;
      retry(options);
    };
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    return { ...(await getQueueResult(batch, ctx)), delaySeconds };
  }

  it("records a 2xx as delivered", async () => {
    const { delivery } = await oneDelivery("ok");
    expect(delivery).toMatchObject({ status: "delivered", attempts: 1, response_code: 204, next_retry_at: null });
  });

  it("retries a failed attempt with exponential backoff, then lets the queue dead-letter it", async () => {
    const { hook, delivery } = await oneDelivery("fail");
    expect(delivery).toMatchObject({ status: "retrying", attempts: 1, response_code: 500 });
    const delays: number[] = [];
    for (let attempts = 2; attempts <= 16; attempts++) {
      const result = await attempt(delivery.id, attempts);
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages).toHaveLength(1);
      delays.push(result.delaySeconds!);
      // What the deliveries list says of the next retry is what the queue was told.
      const [now] = await deliveriesOf(hook.id);
      if (attempts < 16)
        expect(Date.parse(now!.next_retry_at!) - Date.now()).toBeCloseTo(result.delaySeconds! * 1000, -4);
    }
    // 2, 4, 8... minutes, at most 12 hours: about three days over 15 retries.
    expect(delays.slice(0, 4)).toEqual([120, 240, 480, 960]);
    expect(Math.max(...delays)).toBe(12 * 3600);
    const total = 60 + delays.slice(0, -1).reduce((a, b) => a + b, 0); // the 16th attempt's retry goes to the dead letters
    expect(total / 86_400).toBeGreaterThan(2.9);
    expect(total / 86_400).toBeLessThan(3.5);
    const [last] = await deliveriesOf(hook.id);
    expect(last).toMatchObject({ status: "failed", attempts: 16, next_retry_at: null });
    // What the dead-letter queue gets is recorded as dead.
    const dead = await attempt(delivery.id, 1, "ticket-events-dead");
    expect(dead.explicitAcks).toEqual([`msg-${delivery.id}-1`]);
    expect((await deliveriesOf(hook.id))[0]).toMatchObject({ status: "dead", attempts: 16 });
  });

  it("delivers on a later attempt once the endpoint recovers", async () => {
    const { hook, delivery } = await oneDelivery("flaky");
    expect(delivery.status).toBe("retrying");
    expect(new Date(delivery.next_retry_at!).getTime() - Date.now()).toBeGreaterThan(50_000);
    const result = await attempt(delivery.id, 2);
    expect(result.explicitAcks).toHaveLength(1);
    expect((await deliveriesOf(hook.id))[0]).toMatchObject({ status: "delivered", attempts: 2, response_code: 204 });
    const got = await received(hook.url);
    expect(got).toHaveLength(2);
    expect(got[0]!.headers["webhook-id"]).toBe(got[1]!.headers["webhook-id"]); // the receiver de-duplicates by it
  });

  it("does not follow a redirect: it is a failed attempt", async () => {
    const { hook, delivery } = await oneDelivery("redirect");
    expect(delivery).toMatchObject({ status: "retrying", response_code: 302 });
    expect(await received(`https://hooks.test/ok${new URL(hook.url).pathname}`)).toHaveLength(0);
  });

  it("disables an endpoint that answers 410 Gone", async () => {
    const { hook, delivery } = await oneDelivery("gone");
    expect(delivery).toMatchObject({ status: "failed", response_code: 410, next_retry_at: null });
    const now = (await (await api(`/webhooks/${hook.id}`, { headers: asAdmin })).json()) as Webhook;
    expect(now).toMatchObject({ enabled: false, disabled_reason: expect.stringContaining("410") });
    // Later events are not delivered to it; a delivery queued before is skipped.
    const result = await attempt(delivery.id, 2);
    expect(result.explicitAcks).toHaveLength(1);
    expect((await deliveriesOf(hook.id))[0]).toMatchObject({ status: "skipped", attempts: 1 });
    const ticket = await createTicket({ stock: 5 });
    await buy({ user_id: 1, ticket_id: ticket.id });
    await scheduler.wait(2_500);
    expect(await received(hook.url)).toHaveLength(1);
  });

  it("delivers again on an admin's retry, with the same webhook-id", async () => {
    const { hook, delivery } = await oneDelivery("ok");
    const res = await api(`/webhooks/${hook.id}/deliveries/${delivery.id}/retry`, { method: "POST", headers: asAdmin });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ id: delivery.id, status: "pending" });
    const got = await receivedUntil(hook.url, (g) => g.length >= 2);
    expect(got.map((r) => r.headers["webhook-id"])).toEqual([delivery.event_id, delivery.event_id]);
    await expectProblem(
      await api(`/webhooks/${hook.id}/deliveries/dlv_${"0".repeat(32)}/retry`, { method: "POST", headers: asAdmin }),
      404,
      "not_found",
    );
  });

  it("leaves a delivery as it was when an admin's retry cannot reach the queue", async () => {
    const { hook, delivery } = await oneDelivery("fail");
    const { app } = await import("../src/index");
    const unreachable = { send: async () => Promise.reject(new Error("queue unavailable")) };
    const res = await app.fetch(
      new Request(`http://tickets.test/webhooks/${hook.id}/deliveries/${delivery.id}/retry`, {
        method: "POST",
        headers: asAdmin,
      }),
      { ...env, EVENTS: unreachable },
    );
    await expectProblem(res, 503, "outcome_unknown");
    // Not left "pending" with nothing queued to attempt it: the queue's own retry stays as it was.
    expect((await deliveriesOf(hook.id))[0]).toMatchObject({
      status: "retrying",
      attempts: 1,
      next_retry_at: delivery.next_retry_at,
    });
  });

  it("stops the deliveries of a deleted endpoint", async () => {
    const { hook, delivery } = await oneDelivery("fail");
    expect((await api(`/webhooks/${hook.id}`, { method: "DELETE", headers: asAdmin })).status).toBe(204);
    const result = await attempt(delivery.id, 2);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await received(hook.url)).toHaveLength(1);
  });
});

describe("ticket.created", { timeout: 30_000 }, () => {
  it("is written with the ticket, and sent by the cron's sweep when its send failed", async () => {
    const hook = await register(hookUrl("ok"), ["ticket.created"]);
    // The ticket and its event are inserted in one D1 batch.
    const res = await exports.default.fetch(
      new Request("http://tickets.test/tickets", {
        method: "POST",
        headers: { ...asAdmin, "Content-Type": "application/json" },
        body: JSON.stringify({ game_id: 77, name: "Sweep", price: 10, stock: 5 }),
      }),
    );
    const ticket = (await res.json()) as { id: number };
    const got = await receivedUntil(hook.url, (g) => g.length >= 1);
    expect(events(got).map((e) => [e.type, e.data.id])).toEqual([["ticket.created", ticket.id]]);
    const pending = await env.DB.prepare("SELECT count(*) AS n FROM event_outbox").first<{ n: number }>();
    expect(pending?.n).toBe(0);
    // One whose send never happened (a crash after the commit) goes out with the next sweep.
    await env.DB.prepare(
      "INSERT INTO event_outbox (id, type, ticket_id, created_at) VALUES (?, 'ticket.created', ?, ?)",
    )
      .bind(`evt_${"a".repeat(32)}`, ticket.id, new Date().toISOString())
      .run();
    await worker.scheduled(createScheduledController({ cron: "*/5 * * * *" }), env);
    const swept = await receivedUntil(hook.url, (g) => g.length >= 2);
    expect(swept.map((r) => r.headers["webhook-id"])).toContain(`evt_${"a".repeat(32)}`);
  });
});
