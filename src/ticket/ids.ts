import { allocatePurchaseIds, type Db } from "../db/queries";
import { Backoff, logError, withTimeout } from "./backoff";
import * as store from "./store";

// Purchase ids are unique across tickets, so D1 hands them out, in blocks
// (hi/lo): a sale takes the next id from its object's reserve and never waits
// on D1. The object tops the reserve up ahead of need, sized to what it used
// in the last minute, so a D1 outage of a minute or more does not stop sales.

export const ID_BLOCK = 4_096;

export class IdReserve {
  readonly backoff = new Backoff();
  #refilling: Promise<boolean> | undefined;
  // Ids used in the current minute and the one before: the recent rate.
  #minute = { start: 0, used: 0, before: 0 };

  constructor(
    private readonly db: store.Store,
    private readonly d1: Db,
  ) {}

  used(): void {
    const now = Date.now();
    if (now - this.#minute.start >= 60_000) {
      const consecutive = now - this.#minute.start < 120_000;
      this.#minute = { start: now, used: 0, before: consecutive ? this.#minute.used : 0 };
    }
    this.#minute.used++;
  }

  #lastMinute(): number {
    return this.#minute.used + this.#minute.before;
  }

  /**
   * After a sale took an id, with `leftInBlock` left in its block: whether
   * fewer ids are left than half a block, or than a minute's worth at the
   * recent rate. Blocks are used in order, so a full enough block settles it.
   */
  low(leftInBlock: number): boolean {
    const want = Math.max(ID_BLOCK / 2, this.#lastMinute());
    return leftInBlock < want && store.reservedIds(this.db) < want;
  }

  /** Reserves another block in D1 for this ticket, one request at a time; false when D1 failed or is in backoff. */
  refill(ticketId: number): Promise<boolean> {
    if (this.backoff.waiting) return Promise.resolve(false);
    this.#refilling ??= (async () => {
      const size = Math.max(ID_BLOCK, 2 * this.#lastMinute());
      try {
        const { start, end } = await withTimeout(allocatePurchaseIds(this.d1, size, ticketId));
        store.addIdBlock(this.db, start, end);
        this.backoff.succeeded();
        return true;
      } catch (err) {
        const delay = this.backoff.failed();
        logError("purchase id block request failed", { retry_in_ms: delay, reserved: store.reservedIds(this.db) }, err);
        return false;
      }
    })().finally(() => {
      this.#refilling = undefined;
    });
    return this.#refilling;
  }
}
