import { database } from "../db/queries";
import * as hooks from "../db/webhooks";
import { toTicket } from "../present";
import { logError } from "../ticket/backoff";
import { describeFailure } from "./failure";
import { sign } from "./signing";
import { type EventType, packEvents, type QueueMessage, type WebhookEvent } from "./types";

// The queue's consumer: an event is fanned out to the endpoints that want it
// (one delivery each, recorded in D1), and each delivery is attempted with
// the queue's own retries, with growing delays, for about three days; then
// the dead-letter queue. At least once: an endpoint may get a delivery twice
// (a lost answer, a crash after sending), with the same webhook-id.

export const EVENTS_QUEUE = "ticket-events";
export const DEAD_LETTER_QUEUE = "ticket-events-dead";
/** As wrangler.toml's max_retries: the 16th attempt is the last. */
export const MAX_RETRIES = 15;
const TIMEOUT_MS = 10_000;

/** Seconds before the next attempt after `attempts` failed ones: 1 minute doubling, at most 12 hours (the queue's longest delay). */
export const retryDelay = (attempts: number) => Math.min(60 * 2 ** (attempts - 1), 12 * 3600);

export async function queue(batch: MessageBatch<QueueMessage>, env: Env): Promise<void> {
  const retry = (msg: Message<QueueMessage>) => msg.retry({ delaySeconds: retryDelay(msg.attempts) });
  const events: Message<QueueMessage & { kind: "events" }>[] = [];
  const work = batch.messages.map(async (msg) => {
    const body = msg.body;
    try {
      if (batch.queue === DEAD_LETTER_QUEUE) await buried(env, body);
      else if (body.kind === "events") return events.push(msg as Message<typeof body>);
      // Past the last retry the queue moves it to the dead-letter queue.
      else if (!(await attempt(env, body.delivery_id, msg.attempts))) return retry(msg);
      msg.ack();
    } catch (err) {
      logError("handling a queued delivery failed", { queue: batch.queue, attempts: msg.attempts }, err);
      retry(msg);
    }
  });
  await Promise.all(work);
  if (events.length === 0) return;
  try {
    await fanOut(
      env,
      events.flatMap((m) => m.body.events),
    );
    for (const m of events) m.ack();
  } catch (err) {
    logError("fanning events out failed", { events: events.length }, err);
    for (const m of events) retry(m);
  }
}

async function fanOut(env: Env, events: WebhookEvent[]): Promise<void> {
  const deliveries = await hooks.fanOut(database(env.DB), events);
  for (let i = 0; i < deliveries.length; i += 100) {
    const some = deliveries.slice(i, i + 100);
    await env.EVENTS.sendBatch(some.map((id) => ({ body: { kind: "delivery", delivery_id: id } })));
  }
}

/** One attempt of a delivery; false when it is to be tried again. */
async function attempt(env: Env, deliveryId: string, attempts: number): Promise<boolean> {
  const db = database(env.DB);
  const found = await hooks.deliveryToAttempt(db, deliveryId);
  if (!found) return true; // the endpoint was deleted
  const { delivery, webhook, body } = found;
  if (!webhook.enabled) {
    await hooks.setDeliveryStatus(db, deliveryId, "skipped");
    return true;
  }
  const timestamp = Math.floor(Date.now() / 1000);
  const started = Date.now();
  let code: number | null = null;
  let error: string | null = null;
  try {
    const res = await fetch(webhook.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "ticket-sales-api-webhooks/1",
        "webhook-id": delivery.event_id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": await sign(webhook.secret, delivery.event_id, timestamp, body),
      },
      body,
      redirect: "manual", // a redirect is not followed: it is a failed attempt
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    code = res.status;
    const text = await res.text();
    if (!res.ok) error = `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ""}`;
  } catch (err) {
    error = await describeFailure(err, webhook.url, TIMEOUT_MS);
  }
  const outcome = { response_code: code, duration_ms: Date.now() - started, error };
  if (code !== null && code >= 200 && code < 300) {
    await hooks.recordAttempt(db, deliveryId, { status: "delivered", ...outcome, next_retry_at: null });
    return true;
  }
  if (code === 410) {
    // Gone: the receiver asks for no more deliveries.
    await hooks.disableWebhook(db, webhook.id, "the endpoint answered 410 Gone");
    await hooks.recordAttempt(db, deliveryId, { status: "failed", ...outcome, next_retry_at: null });
    return true;
  }
  const last = attempts > MAX_RETRIES;
  const next = last ? null : new Date(Date.now() + retryDelay(attempts) * 1000).toISOString();
  await hooks.recordAttempt(db, deliveryId, { status: last ? "failed" : "retrying", ...outcome, next_retry_at: next });
  return false;
}

/** A message that exhausted its retries. */
async function buried(env: Env, msg: QueueMessage): Promise<void> {
  if (msg.kind === "events") {
    const ids = msg.events.map((e) => e.id);
    logError("events could not be fanned out to their webhooks", { event_ids: ids }, "retries exhausted");
    return;
  }
  await hooks.setDeliveryStatus(database(env.DB), msg.delivery_id, "dead");
}

/**
 * Sends the events of ticket creations written in D1 (with their tickets, in
 * one batch) and not sent yet: right after a creation, and on the cron sweep
 * for those whose send failed. Their data is the ticket as D1 has it now.
 */
export async function sendCreations(env: Env): Promise<void> {
  const db = database(env.DB);
  for (;;) {
    const rows = await hooks.unsentCreations(db, 100);
    if (rows.length === 0) return;
    const events = rows.map(
      ({ outbox, ticket }): WebhookEvent => ({
        id: outbox.id,
        type: outbox.type as EventType,
        created_at: outbox.created_at,
        data: toTicket(ticket),
      }),
    );
    for (const send of packEvents(events)) await env.EVENTS.sendBatch(send.map((body) => ({ body })));
    await hooks.forgetCreations(
      db,
      events.map((e) => e.id),
    );
    if (rows.length < 100) return;
  }
}

/** Events and their deliveries' records are kept this long. */
const KEEP_DAYS = 30;

export async function scheduled(env: Env): Promise<void> {
  await sendCreations(env);
  await hooks.pruneEvents(database(env.DB), new Date(Date.now() - KEEP_DAYS * 86_400_000).toISOString());
}
