import {
  advanceClock,
  deleteOtherPurchases,
  insertEntryChanges,
  upsertPurchases,
  upsertTicket,
} from "../db/projection";
import { newerBookmark } from "../db/queries";
import { Backoff, logError, withTimeout } from "./backoff";
import * as store from "./store";

// The projection of the object's changes into D1. Changes wait in the
// outbox (written in their own transaction); one flush at a time carries all
// of them to D1 in one batch, so everything that changed during a D1 round
// trip shares the next one (group commit).

/** Rows per flush: one D1 batch. */
const MAX_ROWS = 200;
/** A writer's flush waits this long for other writers' changes first (group commit). */
const GATHER_MS = 10;
/** A writer waits at most this long for the flush that carries its change. */
export const PROJECTION_WAIT_MS = 2_000;
const RESYNC_PAGE = 500;

export class Outbox {
  readonly backoff = new Backoff();
  #projected: number;
  #waiters: { version: number; resolve: () => void }[] = [];
  #running: Promise<unknown> | undefined; // the flush or resync under way: one at a time
  #bookmark: string | null = null;

  constructor(
    private readonly db: store.Store,
    private readonly d1: D1Database,
    private readonly onFailure: (retryAt: number) => Promise<void>,
  ) {
    this.#projected = store.projectedVersion(db);
  }

  /** D1's bookmark after the latest projection: a read at least this fresh sees every projected change. */
  get bookmark(): string | null {
    return this.#bookmark;
  }

  /** Every change up to this version is in D1. */
  get projected(): number {
    return this.#projected;
  }

  /**
   * Resolves once D1 holds every change up to `version` (read-your-writes),
   * or after PROJECTION_WAIT_MS; at once while D1 is known to be failing.
   */
  async settled(version: number): Promise<void> {
    if (this.#projected >= version || this.backoff.waiting) return;
    await new Promise<void>((resolve) => {
      const waiter = {
        version,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve();
      }, PROJECTION_WAIT_MS);
      this.#waiters.push(waiter);
      void this.flush(false, GATHER_MS);
    });
  }

  /**
   * Carries pending changes to D1 until none is left; a no-op while one runs,
   * or while D1 is in backoff unless `retry` (the alarm that ends the backoff).
   */
  flush(retry = false, gather = 0): Promise<unknown> {
    if (this.#running) return this.#running;
    if (this.backoff.waiting && !retry) return Promise.resolve();
    this.#running = this.#drain(gather)
      .catch((err) => logError("projection stopped", {}, err)) // the object is being reset: its successor resumes
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  async #drain(gather: number): Promise<void> {
    for (;;) {
      // Writers in a rush wait a moment for each other: one D1 batch carries many sales, not one or two.
      if (gather > 0) await scheduler.wait(gather);
      const entries = store.pendingChanges(this.db, MAX_ROWS);
      if (entries.length === 0) return;
      const rows = store.rowsOf(this.db, entries);
      const { ticket } = rows;
      const session = this.d1.withSession("first-primary");
      try {
        await withTimeout(
          session.batch([
            upsertTicket(session, ticket),
            advanceClock(session, ticket.id, ticket.clock),
            ...upsertPurchases(session, ticket, rows.purchases),
            ...insertEntryChanges(session, ticket, rows.entries),
          ]),
        );
      } catch (err) {
        const delay = this.backoff.failed();
        logError("projection to D1 failed", { ticket_id: ticket.id, rows: entries.length, retry_in_ms: delay }, err);
        await this.onFailure(this.backoff.retryAt);
        return;
      }
      this.backoff.succeeded();
      this.#bookmark = newerBookmark(this.#bookmark, session.getBookmark());
      // Progress is rows done (one change may touch more rows than a flush carries: it counts as projected
      // once all of them are) or rows whose earlier changes are done (they changed again meanwhile).
      const advanced = store.markProjected(this.db, entries, ticket.clock, entries.length < MAX_ROWS);
      this.#projected = store.projectedVersion(this.db);
      if (advanced === 0) {
        // Cannot happen while every change takes a new version; never spin on D1 if it does.
        logError("the outbox did not advance", { ticket_id: ticket.id, projected: this.#projected }, null);
        return;
      }
      const settled = this.#waiters.filter((w) => w.version <= this.#projected);
      this.#waiters = this.#waiters.filter((w) => w.version > this.#projected);
      for (const w of settled) w.resolve();
    }
  }

  /**
   * Rewrites the ticket and all its purchases in D1 from this object, and
   * deletes D1 purchases of the ticket that the object does not have.
   * Runs alone: no flush overlaps it.
   */
  async resync(): Promise<{ purchases: number }> {
    while (this.#running) await this.#running.catch(() => {});
    const run = this.#resync();
    this.#running = run
      .catch(() => {})
      .finally(() => {
        this.#running = undefined;
        void this.flush(); // changes made meanwhile
      });
    return run;
  }

  async #resync(): Promise<{ purchases: number }> {
    let after = 0;
    let count = 0;
    for (;;) {
      const ticket = store.readTicket(this.db)!;
      const page = store.purchasesAfter(this.db, after, RESYNC_PAGE);
      const last = page.length < RESYNC_PAGE;
      const to = last ? Number.MAX_SAFE_INTEGER : page.at(-1)!.id;
      await withTimeout(
        this.d1.batch([
          upsertTicket(this.d1, ticket, "repair"),
          ...upsertPurchases(this.d1, ticket, page, "repair"),
          deleteOtherPurchases(
            this.d1,
            ticket,
            after + 1,
            to,
            page.map((p) => p.id),
          ),
        ]),
      );
      count += page.length;
      after = to;
      if (last) return { purchases: count };
    }
  }
}
