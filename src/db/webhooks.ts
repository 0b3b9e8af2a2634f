import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";
import type { WebhookEvent } from "../events/types";
import { newId } from "../events/types";
import type { Db } from "./queries";
import { eventOutbox, tickets, webhookDeliveries, webhookEvents, webhooks } from "./schema";

// Webhook endpoints, the events they get and every delivery's state, in D1.

export type WebhookRow = typeof webhooks.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export interface WebhookInput {
  url: string;
  event_types: string[];
  enabled: boolean;
}

export async function createWebhook(db: Db, input: WebhookInput, secret: string): Promise<WebhookRow> {
  const now = new Date().toISOString();
  const [row] = await db
    .insert(webhooks)
    .values({ ...input, secret, created_at: now, updated_at: now })
    .returning();
  return row!;
}

export const listWebhooks = (db: Db) => db.select().from(webhooks).orderBy(webhooks.id);

export const getWebhook = async (db: Db, id: number) =>
  (await db.select().from(webhooks).where(eq(webhooks.id, id)).limit(1))[0];

/** Changes an endpoint; enabling it again clears why it was disabled. */
export async function updateWebhook(db: Db, id: number, patch: Partial<WebhookInput>) {
  const [row] = await db
    .update(webhooks)
    .set({ ...patch, ...(patch.enabled ? { disabled_reason: null } : {}), updated_at: new Date().toISOString() })
    .where(eq(webhooks.id, id))
    .returning();
  return row;
}

/** Deletes an endpoint with its deliveries' records; deliveries already queued find it gone and stop. */
export async function deleteWebhook(db: Db, id: number): Promise<boolean> {
  const [, gone] = await db.batch([
    db.delete(webhookDeliveries).where(eq(webhookDeliveries.webhook_id, id)),
    db.delete(webhooks).where(eq(webhooks.id, id)).returning({ id: webhooks.id }),
  ]);
  return gone.length > 0;
}

export const listDeliveries = (db: Db, webhookId: number, limit: number) =>
  db
    .select()
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.webhook_id, webhookId))
    .orderBy(desc(webhookDeliveries.created_at), desc(webhookDeliveries.id))
    .limit(limit);

export const getDelivery = async (db: Db, webhookId: number, id: string) =>
  (
    await db
      .select()
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.webhook_id, webhookId), eq(webhookDeliveries.id, id)))
      .limit(1)
  )[0];

const wants = (w: WebhookRow, e: WebhookEvent) => w.event_types.includes("*") || w.event_types.includes(e.type);

/**
 * Records events and one delivery per endpoint that wants each (once,
 * however often an event arrives), and returns the deliveries not yet
 * attempted. One read of the endpoints, then a D1 batch and a read per 50
 * events (a queue batch may carry thousands; the read binds their ids).
 */
export async function fanOut(db: Db, events: WebhookEvent[]): Promise<string[]> {
  const enabled = await db.select().from(webhooks).where(eq(webhooks.enabled, true));
  const wanted = events.filter((e) => enabled.some((w) => wants(w, e)));
  const fresh: string[] = [];
  for (let i = 0; i < wanted.length; i += 50) fresh.push(...(await fanOutSome(db, enabled, wanted.slice(i, i + 50))));
  return fresh;
}

