import { asc, sql } from "drizzle-orm";
import type { DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { Backoff, logError, withTimeout } from "../ticket/backoff";
import { type EventRow, events } from "./schema";
import { type EventDraft, type EventType, newId, packEvents, type QueueMessage, type WebhookEvent } from "./types";

// An object's events (src/events/schema.ts): written by its changes, in their
// transactions, then handed to the queue by one publisher at a time, and
// forgotten once the queue has them. At least once: a crash between the two
// sends them again. Shared by the ticket's and the order's objects.

type Db = DrizzleSqliteDODatabase;
const p = sql.placeholder;

function prepare(db: Db) {
  return {
    // A change's events, as a JSON array of [id, type, data]: one statement however many (seq NULL: the next).
    append: db
      .insert(events)
      .select(
        sql`SELECT NULL, value ->> 0, value ->> 1, ${p("now")}, value ->> 2 FROM json_each(${p("rows")}) WHERE true`,
      )
      .prepare(),
    pending: db.select().from(events).orderBy(asc(events.seq)).limit(p("limit")).prepare(),
    forget: db
      .delete(events)
      .where(sql`${events.seq} IN (SELECT value FROM json_each(${p("seqs")}))`)
      .prepare(),
  };
}
const prepared = new WeakMap<Db, ReturnType<typeof prepare>>();
const q = (db: Db) => {
  let statements = prepared.get(db);
  if (!statements) {
    statements = prepare(db);
    prepared.set(db, statements);
  }
  return statements;
};

/** Inside a change: its events, to be published once it commits. */
export function appendEvents(db: Db, drafts: EventDraft[]): void {
  if (drafts.length === 0) return;
  const rows = drafts.map((d) => [newId("evt"), d.type, JSON.stringify(d.data)]);
  q(db).append.run({ rows: JSON.stringify(rows), now: new Date().toISOString() });
}

/** Events not yet handed to the queue, oldest first. */
const pendingEvents = (db: Db, limit: number): EventRow[] => q(db).pending.all({ limit });

export const hasPendingEvents = (db: Db): boolean => pendingEvents(db, 1).length > 0;

const asEvent = (row: EventRow): WebhookEvent => ({
  id: row.id,
  type: row.type as EventType,
  created_at: row.created_at,
  data: JSON.parse(row.data),
});

/** Events handed to the queue at a time (packed into a few messages). */
const PER_SEND = 200;
/** A send waits this long for more events, so a rush's events share sends rather than each making one. */
const GATHER_MS = 100;

export class Publisher {
  readonly backoff = new Backoff();
  #running: Promise<unknown> | undefined;

  constructor(
    private readonly db: Db,
    private readonly queue: Queue<QueueMessage>,
    private readonly onFailure: (retryAt: number) => Promise<void>,
  ) {}

  /** Hands pending events to the queue; a no-op while it runs, or in backoff unless `retry` (the alarm). */
  flush(retry = false): Promise<unknown> {
    if (this.#running) return this.#running;
    if (this.backoff.waiting && !retry) return Promise.resolve();
    this.#running = this.#drain(!retry)
      .catch((err) => logError("publishing events stopped", {}, err))
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  async #drain(gather: boolean): Promise<void> {
    for (;;) {
      if (gather) await scheduler.wait(GATHER_MS);
      const rows = pendingEvents(this.db, PER_SEND);
      if (rows.length === 0) return;
      try {
        // A failure part way sends the first ones again later: delivery is at least once anyway.
        for (const send of packEvents(rows.map(asEvent))) {
          await withTimeout(this.queue.sendBatch(send.map((body) => ({ body }))));
        }
      } catch (err) {
        const delay = this.backoff.failed();
        logError("sending events to the queue failed", { events: rows.length, retry_in_ms: delay }, err);
        await this.onFailure(this.backoff.retryAt);
        return;
      }
      this.backoff.succeeded();
      q(this.db).forget.run({ seqs: JSON.stringify(rows.map((r) => r.seq)) });
      gather = rows.length < PER_SEND; // a full send: more are waiting already
    }
  }
}
