import { DurableObject } from "cloudflare:workers";
import { database, getTicket, type IdempotencyKey, listPurchasesOfTicket } from "../db/queries";
import type { TicketRow as D1TicketRow } from "../db/schema";
import { hasPendingEvents, Publisher } from "../events/publisher";
import {
  askForSession,
  checkoutStep,
  failedAttempt,
  type ReturnUrls,
  sessionMade,
  sessionOf,
} from "../payments/checkout";
import { Refunder } from "../payments/refunder";
import { type CheckoutSession, expireCheckoutSession, type PaymentEvent } from "../payments/stripe";
import type { BlockRefusal, TakeAnswer } from "../seating/seat-block";
import { Backoff, logError, withTimeout } from "./backoff";
import {
  cancelEntry,
  canReissue,
  decideScan,
  entriesOf,
  entryCancelRefusal,
  entryReissueRefusal,
  findEntry,
  findScan,
  hasCheckedIn,
  purchaseOfEntry,
  reissueEntry,
  type Scan,
  type ScanAnswer,
  undoCheckIn,
} from "./entries";
import { IdReserve } from "./ids";
import { LINE_GRACE_SECONDS, type LineDecision, settleLine } from "./lines";
import { Outbox } from "./outbox";
import { checkoutRefusal, decidePayment, otherUrls, type PaymentResult, purchaseCheckout } from "./payments";
import { settleRefund } from "./refunds";
import {
  type Actor,
  cancelRefusal,
  confirmRefusal,
  orderRefusal,
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
  type Sale,
  secondsAfter,
} from "./sales";
import type { EntryRow, PurchaseRow, RefundRow, SeatRequestRow, TicketRow } from "./schema";
import {
  blockObject,
  deleteRequest,
  desiredOf,
  dueForBlock,
  findRequest,
  findRequestByKey,
  insertRequest,
  markToldBlock,
  type SeatAsk,
  type Seating,
  STALE_REQUEST_MS,
  seatingOf,
  setRequestBlock,
  staleRequests,
  takeRequest,
} from "./seats";
import * as store from "./store";

export type { Scan, ScanAnswer } from "./entries";
export type { Actor, Rejection, TicketPatch } from "./rules";

