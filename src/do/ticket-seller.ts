import { DurableObject } from "cloudflare:workers";
import { database, getTicket, type IdempotencyKey, listPurchasesOfTicket } from "../db/queries";
import type { TicketRow as D1TicketRow } from "../db/schema";
import {
  CHECKOUT_MINUTES,
  type CheckoutSession,
  createCheckoutSession,
  expireCheckoutSession,
  type PaymentEvent,
  refundPayment,
} from "../payments/stripe";
import { Backoff, logError, withTimeout } from "./backoff";
import { IdReserve } from "./ids";
import { Outbox } from "./outbox";
import {
  type Actor,
  available,
  cancelRefusal,
  confirmRefusal,
  patchRefusal,
  type Rejection,
  saleRefusal,
  type TicketPatch,
} from "./rules";
import {
  adoptTicket,
  amendPurchase,
  applyPatch,
  cancelPurchase,
  confirmPurchase,
  expireHolds,
  recordSale,
  secondsAfter,
} from "./sales";
import type { PurchaseRow, TicketRow } from "./schema";
import * as store from "./store";

export type { Actor, Rejection, TicketPatch } from "./rules";

export interface OrderRequest {
  user_id: number;
  quantity: number;
  idempotency?: IdempotencyKey;
  /** Epoch ms after which the caller has given up: an order that waited past it is not run. */
  deadline?: number;
}

/** A purchase as the API shows it: the object's row with its ticket and game, without its keys and payment details. */
export type Purchase = Omit<
  PurchaseRow,
  | "idem_principal"
  | "idem_key"
  | "idem_hash"
  | "checkout_session_id"
  | "checkout_url"
  | "checkout_expires_at"
  | "payment_intent"
  | "refund_id"
> & { ticket_id: number; game_id: number };
export type PurchaseOutcome = { ok: true; purchase: Purchase } | Rejection;
export type UpdateOutcome = { ok: true; ticket: TicketRow } | Rejection;
export type ResyncOutcome = { ok: true; purchases: number } | Rejection;
export type CheckoutOutcome = { ok: true; session: CheckoutSession } | Rejection;
export type PaymentOutcome = { ok: true; result: "confirmed" | "cancelled" | "refunded" | "ignored" } | Rejection;

/** At most this many calls wait inside one object; past it, new ones are refused at once. */
export const MAX_IN_FLIGHT = 1_000;
/** With changes pending, an alarm at most this far ahead projects them even if nothing else calls (after a crash). */
const PENDING_ALARM_MS = 5_000;

const unavailable = (reason: string): Rejection => ({ ok: false, code: "unavailable", reason });
const notFound: Rejection = { ok: false, code: "purchase_not_found" };

function asPurchase(t: TicketRow, p: PurchaseRow): Purchase {
  const { idem_principal, idem_key, idem_hash, checkout_session_id, checkout_url, checkout_expires_at, ...rest } = p;
  const { payment_intent, refund_id, ...shown } = rest;
  return { ...shown, ticket_id: t.id, game_id: t.game_id };
}

/**
 * One object per ticket: the one owner of that ticket's truth. Its state
 * lives in its own SQLite; every change is one synchronous transaction there,
 * outbox entry included, decided and committed on arrival. D1 is the read
 * model, fed from the outbox; a writer's answer waits (boundedly) for the
 * flush that carries its change, so its next read sees it. Holds end at
 * their expiry to the second: the alarm is kept at the earliest one, and
 * every call ends due holds first, so no answer counts an expired hold.
 */
