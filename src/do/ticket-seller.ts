import { DurableObject } from "cloudflare:workers";
import { allocatePurchaseIds, database, getTicket, type IdempotencyKey, listPurchasesOfTicket } from "../db/queries";
import type { TicketRow as D1TicketRow } from "../db/schema";
import { logError, withTimeout } from "./backoff";
import { ID_BLOCK, IdReserve } from "./ids";
import { Outbox } from "./outbox";
import { patchRefusal, type Rejection, saleRefusal, type TicketPatch } from "./rules";
import { adoptTicket, applyPatch, recordSale } from "./sales";
import type { PurchaseRow, TicketRow } from "./schema";
import * as store from "./store";

export type { Rejection, TicketPatch } from "./rules";

export interface OrderRequest {
  user_id: number;
  quantity: number;
  idempotency?: IdempotencyKey;
  /** Epoch ms after which the caller has given up: an order that waited past it is not run. */
  deadline?: number;
}

/** A purchase as the API shows it: the object's row with its ticket and game. */
export type Purchase = Omit<PurchaseRow, "idem_principal" | "idem_key" | "idem_hash"> & {
  ticket_id: number;
  game_id: number;
};
export type BuyOutcome = { ok: true; purchase: Purchase } | Rejection;
export type UpdateOutcome = { ok: true; ticket: TicketRow } | Rejection;
export type ResyncOutcome = { ok: true; purchases: number } | Rejection;

/** At most this many calls wait inside one object; past it, new ones are refused at once. */
export const MAX_IN_FLIGHT = 1_000;
/** With changes pending, an alarm at most this far ahead projects them even if nothing else calls (after a crash). */
const PENDING_ALARM_MS = 5_000;

const unavailable = (reason: string): Rejection => ({ ok: false, code: "unavailable", reason });

const asPurchase = (t: TicketRow, { idem_principal, idem_key, idem_hash, ...p }: PurchaseRow): Purchase => ({
  ...p,
  ticket_id: t.id,
  game_id: t.game_id,
});

/**
 * One object per ticket: the one owner of that ticket's truth. Its state
 * lives in its own SQLite; every change is one synchronous transaction there,
 * outbox entry included, decided and committed on arrival. D1 is the read
 * model, fed from the outbox; a writer's answer waits (boundedly) for the
 * flush that carries its change, so its next read sees it.
 */