export interface OrderRequest {
  user_id: number;
  quantity: number;
  /** A seated ticket's seats: exactly these (all of one block), or the best free ones (of `block`, if given). */
  seats?: string[];
  best?: { together: boolean; accessible?: boolean; block?: string };
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
  | "paid_session_id"
  | "refund_id"
  | "held_until"
> & { ticket_id: number; game_id: number };
/**
 * `replayed`: the answer of an earlier order with the same Idempotency-Key.
 * `pick`: a best-available pick, as its block made it (ms inside the block; whether it left a lone seat).
 */
export type PurchaseOutcome =
  | { ok: true; purchase: Purchase; replayed?: true; pick?: SeatPick & { ms: number } }
  | Rejection;
export type SeatPick = { lone: boolean; alternative: boolean };
export type EntriesOutcome = { ok: true; purchase: Purchase; entries: EntryRow[]; refunds: RefundRow[] } | Rejection;
/** `ticket`: what the scanner shows with the answer (a socio stand, a child's ticket). */
/** A line of an order to hold, once per `key` (the order's id and attempt). */
export interface LineRequest {
  order_id: string;
  key: string;
  user_id: number;
  quantity: number;
  deadline?: number;
  /** A seated ticket's line: its seats (one block's), or the best ones. */
  seats?: string[];
  best?: OrderRequest["best"];
}
/** A line as its ticket holds it, with what the order shows of the ticket. */
export type LineOutcome =
  | { ok: true; line: Purchase | null; ticket: { name: string; type: string; hold_seconds: number } }
  | Rejection;
export type LinesOutcome =
  | { ok: true; lines: { purchase: Purchase; entries: EntryRow[]; refunds: RefundRow[] }[] }
  | Rejection;
export type ScanOutcome = { ok: true; answers: ScanAnswer[]; ticket: { name: string; type: string } } | Rejection;
export type EntryOutcome =
  | { ok: true; entry: EntryRow; ticket_id: number; game_id: number; user_id: number }
  | Rejection;
export type UpdateOutcome = { ok: true; ticket: TicketRow } | Rejection;
export type ResyncOutcome = { ok: true; purchases: number } | Rejection;
export type CheckoutOutcome = { ok: true; session: CheckoutSession } | Rejection;
export type PaymentOutcome = { ok: true; result: PaymentResult } | Rejection;

/** Every answer of a call on a ticket carries D1's bookmark after the object's latest projection. */
export interface Bookmarked {
  bookmark?: string;
}

/** At most this many calls wait inside one object; past it, new ones are refused at once. */
export const MAX_IN_FLIGHT = 1_000;
/** With changes pending, an alarm at most this far ahead projects them even if nothing else calls (after a crash). */
const PENDING_ALARM_MS = 5_000;
/** A call to a seats' block that has not answered by then has failed (it may still act: each call is keyed). */
const BLOCK_CALL_MS = 8_000;
/** How long a seated ticket keeps its game's list of blocks, and a block's sold-out answer, before asking again. */
const BLOCKS_TTL_MS = 30_000;
const SOLD_OUT_TTL_MS = 2_000;

const unavailable = (reason: string): Rejection => ({ ok: false, code: "unavailable", reason });
const notFound: Rejection = { ok: false, code: "purchase_not_found" };

function asPurchase(t: TicketRow, p: PurchaseRow): Purchase {
  const { idem_principal, idem_key, idem_hash, checkout_session_id, checkout_url, checkout_expires_at, ...rest } = p;
  const { payment_intent, paid_session_id, refund_id, held_until, ...shown } = rest;
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
  #events!: Publisher;
  #ids!: IdReserve;
  #alarmAt: number | null = null;
  #nextExpiry: string | null = null; // the earliest live hold's end, or earlier: never later
  #adopted = false; // once true, for good: the ticket's row exists in storage
  #adopting: Promise<Rejection | null> | undefined;
  #adoption = new Backoff(); // a failed take-over is not retried on every order
  #refunds!: Refunder;
  #inFlight = 0;
  #asking = new Set<number>(); // seat requests whose block this instance is asking now
  #telling: Promise<void> | null = null; // telling blocks of their purchases' changes, one run at a time
  #blockBackoff = new Backoff();
  #blocks: { at: number; list: string[] } | null = null; // the game's blocks, in the seat map's order
  #soldOut = new Map<string, { at: number; available: number }>(); // blocks that just answered sold out

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#db = store.openStore(ctx.storage);
      this.#outbox = new Outbox(this.#db, this.env.DB, (at) => this.#armAlarm(at));
      this.#events = new Publisher(this.#db, this.env.EVENTS, (at) => this.#armAlarm(at));
      this.#ids = new IdReserve(this.#db, this.#d1);
      this.#refunds = new Refunder(
        this.#db,
        () => this.env.STRIPE_SECRET_KEY,
        (r) => `purchase-${r.purchase_id}-refund-${r.id}`,
        (r, stripeId) => this.#refunded(r, stripeId),
        (at) => this.#armAlarm(at),
      );
      this.#alarmAt = await ctx.storage.getAlarm();
      this.#nextExpiry = store.nextExpiry(this.#db);
      // Changes a crash left unprojected go out now, not only at the alarm.
      if (store.hasPendingChanges(this.#db)) void this.#outbox.flush();
      if (hasPendingEvents(this.#db)) void this.#events.flush();
      if (store.nextRefundAt(this.#db) !== null) void this.#refunds.run();
    });
  }

  /** Sells units at once: a confirmed purchase. */
  async buy(ticketId: number, order: OrderRequest): Promise<PurchaseOutcome> {
    return this.#sell(ticketId, order, false);
  }

  /**
   * Holds a line of an order, once per key: a hold that its ticket ends by
   * itself LINE_GRACE_SECONDS after hold_seconds (its escrow), unless the
   * order decided first.
   */
  async holdLine(ticketId: number, line: LineRequest): Promise<LineOutcome> {
    const seated = line.seats ? { seats: line.seats } : line.best ? { best: line.best } : null;
    const request = {
      user_id: line.user_id,
      quantity: line.quantity,
      seats: line.seats,
      best: line.best,
      idempotency: {
        principal: "order",
        key: line.key,
        hash: `${line.user_id}x${line.quantity}${seated ? JSON.stringify(seated) : ""}`,
      },
      deadline: line.deadline,
    };
    const held = await this.#sell(ticketId, request, true, { order_id: line.order_id, grace: LINE_GRACE_SECONDS });
    if (!held.ok) return held;
    return { ok: true, line: held.purchase, ticket: this.#shown() };
  }

  /** Acts on its order's decision for a line (told again, answers the same); a line never held is none. */
  async settleLine(ticketId: number, key: string, decision: LineDecision): Promise<LineOutcome> {
    return this.#withTicket(ticketId, async (t, now) => {
      const p = store.findByKey(this.#db, "order", key);
      if (!p) {
        // A seated line whose block's answer was lost is a request still: its block lets go of it too.
        const pending = decision.to === "confirmed" ? undefined : findRequestByKey(this.#db, "order", key);
        if (pending && !(await this.#releaseRequest(t, pending))) {
          return { ok: false, code: "outcome_unknown", reason: "the seats' block did not answer" } as const;
        }
        return { ok: true, line: null, ticket: this.#shown() } as const;
      }
      const settled = settleLine(this.#db, t, p, decision, now);
      if (!settled.ok) return settled;
      if (decision.to === "extended") this.#holdsChanged(settled.p.expires_at);
      if (p.status === "confirmed" && settled.p.status !== "confirmed") void this.#refunds.run(); // paid units back
      await this.#written(settled.p.version);
      return { ok: true, line: asPurchase(t, settled.p), ticket: this.#shown() };
    });
  }

  /** Purchases as this object holds them now, with their entries and refunds (an order's lines). */
  async lines(ticketId: number, purchaseIds: number[]): Promise<LinesOutcome> {
    return this.#withTicket(ticketId, async (t) => ({
      ok: true,
      lines: purchaseIds.flatMap((id) => {
        const p = store.findPurchase(this.#db, id);
        if (!p) return [];
        return [
          { purchase: asPurchase(t, p), entries: entriesOf(this.#db, id), refunds: store.refundsOf(this.#db, id) },
        ];
      }),
    }));
  }

  /** Holds units until the ticket's hold_seconds have passed, for the buyer to pay. */
  async hold(ticketId: number, order: OrderRequest): Promise<PurchaseOutcome> {
    return this.#sell(ticketId, order, true);
  }

  /** One purchase as this object holds it now, with its entries. */
  async purchase(ticketId: number, purchaseId: number): Promise<EntriesOutcome> {
    return this.#withTicket(ticketId, async (t) => {
      const p = store.findPurchase(this.#db, purchaseId);
      if (!p) return notFound;
      const refunds = store.refundsOf(this.#db, p.id);
      return { ok: true, purchase: asPurchase(t, p), entries: entriesOf(this.#db, p.id), refunds };
    });
  }

  /**
   * Decides scans at the gate, each in one transaction: admitted once,
   * however many scanners race; the same scanner's nonce again gets the
   * identical answer. Offline scans (a batch from a gate that could not ask)
   * are taken in the order they were made.
   */
  async scan(ticketId: number, batch: Scan[], offline: boolean): Promise<ScanOutcome> {
    return this.#withTicket(ticketId, async (t, now) => {
      const ordered = offline
        ? [...batch].sort((a, b) => (a.scannedAt ?? now).localeCompare(b.scannedAt ?? now))
        : batch;
      const answers = new Map<Scan, ScanAnswer>();
      for (const scan of ordered) {
        let nonce = scan.nonce;
        let earlier = findScan(this.#db, scan.scanner, nonce);
        if (earlier && earlier.entry_id !== scan.entryId) {
          // A nonce used for another code: live, it decides nothing (scan again with a new one); offline,
          // the person is in whatever the nonce, so the scan counts, keyed by its nonce and entry.
          if (!offline) {
            answers.set(scan, { result: "rejected", reason: "nonce_reused", entry: null, checked_in_at: null });
            continue;
          }
          nonce = `${scan.nonce} ${scan.entryId}`; // nonces have no spaces: this is no scanner's nonce
          earlier = findScan(this.#db, scan.scanner, nonce);
        }
        if (earlier) {
          answers.set(scan, JSON.parse(earlier.answer) as ScanAnswer); // the same scan again: the same answer
          continue;
        }
        const p = store.findPurchase(this.#db, purchaseOfEntry(scan.entryId));
        answers.set(scan, decideScan(this.#db, t, p, { ...scan, nonce }, now, offline));
      }
      const versions = [...answers.values()].map((a) => a.entry?.version ?? 0);
      await this.#written(Math.max(0, ...versions));
      return { ok: true, answers: batch.map((scan) => answers.get(scan)!), ticket: { name: t.name, type: t.type } };
    });
  }

  /** Undoes a check-in (a mistaken scan): the entry is valid again. */
  async undoCheckIn(ticketId: number, entryId: number): Promise<EntryOutcome> {
    return this.#withTicket(ticketId, async (t, now) => {
      const e = findEntry(this.#db, entryId);
      if (!e) return { ok: false, code: "entry_not_found" } as const;
      if (e.status !== "checked_in") return { ok: false, code: "invalid_entry_state", status: e.status } as const;
      const p = store.findPurchase(this.#db, e.purchase_id)!;
      const entry = undoCheckIn(this.#db, t, p, e, now);
      await this.#written(entry.version);
      return { ok: true, entry, ticket_id: t.id, game_id: t.game_id, user_id: p.user_id };
    });
  }

  /**
   * Cancels one entry before its check-in (the box office): one unit back,
   * its price refunded if it was paid through Stripe; the purchase is
   * cancelled with its last entry. Cancelling it again answers it.
   */
  cancelEntry(ticketId: number, entryId: number, actor: Actor): Promise<EntryOutcome> {
    return this.#changeEntry(ticketId, entryId, (t, p, e, now) => {
      const refused = entryCancelRefusal(p, e, actor);
      if (refused === "done") return e;
      if (refused) return refused;
      const { entry } = cancelEntry(this.#db, t, p, e, now);
      void this.#refunds.run();
      return entry;
    });
  }

  /** A new code for an entry: the old one is revoked, a new entry takes its place. */
  reissueEntry(ticketId: number, entryId: number, actor: Actor): Promise<EntryOutcome> {
    return this.#changeEntry(ticketId, entryId, (t, p, e, now) => {
      const refused = entryReissueRefusal(p, e, actor);
      if (refused) return refused;
      if (!canReissue(this.#db, p.id)) return { ok: false, code: "reissue_limit" } as const;
      return reissueEntry(this.#db, t, p, e, now);
    });
  }

  /** A change of an entry its owner (or the admin) asks for; answered once it is projected. */
  #changeEntry(
    ticketId: number,
    entryId: number,
    change: (t: TicketRow, p: PurchaseRow, e: EntryRow, now: string) => EntryRow | Rejection,
  ): Promise<EntryOutcome> {
    return this.#withTicket(ticketId, async (t, now) => {
      const e = findEntry(this.#db, entryId);
      const p = e && store.findPurchase(this.#db, e.purchase_id);
      if (!e || !p) return { ok: false, code: "entry_not_found" } as const;
      const entry = change(t, p, e, now);
      if ("ok" in entry) return entry;
      await this.#written(entry.version);
      return { ok: true, entry, ticket_id: t.id, game_id: t.game_id, user_id: p.user_id };
    });
  }

  /** Confirms a hold (payment received, or the box office). */
  async confirm(ticketId: number, purchaseId: number): Promise<PurchaseOutcome> {
    return this.#withTicket(ticketId, async (t, now) => {
      const p = store.findPurchase(this.#db, purchaseId);
      if (!p) return notFound;
      const refused =
        orderRefusal(p) ?? confirmRefusal(t, p, store.unitsOf(this.#db, p.user_id), store.refundsOf(this.#db, p.id));
      if (refused === "done") return (await this.#seatsSold(p)) ?? this.#answer(t, p);
      if (refused) return refused;
      const confirmed = confirmPurchase(this.#db, t, p, now);
      // Settled without Stripe (the box office): its session can no longer be paid.
      if (p.status === "held") void this.#expireSession(p);
      return (await this.#seatsSold(confirmed)) ?? this.#answer(t, confirmed);
    });
  }

  /**
   * A confirmed seated purchase is confirmed to its buyer only once its block
   * sold the seats: until then a block whose escrow ended could let them go.
   * Not yet acknowledged: outcome unknown (repeating the confirm asks again).
   */
  async #seatsSold(p: PurchaseRow): Promise<Rejection | null> {
    if (!p.block || p.block_version >= p.version) return null;
    await withTimeout(this.#tellBlocks(true), BLOCK_CALL_MS).catch(() => {});
    const now = store.findPurchase(this.#db, p.id)!;
    if (now.status !== "confirmed") return { ok: false, code: "hold_expired", available: 0 };
    if (now.block_version < now.version)
      return { ok: false, code: "outcome_unknown", reason: "the seats' block has not yet sold them" };
    return null;
  }

  /** Cancels a hold (its owner or the admin) or a confirmed purchase (the admin): its units go back. */
  async cancel(ticketId: number, purchaseId: number, actor: Actor): Promise<PurchaseOutcome> {
    return this.#withTicket(ticketId, async (t, now) => {
      const p = store.findPurchase(this.#db, purchaseId);
      if (!p) return notFound;
      const foreign = actor.role === "user" && actor.id !== p.user_id;
      const refused = (foreign ? null : orderRefusal(p)) ?? cancelRefusal(p, actor);
      if (refused === "done") return this.#answer(t, p);
      if (refused) return refused;
      // Someone it admitted is inside: the units cannot go back.
      if (p.status === "confirmed" && hasCheckedIn(this.#db, p.id)) return { ok: false, code: "checked_in" } as const;
      const cancelled = cancelPurchase(this.#db, t, p, now);
      if (p.status === "held") void this.#expireSession(cancelled);
      else void this.#refunds.run(); // what was paid for its units goes back
      return this.#answer(t, cancelled);
    });
  }

  /**
   * Starts (or returns) the Stripe Checkout Session of a hold; the hold lasts
   * as long as the session (src/payments/checkout.ts).
   */
  async checkout(ticketId: number, purchaseId: number, actor: Actor, urls: ReturnUrls): Promise<CheckoutOutcome> {
    const secretKey = this.env.STRIPE_SECRET_KEY;
    if (!secretKey) return unavailable("payments are not configured");
    const started = await this.#withTicket(ticketId, async (t, now) => {
      const p = store.findPurchase(this.#db, purchaseId);
      if (!p) return notFound;
      if (actor.role === "user" && actor.id !== p.user_id) {
        return { ok: false, code: "forbidden", reason: "You may only pay for your own purchases." } as const;
      }
      const refused = orderRefusal(p) ?? checkoutRefusal(p);
      if (refused) return refused;
      const step = checkoutStep(p, urls, now);
      if ("otherUrls" in step) return otherUrls;
      if ("session" in step) return { ok: true, session: step.session, ask: null } as const;
      if ("rejoin" in step) return { ok: true, session: null, ask: { t, p } } as const;
      const begun = amendPurchase(this.#db, t, p, step.begin);
      this.#holdsChanged(begun.expires_at);
      await this.#armPending();
      return { ok: true, session: null, ask: { t, p: begun } } as const;
    });
    if (!started.ok) return started;
    if (started.session) return { ok: true, session: started.session };
    const { t, p } = started.ask!;
    const asked = await askForSession(secretKey, purchaseCheckout(t, p, urls), async () => {
      const ended = failedAttempt(store.findPurchase(this.#db, p.id)!, p.checkout_expires_at!, true);
      if (!ended) return;
      amendPurchase(this.#db, t, store.findPurchase(this.#db, p.id)!, ended);
      this.#nextExpiry = store.nextExpiry(this.#db);
      if (this.#nextExpiry) await this.#armAlarm(Date.parse(this.#nextExpiry));
      await this.#armPending();
    });
    if (!asked.ok) return asked;
    // Stripe answered: record the session unless the hold ended meanwhile.
    const now = store.findPurchase(this.#db, p.id)!;
    if (now.status !== "held") {
      void expireCheckoutSession(secretKey, asked.session.id).catch(() => {});
      return { ok: false, code: "invalid_state", status: now.status };
    }
    const recorded = amendPurchase(this.#db, t, now, sessionMade(now, asked.session));
    this.#holdsChanged(recorded.expires_at);
    await this.#written(recorded.version);
    return { ok: true, session: sessionOf(recorded) };
  }

  /**
   * Acts on a verified Stripe event about one of this ticket's purchases, once
   * per event id. A refund it decides is recorded first, then asked of Stripe
   * (retried from the alarm until made): the answer is the decision.
   */
  async paymentEvent(ticketId: number, event: PaymentEvent): Promise<PaymentOutcome> {
    const decided = await this.#withTicket(ticketId, async (t, now) => {
      const decision = decidePayment(this.#db, t, event, now);
      // In the same turn as the decision: an alarm makes the refund even if this instance dies now.
      if (decision.result === "refunded") void this.#armPending();
      return decision;
    });
    if ("ok" in decided) return decided;
    if (decided.result === "refunded") await this.#refunds.run();
    else if (decided.p) await this.#written(decided.p.version);
    return { ok: true, result: decided.result };
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

  /** What an order shows of this ticket, as it is now. */
  #shown() {
    const t = store.readTicket(this.#db)!;
    return { name: t.name, type: t.type, hold_seconds: t.hold_seconds };
  }

  /** Ends due holds (at least once: ending is idempotent), projects, publishes, and re-arms for what comes next. */
  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    if (this.#adopted || store.readTicket(this.#db)) this.#expireDue();
    await Promise.all([
      this.#outbox.flush(true),
      this.#events.flush(true),
      this.#refunds.run(),
      this.#tellBlocks(true),
      this.#releaseStale(),
    ]);
    const next: number[] = [];
    if (dueForBlock(this.#db, 1).length > 0) next.push(this.#blockBackoff.retryAt || Date.now() + PENDING_ALARM_MS);
    const oldest = staleRequests(this.#db, "9999")[0];
    if (oldest) next.push(Math.max(Date.parse(oldest.created_at) + STALE_REQUEST_MS, Date.now() + 1_000));
    if (this.#nextExpiry) next.push(Date.parse(this.#nextExpiry));
    const retry = (backoff: Backoff) => (backoff.waiting ? backoff.retryAt : Date.now() + PENDING_ALARM_MS);
    if (store.hasPendingChanges(this.#db)) next.push(retry(this.#outbox.backoff));
    if (hasPendingEvents(this.#db)) next.push(retry(this.#events.backoff));
    if (next.length > 0) await this.#armAlarm(Math.min(...next));
  }

  async #sell(ticketId: number, order: OrderRequest, hold: boolean, line?: Sale["line"]): Promise<PurchaseOutcome> {
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.#withTicket(
        ticketId,
        async (t, now): Promise<PurchaseOutcome | "no ids"> => {
          const key = order.idempotency;
          const stored = key && store.findByKey(this.#db, key.principal, key.key);
          if (stored) {
            if (stored.idem_hash !== key.hash) return { ok: false, code: "key_reused" };
            return { ...(await this.#answer(t, stored)), replayed: true };
          }
          const seating = seatingOf(t);
          if (seating || order.seats || order.best) return this.#sellSeats(t, now, order, hold, seating, line);
          const bought = t.max_per_user === null ? 0 : store.unitsOf(this.#db, order.user_id);
          const refused = saleRefusal(t, now, bought, order.quantity);
          if (refused) return refused;
          const sold = recordSale(this.#db, t, { ...order, hold, line }, now);
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
   * A seated sale: decided here (the rules, the buyer's units) and recorded
   * pending before its block is asked; recorded as a purchase when the block
   * holds (or sold) the seats, forgotten when it refuses. A request whose
   * block did not answer stays pending: the same key asks again (the block
   * answers what it did), or the alarm releases it.
   */
  async #sellSeats(
    t: TicketRow,
    now: string,
    order: OrderRequest,
    hold: boolean,
    seating: Seating | null,
    line?: Sale["line"],
  ): Promise<PurchaseOutcome | "no ids"> {
    if (!seating) {
      const field = order.seats ? "seats" : "best_available";
      return {
        ok: false,
        code: "invalid",
        errors: [{ field, message: "this ticket is not seated: ask for a quantity" }],
      };
    }
    const key = order.idempotency;
    const pending = key && findRequestByKey(this.#db, key.principal, key.key);
    if (pending) {
      if (pending.idem_hash !== key.hash) return { ok: false, code: "key_reused" };
      return this.#askBlocks(pending, [pending.block], seating, line);
    }
    const ask: SeatAsk = order.seats
      ? { seats: order.seats }
      : {
          best: {
            quantity: order.quantity,
            together: order.best?.together ?? true,
            accessible: order.best?.accessible,
          },
        };
    const fixed = order.seats?.[0]?.split("-")[0] ?? order.best?.block;
    const candidates = fixed ? [fixed] : await this.#blocksOf(t.game_id);
    if (!Array.isArray(candidates)) return candidates;
    if (candidates.length === 0) return { ok: false, code: "sold_out", available: 0 };
    // Decided on the ticket as it is now (the list of blocks may have been awaited).
    t = store.readTicket(this.#db)!;
    const quantity = order.seats?.length ?? order.quantity;
    const bought = t.max_per_user === null ? 0 : store.unitsOf(this.#db, order.user_id);
    const refused = saleRefusal(t, now, bought, quantity);
    if (refused) return refused;
    const request = this.#db.transaction(() => {
      const taken = store.takeId(this.#db);
      if (!taken) return undefined;
      const row: SeatRequestRow = {
        purchase_id: taken.id,
        user_id: order.user_id,
        quantity,
        hold,
        unit_price_minor: t.price_minor,
        expires_at: hold ? secondsAfter(now, t.hold_seconds + (line?.grace ?? 0)) : null,
        block: candidates[0]!,
        request: JSON.stringify(ask),
        order_id: line?.order_id ?? null,
        idem_principal: key?.principal ?? null,
        idem_key: key?.key ?? null,
        idem_hash: key?.hash ?? null,
        created_at: now,
      };
      insertRequest(this.#db, row);
      return { row, left: taken.left };
    });
    if (!request) return "no ids";
    this.#ids.used();
    if (this.#ids.low(request.left)) void this.#ids.refill(t.id);
    // Released by the alarm if its answer is lost and no retry comes.
    void this.#armAlarm(Date.now() + STALE_REQUEST_MS + 1_000);
    return this.#askBlocks(request.row, candidates, seating, line);
  }

  /** Asks the blocks in turn (best available without a block: the next one while they answer sold out). */
  async #askBlocks(
    r: SeatRequestRow,
    candidates: string[],
    seating: Seating,
    line?: Sale["line"],
  ): Promise<PurchaseOutcome> {
    this.#asking.add(r.purchase_id);
    try {
      let refusal: TakeAnswer | BlockRefusal | undefined;
      let available = 0;
      const open = candidates.filter((b, i) => i === candidates.length - 1 || !this.#justSoldOut(b, r.quantity));
      for (const block of open) {
        if (block !== r.block) setRequestBlock(this.#db, r.purchase_id, block);
        const t = store.readTicket(this.#db)!;
        try {
          refusal = await withTimeout(
            blockObject(this.env, t.game_id, block).take(takeRequest(t, { ...r, block }, seating.categories)),
            BLOCK_CALL_MS,
          );
        } catch (err) {
          logError("a seats' block did not answer", { ticket_id: t.id, block, purchase_id: r.purchase_id }, err);
          return { ok: false, code: "outcome_unknown", reason: "the seats' block did not answer" };
        }
        if (refusal.ok) return this.#recordSeats(r, block, refusal, line);
        if (refusal.code === "sold_out" || refusal.code === "no_seatmap") {
          const left = refusal.code === "sold_out" ? refusal.available : 0;
          available = Math.max(available, left);
          this.#soldOut.set(block, { at: Date.now(), available: left });
          continue;
        }
        break;
      }
      // Refused for certain: nothing is held, the units are the buyer's again.
      deleteRequest(this.#db, r.purchase_id);
      if (!refusal || refusal.ok) return { ok: false, code: "sold_out", available };
      switch (refusal.code) {
        case "sold_out":
        case "no_seatmap":
          return { ok: false, code: "sold_out", available };
        case "seat_taken":
          return { ok: false, code: "seat_taken", seats: refusal.seats };
        case "seat_not_found":
        case "wrong_category":
          return {
            ok: false,
            code: "invalid",
            errors: refusal.seats.map((id) => ({
              field: "seats",
              message:
                refusal.code === "seat_not_found"
                  ? `${id} is not a seat of this game's map`
                  : `${id} is not of this ticket's categories`,
            })),
          };
        default:
          return { ok: false, code: "hold_expired", available: 0 };
      }
    } finally {
      this.#asking.delete(r.purchase_id);
    }
  }

  /** The block holds (or sold) the seats: the purchase is recorded, its request gone, in one transaction. */
  async #recordSeats(
    r: SeatRequestRow,
    block: string,
    taken: TakeAnswer,
    line?: Sale["line"],
  ): Promise<PurchaseOutcome> {
    const t = store.readTicket(this.#db)!;
    const earlier = store.findPurchase(this.#db, r.purchase_id);
    if (earlier) return { ...(await this.#answer(t, earlier)), replayed: true }; // a concurrent retry recorded it
    if (!findRequest(this.#db, r.purchase_id)) {
      return { ok: false, code: "outcome_unknown", reason: "the request was released while its block answered" };
    }
    const sold = recordSale(
      this.#db,
      t,
      {
        user_id: r.user_id,
        quantity: r.quantity,
        hold: r.hold,
        line,
        idempotency: r.idem_key ? { principal: r.idem_principal!, key: r.idem_key, hash: r.idem_hash! } : undefined,
        seated: {
          id: r.purchase_id,
          seats: taken.seats,
          block,
          unit_price_minor: r.unit_price_minor,
          expires_at: r.expires_at,
        },
      },
      new Date().toISOString(),
    )!;
    if (r.hold) this.#holdsChanged(sold.purchase.expires_at);
    const answer = await this.#answer(t, sold.purchase);
    return taken.pick ? { ...answer, pick: { ...taken.pick, ms: taken.ms } } : answer;
  }

  #justSoldOut(block: string, quantity: number): boolean {
    const seen = this.#soldOut.get(block);
    return seen !== undefined && Date.now() - seen.at < SOLD_OUT_TTL_MS && seen.available < quantity;
  }

  /** The game's blocks in the seat map's order (from D1, kept a while: a map changes only while nothing is sold). */
  async #blocksOf(gameId: number): Promise<string[] | Rejection> {
    if (this.#blocks && Date.now() - this.#blocks.at < BLOCKS_TTL_MS) return this.#blocks.list;
    try {
      const row = await withTimeout(
        this.env.DB.prepare("SELECT blocks FROM seatmaps WHERE game_id = ?").bind(gameId).first<{ blocks: string }>(),
      );
      this.#blocks = { at: Date.now(), list: row ? (JSON.parse(row.blocks) as string[]) : [] };
      return this.#blocks.list;
    } catch (err) {
      logError("reading the seat map's blocks failed", { game_id: gameId }, err);
      return unavailable("the seat map could not be read");
    }
  }

  /**
   * Tells each block the latest state of its seated purchases that changed
   * (held until a new end, sold, released), until each has acted: versions
   * make a repeat or a late message harmless. Failures back off to the alarm.
   */
  #tellBlocks(retry = false): Promise<void> {
    if (this.#telling) return this.#telling;
    if (this.#blockBackoff.waiting && !retry) return Promise.resolve();
    this.#telling = (async () => {
      for (let round = 0; round < 20; round++) {
        const due = dueForBlock(this.#db, 50);
        if (due.length === 0) return;
        const t = store.readTicket(this.#db)!;
        const told = await Promise.all(
          due.map(async (p) => {
            const want = desiredOf(this.#db, p);
            try {
              const answer = await withTimeout(
                blockObject(this.env, t.game_id, p.block!).settle(p.id, t.id, want),
                BLOCK_CALL_MS,
              );
              // Seats gone (their escrow ended before this reached the block): reported, not retried.
              if (!answer.ok)
                logError("a block could not follow its purchase", { purchase_id: p.id, code: answer.code }, null);
              markToldBlock(this.#db, p.id, want.version);
              if (!answer.ok && want.state === "sold") this.#seatsGone(p.id, want.version);
              return true;
            } catch (err) {
              logError("telling a seats' block failed", { purchase_id: p.id, block: p.block }, err);
              return false;
            }
          }),
        );
        if (told.includes(false)) {
          this.#blockBackoff.failed();
          await this.#armAlarm(this.#blockBackoff.retryAt);
          return;
        }
        this.#blockBackoff.succeeded();
      }
    })().finally(() => {
      this.#telling = null;
    });
    return this.#telling;
  }

  /**
   * A confirmation that reached the block after its escrow ended, the seats
   * sold to someone else since: the purchase cannot admit anyone, so it is
   * cancelled and what was paid is refunded. (An order's line is its order's
   * to decide: reported only.)
   */
  #seatsGone(purchaseId: number, version: number): void {
    const p = store.findPurchase(this.#db, purchaseId);
    if (!p || p.order_id || p.status !== "confirmed" || p.version !== version) return;
    if (hasCheckedIn(this.#db, p.id)) return;
    const cancelled = cancelPurchase(this.#db, store.readTicket(this.#db)!, p, new Date().toISOString());
    void this.#refunds.run();
    void this.#written(cancelled.version);
  }

  /** Seat requests whose answer was lost and that no retry took up: their blocks let go of them, their units come back. */
  async #releaseStale(): Promise<void> {
    const t = store.readTicket(this.#db);
    if (!t) return;
    const stale = staleRequests(this.#db, new Date(Date.now() - STALE_REQUEST_MS).toISOString()).filter(
      (r) => !this.#asking.has(r.purchase_id),
    );
    await Promise.all(stale.map((r) => this.#releaseRequest(t, r)));
  }

  /** Tells a request's block to let go of it for good (a late take of its key is refused), then forgets it. */
  async #releaseRequest(t: TicketRow, r: SeatRequestRow): Promise<boolean> {
    try {
      const answer = await withTimeout(
        blockObject(this.env, t.game_id, r.block).settle(r.purchase_id, t.id, {
          version: Number.MAX_SAFE_INTEGER,
          state: "released",
        }),
        BLOCK_CALL_MS,
      );
      if (answer.ok && !this.#asking.has(r.purchase_id)) deleteRequest(this.#db, r.purchase_id);
      return answer.ok;
    } catch (err) {
      logError("releasing a lost seat request failed", { purchase_id: r.purchase_id }, err);
      return false;
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
      const expired = this.#expireDue();
      const outcome = await work(store.readTicket(this.#db)!, new Date().toISOString());
      // Holds this call ended are in D1 when it answers, as any change it made.
      if (expired) await this.#written(expired);
      // Seated purchases it changed: their blocks follow before the answer (else the alarm tells them).
      if (dueForBlock(this.#db, 1).length > 0) await withTimeout(this.#tellBlocks(), 2_000).catch(() => {});
      const bookmark = this.#outbox.bookmark;
      if (bookmark && (outcome as { ok?: boolean }).ok === true) Object.assign(outcome as object, { bookmark });
      return outcome;
    });
  }

  /** The answer with a purchase: sent once D1 holds it (boundedly). */
  async #answer(t: TicketRow, p: PurchaseRow): Promise<{ ok: true; purchase: Purchase }> {
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
  /** The version of the change, if holds ended. */
  #expireDue(): number | undefined {
    const now = new Date().toISOString();
    if (this.#nextExpiry === null || this.#nextExpiry > now) return;
    const expired = expireHolds(this.#db, store.readTicket(this.#db)!, now);
    this.#nextExpiry = store.nextExpiry(this.#db);
    for (const p of expired) void this.#expireSession(p);
    if (expired.length === 0) return;
    void this.#written(expired[0]!.version);
    return expired[0]!.version;
  }

  /** A hold was made or lengthened: the alarm must ring when it ends. */
  #holdsChanged(expiresAt: string | null): void {
    if (!expiresAt) return;
    if (this.#nextExpiry === null || expiresAt < this.#nextExpiry) this.#nextExpiry = expiresAt;
    void this.#armAlarm(Date.parse(expiresAt));
  }

  /** Stripe made a refund: recorded on its purchase, and projected. */
  #refunded(r: RefundRow, stripeId: string): void {
    const row = settleRefund(this.#db, store.readTicket(this.#db)!, r, stripeId, new Date().toISOString());
    void this.#written(row.version);
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

  /**
   * After a change: its events go to the queue (not awaited); make sure an
   * alarm will project it even if this instance dies, then wait for the flush.
   */
  async #written(version: number): Promise<void> {
    void this.#events.flush();
    if (version <= this.#outbox.projected) return;
    await this.#armPending();
    await this.#outbox.settled(version);
  }

  /** Changes are pending: an alarm soon projects them, even if this instance dies before it does. */
  async #armPending(): Promise<void> {
    await this.#armAlarm(Date.now() + PENDING_ALARM_MS);
  }

  async #armAlarm(at: number): Promise<void> {
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }
}