export class TicketSeller extends DurableObject<Env> {
  #db!: store.Store;
  #d1 = database(this.env.DB);
  #outbox!: Outbox;
  #ids!: IdReserve;
  #alarmAt: number | null = null;
  #nextExpiry: string | null = null; // the earliest live hold's end, or earlier: never later
  #adopted = false; // once true, for good: the ticket's row exists in storage
  #adopting: Promise<Rejection | null> | undefined;
  #adoption = new Backoff(); // a failed take-over is not retried on every order
  #inFlight = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#db = store.openStore(ctx.storage);
      this.#outbox = new Outbox(this.#db, this.env.DB, (at) => this.#armAlarm(at));
      this.#ids = new IdReserve(this.#db, this.#d1);
      this.#alarmAt = await ctx.storage.getAlarm();
      this.#nextExpiry = store.nextExpiry(this.#db);
      // Changes a crash left unprojected go out now, not only at the alarm.
      if (store.hasPendingChanges(this.#db)) void this.#outbox.flush();
    });
  }

  /** Sells units at once: a confirmed purchase. */
  async buy(ticketId: number, order: OrderRequest): Promise<PurchaseOutcome> {
    return this.#sell(ticketId, order, false);
  }

  /** Holds units until the ticket's hold_seconds have passed, for the buyer to pay. */
  async hold(ticketId: number, order: OrderRequest): Promise<PurchaseOutcome> {
    return this.#sell(ticketId, order, true);
  }

  /** One purchase as this object holds it now. */
  async purchase(ticketId: number, purchaseId: number): Promise<PurchaseOutcome> {
    return this.#withTicket(ticketId, async (t) => {
      const p = store.findPurchase(this.#db, purchaseId);
      return p ? { ok: true, purchase: asPurchase(t, p) } : notFound;
    });
  }

  /** Confirms a hold (payment received, or the box office). */
  async confirm(ticketId: number, purchaseId: number): Promise<PurchaseOutcome> {
    return this.#withTicket(ticketId, async (t, now) => {
      const p = store.findPurchase(this.#db, purchaseId);
      if (!p) return notFound;
      const refused = confirmRefusal(t, p);
      if (refused === "done") return this.#answer(t, p);
      if (refused) return refused;
      return this.#answer(t, confirmPurchase(this.#db, t, p, now));
    });
  }

  /** Cancels a hold (its owner or the admin) or a confirmed purchase (the admin): its units go back. */
  async cancel(ticketId: number, purchaseId: number, actor: Actor): Promise<PurchaseOutcome> {
    return this.#withTicket(ticketId, async (t, now) => {
      const p = store.findPurchase(this.#db, purchaseId);
      if (!p) return notFound;
      const refused = cancelRefusal(p, actor);
      if (refused === "done") return this.#answer(t, p);
      if (refused) return refused;
      const cancelled = cancelPurchase(this.#db, t, p, now);
      if (p.status === "held") void this.#expireSession(cancelled);
      return this.#answer(t, cancelled);
    });
  }

  /** Starts (or returns) the Stripe Checkout Session of a hold; the hold lasts as long as the session. */
  async checkout(
    ticketId: number,
    purchaseId: number,
    actor: Actor,
    urls: { success_url: string; cancel_url: string },
  ): Promise<CheckoutOutcome> {
    const secretKey = this.env.STRIPE_SECRET_KEY;
    if (!secretKey) return unavailable("payments are not configured");
    const started = await this.#withTicket(ticketId, async (t, now) => {
      const p = store.findPurchase(this.#db, purchaseId);
      if (!p) return notFound;
      if (actor.role === "user" && actor.id !== p.user_id) {
        return { ok: false, code: "forbidden", reason: "You may only pay for your own purchases." } as const;
      }
      if (p.status !== "held") return { ok: false, code: "invalid_state", status: p.status } as const;
      if (p.checkout_session_id) return { ok: true, t, p } as const;
      if (p.checkout_expires_at) return { ok: true, t, p } as const; // a session was asked for: ask again, the same way
      // The session's end is chosen once and kept, so a retry asks Stripe for the very same session.
      // Whole seconds: Stripe's expires_at is in seconds, and the hold ends with the session.
      const ends = new Date(
        Math.ceil(Date.parse(secondsAfter(now, CHECKOUT_MINUTES * 60)) / 1000) * 1000,
      ).toISOString();
      const amended = amendPurchase(this.#db, p, {
        checkout_expires_at: ends,
        expires_at: p.expires_at && p.expires_at > ends ? p.expires_at : ends,
      });
      return { ok: true, t, p: amended } as const;
    });
    if (!started.ok) return started;
    const { t, p } = started;
    if (p.checkout_session_id && p.checkout_url) {
      return { ok: true, session: sessionOf(p) };
    }
    let session: CheckoutSession;
    try {
      session = await createCheckoutSession(secretKey, {
        purchaseId: p.id,
        ticketId: t.id,
        name: t.name,
        currency: t.currency,
        unitAmount: p.unit_price_minor,
        quantity: p.quantity,
        successUrl: urls.success_url,
        cancelUrl: urls.cancel_url,
        expiresAt: p.checkout_expires_at!,
      });
    } catch (err) {
      logError("creating a checkout session failed", { purchase_id: p.id }, err);
      return { ok: false, code: "payment_provider", reason: String(err) };
    }
    // Stripe answered: record the session unless the hold ended meanwhile.
    const now = store.findPurchase(this.#db, p.id)!;
    if (now.status !== "held") {
      void expireCheckoutSession(secretKey, session.id).catch(() => {});
      return { ok: false, code: "invalid_state", status: now.status };
    }
    const recorded = amendPurchase(this.#db, now, { checkout_session_id: session.id, checkout_url: session.url });
    this.#holdsChanged(recorded.expires_at);
    await this.#written(recorded.version);
    return { ok: true, session: sessionOf(recorded) };
  }

  /** Acts on a verified Stripe event about one of this ticket's purchases, once per event id. */
  async paymentEvent(ticketId: number, event: PaymentEvent): Promise<PaymentOutcome> {
    const decided = await this.#withTicket(ticketId, async (t, now) => {
      if (store.wasHandled(this.#db, event.id)) return { ok: true, result: "ignored" } as const;
      const p = store.findPurchase(this.#db, event.purchaseId);
      const ignore = () => {
        store.markEventHandled(this.#db, event.id, now);
        return { ok: true, result: "ignored" } as const;
      };
      // An event about another session than the one this purchase recorded is not about it.
      if (!p || (p.checkout_session_id && p.checkout_session_id !== event.sessionId)) return ignore();
      if (event.type === "checkout.session.expired") {
        if (p.status !== "held") return ignore();
        return { ok: true, result: "cancelled", p: cancelPurchase(this.#db, t, p, now, event.id) } as const;
      }
      if (event.type !== "checkout.session.completed" || !event.paid || p.status === "confirmed") return ignore();
      const intent = event.paymentIntent ?? undefined;
      if (p.status === "held" || ((p.status === "expired" || p.status === "cancelled") && p.quantity <= available(t))) {
        return { ok: true, result: "confirmed", p: confirmPurchase(this.#db, t, p, now, intent, event.id) } as const;
      }
      // Paid after the hold ended, and its units are gone: give the money back.
      const refunding =
        p.status === "refunded" ? p : amendPurchase(this.#db, p, { status: "refunded", payment_intent: intent });
      return { ok: true, result: "refunded", p: refunding } as const;
    });
    if (!decided.ok) return decided;
    const { result } = decided;
    const p = "p" in decided ? decided.p : undefined;
    if (!p) return { ok: true, result };
    if (result === "refunded" && !p.refund_id) {
      const secretKey = this.env.STRIPE_SECRET_KEY;
      if (!secretKey || !p.payment_intent) return unavailable("the refund cannot be made now");
      try {
        const refund = await refundPayment(secretKey, p.id, p.payment_intent);
        const refunded = amendPurchase(this.#db, p, { refund_id: refund.id });
        store.markEventHandled(this.#db, event.id, new Date().toISOString());
        await this.#written(refunded.version);
      } catch (err) {
        // Not marked handled: Stripe delivers the event again and the refund is asked for again (same key).
        logError("refund failed", { purchase_id: p.id }, err);
        return unavailable("the refund could not be made; it is retried when Stripe delivers the event again");
      }
    } else {
      await this.#written(p.version);
    }
    return { ok: true, result };
  }

  /** Applies an admin's change to the ticket; the next order sees it. */
  async update(ticketId: number, patch: TicketPatch): Promise<UpdateOutcome> {
    return this.#withTicket(ticketId, async (t, now) => {
      const refused = patchRefusal(t, patch);
      if (refused) return refused;
      const changes = Object.entries(patch).some(([k, v]) => t[k as keyof TicketRow] !== v);
      if (!changes) return { ok: true, ticket: t };
      const row = applyPatch(this.#db, t, patch, now);
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
    return this.#withTicket(ticketId, async () => {
      try {
        return { ok: true, ...(await this.#outbox.resync()) };
      } catch (err) {
        logError("resync failed", { ticket_id: ticketId }, err);
        // Some pages may be written, or the last one committed with its answer lost.
        return { ok: false, code: "outcome_unknown", reason: "D1 failed during the resync, which may be partly done" };
      }
    });
  }

  /** The ticket as this object holds it (the truth, not the read model). */
  async ticket(ticketId: number): Promise<TicketRow | Rejection> {
    return this.#withTicket(ticketId, async (t) => t);
  }

  /** Ends due holds (at least once: ending is idempotent), projects, and re-arms for what comes next. */
  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    if (this.#adopted || store.readTicket(this.#db)) this.#expireDue();
    await this.#outbox.flush(true);
    const next: number[] = [];
    if (this.#nextExpiry) next.push(Date.parse(this.#nextExpiry));
    if (store.hasPendingChanges(this.#db)) {
      const backoff = this.#outbox.backoff;
      next.push(backoff.waiting ? backoff.retryAt : Date.now() + PENDING_ALARM_MS);
    }
    if (next.length > 0) await this.#armAlarm(Math.min(...next));
  }

  async #sell(ticketId: number, order: OrderRequest, hold: boolean): Promise<PurchaseOutcome> {
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.#withTicket(
        ticketId,
        async (t, now): Promise<PurchaseOutcome | "no ids"> => {
          const key = order.idempotency;
          const stored = key && store.findByKey(this.#db, key.principal, key.key);
          if (stored)
            return stored.idem_hash === key.hash ? this.#answer(t, stored) : { ok: false, code: "key_reused" };
          const bought = t.max_per_user === null ? 0 : store.unitsOf(this.#db, order.user_id);
          const refused = saleRefusal(t, now, bought, order.quantity);
          if (refused) return refused;
          const sold = recordSale(this.#db, t, { ...order, hold }, now);
          if (!sold) return "no ids";
          this.#ids.used();
          if (this.#ids.low(sold.idsLeft)) void this.#ids.refill(t.id);
          if (hold) this.#holdsChanged(sold.purchase.expires_at);
          return this.#answer(t, sold.purchase);
        },
        order.deadline,
      );
      if (outcome !== "no ids") return outcome;
      // No purchase id left: only D1 can reserve more. Decide again once it has, unless the caller gave up meanwhile.
      if (attempt > 0 || !(await this.#ids.refill(ticketId))) return unavailable("no purchase ids reserved");
      if (order.deadline !== undefined && Date.now() > order.deadline)
        return unavailable("the order's deadline passed");
    }
  }

  /**
   * Bounds the calls waiting in this object, takes the ticket over if need
   * be, ends due holds, then runs `work` on the ticket as it is now. `work`
   * decides and writes before it awaits anything.
   */
  async #withTicket<T>(
    ticketId: number,
    work: (t: TicketRow, now: string) => Promise<T | Rejection>,
    deadline?: number,
  ): Promise<T | Rejection> {
    return this.#admit(async () => {
      const missing = await this.#owned(ticketId, deadline);
      if (missing) return missing;
      this.#expireDue();
      return work(store.readTicket(this.#db)!, new Date().toISOString());
    });
  }

  /** The answer with a purchase: sent once D1 holds it (boundedly). */
  async #answer(t: TicketRow, p: PurchaseRow): Promise<PurchaseOutcome> {
    await this.#written(p.version);
    return { ok: true, purchase: asPurchase(t, p) };
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
    if (this.#adoption.waiting) return unavailable("the ticket could not be read");
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
      adoptTicket(this.#db, row, earlier);
    } catch (err) {
      const delay = this.#adoption.failed();
      logError("taking over the ticket from D1 failed", { ticket_id: ticketId, retry_in_ms: delay }, err);
      return unavailable("the ticket could not be read");
    }
    this.#adoption.succeeded();
    this.#nextExpiry = store.nextExpiry(this.#db);
    // The first block of purchase ids; if D1 fails here, the first sale asks again.
    await this.#ids.refill(ticketId);
    return null;
  }

  /** Ends every hold whose time is up, in one transaction, before anything else looks at the ticket. */
  #expireDue(): void {
    const now = new Date().toISOString();
    if (this.#nextExpiry === null || this.#nextExpiry > now) return;
    const expired = expireHolds(this.#db, store.readTicket(this.#db)!, now);
    this.#nextExpiry = store.nextExpiry(this.#db);
    for (const p of expired) void this.#expireSession(p);
    if (expired.length > 0) void this.#written(expired[0]!.version);
  }

  /** A hold was made or lengthened: the alarm must ring when it ends. */
  #holdsChanged(expiresAt: string | null): void {
    if (!expiresAt) return;
    if (this.#nextExpiry === null || expiresAt < this.#nextExpiry) this.#nextExpiry = expiresAt;
    void this.#armAlarm(Date.parse(expiresAt));
  }

  /** A hold with a Checkout Session ended: the session can no longer be paid. */
  async #expireSession(p: PurchaseRow): Promise<void> {
    const secretKey = this.env.STRIPE_SECRET_KEY;
    if (!secretKey || !p.checkout_session_id) return;
    await expireCheckoutSession(secretKey, p.checkout_session_id).catch((err) =>
      // A session not expired here ends by itself at its expires_at, the hold's end.
      logError("expiring a checkout session failed", { purchase_id: p.id }, err),
    );
  }

  /** After a change: make sure an alarm will project it even if this instance dies, then wait for the flush. */
  async #written(version: number): Promise<void> {
    if (version <= this.#outbox.projected) return;
    if (this.#alarmAt === null) await this.#armAlarm(Date.now() + PENDING_ALARM_MS);
    await this.#outbox.settled(version);
  }

  async #armAlarm(at: number): Promise<void> {
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }
}

const sessionOf = (p: PurchaseRow): CheckoutSession => ({
  id: p.checkout_session_id!,
  url: p.checkout_url!,
  expires_at: Math.floor(Date.parse(p.checkout_expires_at!) / 1000),
});