export class TicketSeller extends DurableObject<Env> {
  #db!: store.Store;
  #d1 = database(this.env.DB);
  #outbox!: Outbox;
  #ids!: IdReserve;
  #alarmAt: number | null = null;
  #adopted = false; // once true, for good: the ticket's row exists in storage
  #adopting: Promise<Rejection | null> | undefined;
  #inFlight = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#db = store.openStore(ctx.storage);
      this.#outbox = new Outbox(this.#db, this.env.DB, (at) => this.#armAlarm(at));
      this.#ids = new IdReserve(this.#db, this.#d1);
      this.#alarmAt = await ctx.storage.getAlarm();
      // Changes a crash left unprojected go out now, not only at the alarm.
      if (store.hasPendingChanges(this.#db)) void this.#outbox.flush();
    });
  }

  async buy(ticketId: number, order: OrderRequest): Promise<BuyOutcome> {
    return this.#admit(async () => {
      for (let attempt = 0; ; attempt++) {
        const missing = await this.#owned(ticketId, order.deadline);
        if (missing) return missing;
        // From here to the commit nothing is awaited: the decision and the write see the same state.
        const t = store.readTicket(this.#db)!;
        const key = order.idempotency;
        const stored = key && store.findByKey(this.#db, key.principal, key.key);
        if (stored) {
          if (stored.idem_hash !== key.hash) return { ok: false, code: "key_reused" };
          await this.#outbox.settled(stored.version);
          return { ok: true, purchase: asPurchase(t, stored) };
        }
        const now = new Date().toISOString();
        const bought = t.max_per_user === null ? 0 : store.unitsOf(this.#db, order.user_id);
        const refused = saleRefusal(t, now, bought, order.quantity);
        if (refused) return refused;
        const sold = recordSale(this.#db, t, order, now);
        if (sold) {
          this.#ids.used();
          if (this.#ids.low(sold.idsLeft)) void this.#ids.refill();
          await this.#written(sold.purchase.version);
          return { ok: true, purchase: asPurchase(t, sold.purchase) };
        }
        // No purchase id left: only D1 can reserve more. Decide again once it has.
        if (attempt > 0 || !(await this.#ids.refill())) return unavailable("no purchase ids reserved");
      }
    });
  }

  /** Applies an admin's change to the ticket; the next order sees it. */
  async update(ticketId: number, patch: TicketPatch): Promise<UpdateOutcome> {
    return this.#admit(async () => {
      const missing = await this.#owned(ticketId);
      if (missing) return missing;
      const t = store.readTicket(this.#db)!;
      const refused = patchRefusal(t, patch);
      if (refused) return refused;
      const changes = Object.entries(patch).some(([k, v]) => t[k as keyof TicketRow] !== v);
      if (!changes) return { ok: true, ticket: t };
      const row = applyPatch(this.#db, t, patch, new Date().toISOString());
      await this.#written(row.version);
      return { ok: true, ticket: row };
    });
  }

  /** Takes ownership of a ticket just created in D1, so its first sale need not read D1. */
  async adopt(ticketId: number, row: D1TicketRow): Promise<void> {
    await this.#admit(() => this.#owned(ticketId, undefined, row));
  }

  /** Rewrites the ticket and its purchases in D1 from this object (repairs the read model). */
  async resync(ticketId: number): Promise<ResyncOutcome> {
    return this.#admit(async () => {
      const missing = await this.#owned(ticketId);
      if (missing) return missing;
      try {
        return { ok: true, ...(await this.#outbox.resync()) };
      } catch (err) {
        logError("resync failed", { ticket_id: ticketId }, err);
        return unavailable("D1 failed during the resync");
      }
    });
  }

  /** The ticket as this object holds it (the truth, not the read model). */
  async ticket(ticketId: number): Promise<TicketRow | Rejection> {
    return this.#admit(async () => (await this.#owned(ticketId)) ?? store.readTicket(this.#db)!);
  }

  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    await this.#outbox.flush(true);
    if (store.hasPendingChanges(this.#db)) {
      const backoff = this.#outbox.backoff;
      await this.#armAlarm(backoff.waiting ? backoff.retryAt : Date.now() + PENDING_ALARM_MS);
    }
  }

  /** Bounds the calls waiting in this object: past the bound, refused at once with nothing done. */
  async #admit<T>(work: () => Promise<T | Rejection>): Promise<T | Rejection> {
    if (this.#inFlight >= MAX_IN_FLIGHT) return { ok: false, code: "overloaded" };
    this.#inFlight++;
    try {
      return await work();
    } finally {
      this.#inFlight--;
    }
  }

  /**
   * Null once the object owns its ticket, taken over from D1 on first use;
   * else why not. After a wait, nothing runs past the caller's deadline.
   */
  async #owned(ticketId: number, deadline?: number, given?: D1TicketRow): Promise<Rejection | null> {
    this.#adopted ||= store.readTicket(this.#db) !== undefined;
    if (this.#adopted) return null;
    this.#adopting ??= this.#adopt(ticketId, given).finally(() => {
      this.#adopting = undefined;
    });
    const refused = await this.#adopting;
    if (deadline !== undefined && Date.now() > deadline) return unavailable("the order's deadline passed");
    return refused;
  }

  async #adopt(ticketId: number, given?: D1TicketRow): Promise<Rejection | null> {
    try {
      const row = given ?? (await withTimeout(getTicket(this.#d1, ticketId)));
      if (!row) return { ok: false, code: "not_found" }; // not remembered: it may be created later
      const earlier = [];
      for (let after = 0; !given; ) {
        const page = await withTimeout(listPurchasesOfTicket(this.#d1, ticketId, after, 1_000));
        earlier.push(...page);
        if (page.length < 1_000) break;
        after = page.at(-1)!.id;
      }
      const ids = await withTimeout(allocatePurchaseIds(this.#d1, ID_BLOCK));
      adoptTicket(this.#db, row, earlier, ids);
      return null;
    } catch (err) {
      logError("taking over the ticket from D1 failed", { ticket_id: ticketId }, err);
      return unavailable("the ticket could not be read");
    }
  }

  /** After a change: make sure an alarm will project it even if this instance dies, then wait for the flush. */
  async #written(version: number): Promise<void> {
    if (this.#alarmAt === null) await this.#armAlarm(Date.now() + PENDING_ALARM_MS);
    await this.#outbox.settled(version);
  }

  async #armAlarm(at: number): Promise<void> {
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }
}
