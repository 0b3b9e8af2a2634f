import { type EventDraft, type EventType, packEvents, type QueueMessage, type WebhookEvent } from "../events/types";
import { toPurchase, toScannedEntry, toTicket } from "../present";
import { Backoff, logError, withTimeout } from "./backoff";
import { available } from "./rules";
import type { EntryRow, EventRow, PurchaseRow, TicketRow } from "./schema";
import { forgetEvents, pendingEvents, type Store } from "./store";

// The object's events: drafted by its writes (in their transactions), then
// handed to the queue by one publisher at a time, and forgotten once the
// queue has them. At least once: a crash between the two sends them again.

export const ticketEvent = (type: EventType, t: TicketRow): EventDraft => ({ type, data: toTicket(t) });

export const purchaseEvent = (type: EventType, t: TicketRow, p: PurchaseRow): EventDraft => ({
  type,
  data: toPurchase({ ...p, ticket_id: t.id, game_id: t.game_id }),
});

/** An entry's event: without its code, a credential that only its holder (and the gate) should see. */
export const entryEvent = (
  type: EventType,
  t: TicketRow,
  e: EntryRow,
  userId: number,
  extra: object = {},
): EventDraft => ({
  type,
  data: { ...toScannedEntry(e, { ticket_id: t.id, game_id: t.game_id }), user_id: userId, ...extra },
});

/** `ticket.sold_out` when moving these units takes the last free ones (`t` as before the move). */
export function soldOut(t: TicketRow, units: { sold?: number; held?: number }): EventDraft[] {
  const taken = (units.sold ?? 0) + (units.held ?? 0);
  const before = available(t);
  if (before <= 0 || before - taken > 0) return [];
  return [ticketEvent("ticket.sold_out", { ...t, sold: t.sold + (units.sold ?? 0), held: t.held + (units.held ?? 0) })];
}

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
    private readonly db: Store,
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
      forgetEvents(
        this.db,
        rows.map((r) => r.seq),
      );
      gather = rows.length < PER_SEND; // a full send: more are waiting already
    }
  }
}