async function fanOutSome(db: Db, enabled: WebhookRow[], wanted: WebhookEvent[]): Promise<string[]> {
  const now = new Date().toISOString();
  const deliveries = wanted.flatMap((e) =>
    enabled
      .filter((w) => wants(w, e))
      .map((w) => ({ id: newId("dlv"), webhook_id: w.id, event_id: e.id, event_type: e.type, at: now })),
  );
  const rows = wanted.map((e) => ({ id: e.id, type: e.type, created_at: e.created_at, data: JSON.stringify(e) }));
  // Each table's rows in one JSON parameter: D1 binds at most 100 per statement, whatever the rush.
  // (On the D1 client itself: Drizzle's batch cannot bind the parameters of a raw `db.run(sql)`.)
  const d1 = db.$client;
  await d1.batch([
    d1
      .prepare(
        `INSERT INTO webhook_events (id, type, created_at, data)
         SELECT j.value ->> 'id', j.value ->> 'type', j.value ->> 'created_at', j.value ->> 'data'
         FROM json_each(?) AS j WHERE true ON CONFLICT DO NOTHING`,
      )
      .bind(JSON.stringify(rows)),
    d1
      .prepare(
        `INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, created_at, updated_at)
         SELECT j.value ->> 'id', j.value ->> 'webhook_id', j.value ->> 'event_id', j.value ->> 'event_type',
           j.value ->> 'at', j.value ->> 'at'
         FROM json_each(?) AS j WHERE true ON CONFLICT DO NOTHING`,
      )
      .bind(JSON.stringify(deliveries)),
  ]);
  const fresh = await db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(
      and(
        inArray(
          webhookDeliveries.event_id,
          wanted.map((e) => e.id),
        ),
        eq(webhookDeliveries.status, "pending"),
        eq(webhookDeliveries.attempts, 0),
      ),
    );
  return fresh.map((d) => d.id);
}

/** A delivery with what it takes to attempt it: its endpoint and its event's body; undefined once deleted. */
export async function deliveryToAttempt(db: Db, id: string) {
  const [row] = await db
    .select({ delivery: webhookDeliveries, webhook: webhooks, body: webhookEvents.data })
    .from(webhookDeliveries)
    .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhook_id))
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.event_id))
    .where(eq(webhookDeliveries.id, id))
    .limit(1);
  return row;
}

export type Attempt = Pick<DeliveryRow, "status" | "response_code" | "duration_ms" | "error" | "next_retry_at">;

/** Records one attempt of a delivery and how it went. */
export async function recordAttempt(db: Db, id: string, attempt: Attempt): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({ ...attempt, attempts: sql`${webhookDeliveries.attempts} + 1`, updated_at: new Date().toISOString() })
    .where(eq(webhookDeliveries.id, id));
}

/** A delivery's new state without an attempt: skipped, dead, pending again (a manual retry), or as it was. */
export async function setDeliveryStatus(
  db: Db,
  id: string,
  status: DeliveryRow["status"],
  nextRetryAt: string | null = null,
): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({ status, next_retry_at: nextRetryAt, updated_at: new Date().toISOString() })
    .where(eq(webhookDeliveries.id, id));
}

/** An endpoint that answered 410 Gone: no more deliveries until an admin enables it again. */
export async function disableWebhook(db: Db, id: number, reason: string): Promise<void> {
  await db
    .update(webhooks)
    .set({ enabled: false, disabled_reason: reason, updated_at: new Date().toISOString() })
    .where(eq(webhooks.id, id));
}

/** Deletes events (and their deliveries' records) older than `before`. */
export async function pruneEvents(db: Db, before: string): Promise<void> {
  const old = db.select({ id: webhookEvents.id }).from(webhookEvents).where(lt(webhookEvents.created_at, before));
  await db.batch([
    db.delete(webhookDeliveries).where(inArray(webhookDeliveries.event_id, old)),
    db.delete(webhookEvents).where(lt(webhookEvents.created_at, before)),
  ]);
}

/** Ticket creations whose events were written but not yet sent, oldest first, with the ticket as D1 has it now. */
export const unsentCreations = (db: Db, limit: number) =>
  db
    .select({ outbox: eventOutbox, ticket: tickets })
    .from(eventOutbox)
    .innerJoin(tickets, eq(tickets.id, eventOutbox.ticket_id))
    .orderBy(eventOutbox.created_at)
    .limit(limit);

export async function forgetCreations(db: Db, ids: string[]): Promise<void> {
  if (ids.length > 0) await db.delete(eventOutbox).where(inArray(eventOutbox.id, ids));
}
