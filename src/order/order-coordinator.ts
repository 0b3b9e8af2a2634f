import { DurableObject } from "cloudflare:workers";
import { upsertOrder } from "../db/projection";
import { hasPendingEvents, Publisher } from "../events/publisher";
import type { EventDraft } from "../events/types";
import { chargeRefusal } from "../payments/amounts";
import { askForSession, checkoutStep, failedAttempt, type ReturnUrls, sessionMade } from "../payments/checkout";
import { insertRefund, markRefunded, nextRefundAt, Refunder } from "../payments/refunder";
import { type CheckoutSession, expireCheckoutSession, type PaymentEvent } from "../payments/stripe";
import { Backoff, logError, withTimeout } from "../ticket/backoff";
import { LINE_GRACE_SECONDS } from "../ticket/lines";
import { PROJECTION_WAIT_MS } from "../ticket/outbox";
import type { Actor } from "../ticket/rules";
import type { LineOutcome, LinesOutcome, TicketSeller } from "../ticket/ticket-seller";
import {
  CERTAIN,
  deadlineOf,
  decisionFor,
  type OrderRejection,
  type RefusedLine,
  refusedLine,
  statusOf,
  undelivered,
} from "./decisions";
import type { LineRow, OrderRow, OrderState, RefundRow } from "./schema";
import * as store from "./store";

// The coordinator of one order (a basket over several tickets). It owns the
// order's decision, in its own SQLite: it asks every line's ticket to hold
// its units, in parallel, decides once (held or refused; then confirmed,
// cancelled or expired), records the decision before telling anyone, and
// tells every line until each has acted on it (retrying from its alarm).
// Each line's hold is escrow with its own end: a ticket releases a line by
// itself if no decision reaches it, so no ticket ever waits on a lost order.

export interface PlaceRequest {
  user_id: number;
  lines: {
    ticket_id: number;
    quantity: number;
    seats?: string[];
    best?: { together: boolean; accessible?: boolean; block?: string };
  }[];
  /** The caller's key scope and the body's hash: the same key with another body is refused. */
  principal: string | null;
  hash: string;
  deadline: number;
}

export interface OrderView {
  order: OrderRow;
  lines: LineRow[];
}
export type OrderOutcome = { ok: true; order: OrderView; replayed?: true } | OrderRejection;
export type OrderPaymentOutcome =
  | { ok: true; result: "confirmed" | "cancelled" | "refunded" | "ignored" }
  | OrderRejection;
export type OrderCheckoutOutcome = { ok: true; session: CheckoutSession } | OrderRejection;
/** A line as its ticket holds it now. */
export type HeldLine = (LinesOutcome & { ok: true })["lines"][number] & { ticket_id: number };
export type OrderLinesOutcome = { ok: true; order: OrderView; held: HeldLine[] } | OrderRejection;

/** A call to a line's ticket that has not answered by then has failed (it may still act: every call is idempotent). */
const LINE_CALL_MS = 8_000;
/** Telling lines again after a failure: 1 s doubling to a minute. */
const RETRY_MS = { min: 1_000, max: 60_000 };

const iso = () => new Date().toISOString();

export class OrderCoordinator extends DurableObject<Env> {
  #db!: store.OrderStore;
  #events!: Publisher;
  #refunds!: Refunder;
  #projection = new Backoff();
  #delivery = { failures: 0, retryAt: 0 };
  #queue: Promise<unknown> = Promise.resolve(); // one operation at a time: an order is one buyer's

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#db = store.openOrderStore(ctx.storage);
      this.#events = new Publisher(this.#db, this.env.EVENTS, (at) => this.#arm(at));
      this.#refunds = new Refunder(
        this.#db,
        () => this.env.STRIPE_SECRET_KEY,
        (r) => `order-${store.readOrder(this.#db)!.id}-refund-${r.id}`,
        (r, stripeId) => this.#refunded(r, stripeId),
        (at) => this.#arm(at),
      );
    });
  }

  /**
   * Places the order: holds every line, or none. Placing it again (the same
   * key) answers it as decided; a refused order placed again is a new attempt.
   */
  place(orderId: string, request: PlaceRequest): Promise<OrderOutcome> {
    return this.#serially(async () => {
      let o = store.readOrder(this.#db);
      if (o && o.idem_hash !== request.hash) return { ok: false, code: "key_reused" } as const;
      if (!o) {
        const row = {
          id: orderId,
          user_id: request.user_id,
          created_at: iso(),
          idem_principal: request.principal,
          idem_hash: request.hash,
        };
        store.createOrder(
          this.#db,
          row,
          request.lines.map((l) => ({
            ticket_id: l.ticket_id,
            quantity: l.quantity,
            ask: l.seats ? JSON.stringify({ seats: l.seats }) : l.best ? JSON.stringify({ best: l.best }) : null,
          })),
        );
        o = store.readOrder(this.#db)!;
        await this.#arm(Date.now() + 3 * LINE_CALL_MS); // an instance that dies while placing: the alarm decides
      } else if (o.state === "refused") {
        if (!(await this.#deliver())) return releasing();
        const again = store.readLines(this.#db).map((l) => ({
          position: l.position,
          fields: { answer: "asked" as const, refusal: null, settled: null },
        }));
        o = store.changeOrder(this.#db, { state: "placing", attempt: o.attempt + 1 }, undefined, again);
      } else if (o.state !== "placing") {
        return { ok: true, order: this.#view(), replayed: true } as const;
      }
      await this.#holdLines(o, request.deadline);
      return this.#decidePlacement();
    });
  }

  /** The order as it is now. */
  order(): Promise<OrderOutcome> {
    return this.#serially(async () => {
      if (!store.readOrder(this.#db)) return { ok: false, code: "order_not_found" } as const;
      return { ok: true, order: this.#view() } as const;
    });
  }

  /** The order, with its lines as their tickets hold them (entries, refunds); a ticket that does not answer leaves its line out. */
  async lines(): Promise<OrderLinesOutcome> {
    const o = await this.order();
    if (!o.ok) return o;
    const asked = o.order.lines.filter((l) => l.purchase_id !== null);
    const answers = await Promise.all(
      asked.map((l) =>
        this.#ticket(l.ticket_id)
          .lines(l.ticket_id, [l.purchase_id!])
          .catch(() => null),
      ),
    );
    const held = asked.flatMap((l, i) => {
      const a = answers[i];
      return a?.ok && a.lines[0] ? [{ ...a.lines[0], ticket_id: l.ticket_id }] : [];
    });
    return { ok: true, order: o.order, held };
  }

  /** The box office confirms: every line. An expired order only if every line can be taken again. */
  confirm(): Promise<OrderOutcome> {
    return this.#serially(async () => {
      const o = store.readOrder(this.#db);
      if (!o) return { ok: false, code: "order_not_found" } as const;
      if (o.state === "confirmed") return { ok: true, order: this.#view() } as const;
      if (o.state !== "held" && o.state !== "expired") return this.#invalid(o);
      return this.#confirmLines(o, null);
    });
  }

  /** Its owner while held, or the box office: every line's units go back (paid ones refunded by their tickets). */
  cancel(actor: Actor): Promise<OrderOutcome> {
    return this.#serially(async () => {
      const o = store.readOrder(this.#db);
      if (!o) return { ok: false, code: "order_not_found" } as const;
      if (actor.role === "user" && actor.id !== o.user_id) {
        return { ok: false, code: "forbidden", reason: "You may only cancel your own orders." } as const;
      }
      if (o.state === "cancelled" || (o.state === "refunded" && o.cancelled_at))
        return { ok: true, order: this.#view() } as const;
      if (o.state === "confirmed" && actor.role === "user") {
        return { ok: false, code: "forbidden", reason: "A confirmed order is cancelled by the box office." } as const;
      }
      if (o.state !== "held" && o.state !== "confirmed") return this.#invalid(o);
      if (o.state === "confirmed" && (await this.#anyoneIn())) return { ok: false, code: "checked_in" } as const;
      const row = this.#decide({ state: "cancelled", cancelled_at: iso() }, "order.cancelled");
      if (o.state === "held") void this.#expireSession(row);
      await this.#deliver();
      return { ok: true, order: this.#view() } as const;
    });
  }

  /** One Stripe Checkout Session for the whole order; every line is held as long as it (src/payments/checkout.ts). */
  checkout(actor: Actor, urls: ReturnUrls): Promise<OrderCheckoutOutcome> {
    return this.#serially(async () => {
      const secretKey = this.env.STRIPE_SECRET_KEY;
      if (!secretKey) return { ok: false, code: "unavailable", reason: "payments are not configured" } as const;
      const o = store.readOrder(this.#db);
      if (!o) return { ok: false, code: "order_not_found" } as const;
      if (actor.role === "user" && actor.id !== o.user_id) {
        return { ok: false, code: "forbidden", reason: "You may only pay for your own orders." } as const;
      }
      if (o.state !== "held") return this.#invalid(o);
      const ls = store.readLines(this.#db);
      const cannot = chargeRefusal(
        o.total_minor,
        o.currency!,
        ls.map((l) => l.unit_price_minor!),
      );
      if (cannot) return { ok: false, code: "not_chargeable", currency: o.currency!, ...cannot } as const;
      const step = checkoutStep(o, urls, iso());
      if ("otherUrls" in step) {
        return {
          ok: false,
          code: "invalid",
          errors: [{ field: "success_url", message: "this order's checkout was started with other return URLs" }],
        } as const;
      }
      if ("session" in step) return { ok: true, session: step.session } as const;
      let attempt = o;
      if ("begin" in step) {
        // The lines first: none may let go before the session ends.
        const extended = await this.#tellAll({ to: "extended", until: step.begin.expires_at! });
        if (extended !== "ok") return extended === "unknown" ? noAnswer() : expiredMeanwhile();
        attempt = this.#change({ ...step.begin, held_until: o.held_until ?? o.expires_at });
        await this.#arm(Date.parse(attempt.expires_at!));
      }
      const asked = await askForSession(secretKey, orderCheckout(attempt, ls, urls), async () => {
        const ended = failedAttempt(store.readOrder(this.#db)!, attempt.checkout_expires_at!, true);
        if (ended) this.#change(ended); // the lines keep their longer escrow: the order's deadline decides first
      });
      if (!asked.ok) return asked;
      const now = store.readOrder(this.#db)!;
      if (now.state !== "held") {
        void expireCheckoutSession(secretKey, asked.session.id).catch(() => {});
        return this.#invalid(now);
      }
      const recorded = this.#change(sessionMade(now, asked.session), "order.updated");
      return { ok: true, session: sessionOfOrder(recorded) } as const;
    });
  }

  /** Acts on a verified Stripe event of this order's Checkout Session, once per event id. */
  paymentEvent(event: PaymentEvent): Promise<OrderPaymentOutcome> {
    return this.#serially(async () => {
      const o = store.readOrder(this.#db);
      if (!o || store.wasHandled(this.#db, event.id)) return { ok: true, result: "ignored" } as const;
      const ignore = () => {
        store.markEventHandled(this.#db, event.id, iso());
        return { ok: true, result: "ignored" } as const;
      };
      const ours = o.checkout_session_id === event.sessionId;
      if (event.type === "checkout.session.expired") {
        if (!ours || o.state !== "held") return ignore();
        store.markEventHandled(this.#db, event.id, iso());
        this.#decide({ state: "cancelled", cancelled_at: iso() }, "order.cancelled");
        await this.#deliver();
        return { ok: true, result: "cancelled" } as const;
      }
      if (!event.paid) return ignore();
      if (!ours && (event.amountMinor !== o.total_minor || event.currency !== o.currency)) return ignore();
      const same =
        event.sessionId === o.paid_session_id ||
        (event.paymentIntent !== null && event.paymentIntent === o.payment_intent);
      if (same) return ignore();
      const paid = { paid_session_id: event.sessionId, payment_intent: event.paymentIntent };
      const fresh =
        o.state === "held" ||
        o.state === "expired" ||
        (o.state === "cancelled" && !o.confirmed_at && !o.paid_session_id);
      if (!fresh) {
        // Paid again for an order settled otherwise: that payment goes back.
        this.#refundPayment(event, "second_payment");
        return { ok: true, result: "refunded" } as const;
      }
      store.markEventHandled(this.#db, event.id, iso());
      const outcome = await this.#confirmLines(o, paid);
      const state = store.readOrder(this.#db)!.state;
      if (!outcome.ok && state !== "refunded") return outcome;
      return { ok: true, result: state === "refunded" ? "refunded" : "confirmed" } as const;
    });
  }

  /** The deadline, deliveries, refunds, projection and events: whatever is due. */
  override async alarm(): Promise<void> {
    await this.#serially(async () => {
      const o = store.readOrder(this.#db);
      if (!o) return;
      if (o.state === "held" && o.expires_at && o.expires_at <= iso()) {
        const row = this.#decide({ state: "expired" }, "order.expired");
        void this.#expireSession(row);
      }
      if (o.state === "placing") await this.#decidePlacement(); // an instance that died while placing
      if (o.state === "confirming") await this.#confirmLines(o, null); // ...or while confirming
      if (Date.now() >= this.#delivery.retryAt) await this.#deliver();
      if (store.readOrder(this.#db)!.state === "cancelled") await this.#followRefunds();
    });
    await Promise.all([this.#project(), this.#events.flush(true), this.#refunds.run()]);
    const next: number[] = [];
    const o = store.readOrder(this.#db);
    if (o?.state === "held" && o.expires_at) next.push(Date.parse(o.expires_at));
    if (this.#delivery.retryAt) next.push(this.#delivery.retryAt);
    if (o && projectable(o) && o.version > o.projected) {
      next.push(this.#projection.waiting ? this.#projection.retryAt : Date.now() + 5_000);
    }
    if (hasPendingEvents(this.#db))
      next.push(this.#events.backoff.waiting ? this.#events.backoff.retryAt : Date.now() + 5_000);
    const refund = nextRefundAt(this.#db);
    if (refund !== null) next.push(refund);
    if (next.length > 0) await this.ctx.storage.setAlarm(Math.min(...next));
  }

  /** Asks every line not yet answered to hold its units, in parallel, and records each answer. */
  async #holdLines(o: OrderRow, deadline: number): Promise<void> {
    const all = store.readLines(this.#db);
    const asked = all.filter((l) => l.answer === "asked" || l.answer === "unknown");
    await Promise.all(
      asked.map(async (l) => {
        const seated = l.ask ? (JSON.parse(l.ask) as Pick<PlaceRequest["lines"][number], "seats" | "best">) : {};
        const answer = await this.#call(l.ticket_id, (t) =>
          t.holdLine(l.ticket_id, {
            order_id: o.id,
            key: lineKey(o, l, all),
            user_id: o.user_id,
            quantity: l.quantity,
            deadline,
            ...seated,
          }),
        );
        store.updateLine(this.#db, l.position, lineAnswer(l.ticket_id, answer));
      }),
    );
  }

  /** Decides a placement from its lines' answers: held, or refused (the held ones released before answering). */
  async #decidePlacement(): Promise<OrderOutcome> {
    const ls = store.readLines(this.#db);
    const unknown = ls.filter((l) => l.answer === "unknown" || l.answer === "asked");
    const refused = ls.filter((l) => l.answer === "refused");
    const currencies = [...new Set(ls.flatMap((l) => (l.currency ? [l.currency] : [])))];
    if (unknown.length > 0 || refused.length > 0 || currencies.length > 1) {
      this.#decide({ state: "refused" });
      const released = await this.#deliver();
      if (unknown.length > 0 || !released) return releasing();
      if (currencies.length > 1) return { ok: false, code: "currency_mismatch", currencies } as const;
      return {
        ok: false,
        code: "order_refused",
        lines: refused.map((l) => JSON.parse(l.refusal!) as RefusedLine),
      } as const;
    }
    const expires = deadlineOf(ls, LINE_GRACE_SECONDS);
    const total = ls.reduce((n, l) => n + l.quantity * l.unit_price_minor!, 0);
    this.#decide({ state: "held", currency: currencies[0]!, total_minor: total, expires_at: expires }, "order.held");
    await this.#arm(Date.parse(expires));
    return { ok: true, order: this.#view() } as const;
  }

  /**
   * Confirms every line (`paid`: with the payment that pays for them). Lines
   * whose escrow ended are taken again if their units are free; if one
   * cannot be, the others are given back: a payment is then refunded whole
   * (the order ends refunded), the box office's confirm is 409 hold_expired.
   */
  async #confirmLines(
    o: OrderRow,
    paid: Pick<OrderRow, "paid_session_id" | "payment_intent"> | null,
  ): Promise<OrderOutcome> {
    if (o.state !== "confirming") this.#change({ state: "confirming", ...(paid ?? {}), confirmed_at: null });
    paid = store.readOrder(this.#db)!.paid_session_id ? store.readOrder(this.#db)! : null;
    const confirmed = await this.#tellAll({ to: "confirmed", paid: null }, "confirming");
    if (confirmed === "ok") {
      this.#decide(
        { state: "confirmed", confirmed_at: iso(), cancelled_at: null, expires_at: null },
        "order.confirmed",
      );
      await this.#deliver(); // the payment, for the refunds of their units
      return { ok: true, order: this.#view() } as const;
    }
    if (confirmed === "unknown") {
      await this.#retryLater(); // the alarm goes on confirming
      return noAnswer();
    }
    // A line's units are gone (its escrow ended before the confirmation came): every other is given back
    // as it was. A payment is refunded whole; the box office's confirm is refused.
    if (paid) {
      this.#decide({ state: "refunded" }, "order.refunded");
      this.#refundPayment({ sessionId: paid.paid_session_id!, paymentIntent: paid.payment_intent }, "late_payment");
    } else {
      this.#decide({ state: "expired" }, "order.expired");
    }
    await this.#deliver();
    return { ok: false, code: "hold_expired", available: 0 } as const;
  }

  /**
   * Tells every line `decision` (those that already acted on `state` are not
   * asked again): "ok", "refused" if a line refused it, "unknown" if one did
   * not answer.
   */
  async #tellAll(
    decision: Parameters<TicketSeller["settleLine"]>[2],
    state?: OrderState,
  ): Promise<"ok" | "refused" | "unknown"> {
    const o = store.readOrder(this.#db)!;
    const all = store.readLines(this.#db);
    const ls = all.filter((l) => l.answer !== "refused" && (!state || l.settled !== state));
    const answers = await Promise.all(
      ls.map(async (l) => {
        const answer = await this.#call(l.ticket_id, (t) => t.settleLine(l.ticket_id, lineKey(o, l, all), decision));
        if (answer.ok && state) store.updateLine(this.#db, l.position, { settled: state });
        return answer.ok ? "ok" : CERTAIN.has(answer.code) || answer.code !== "outcome_unknown" ? "refused" : "unknown";
      }),
    );
    if (answers.includes("unknown")) return "unknown";
    return answers.includes("refused") ? "refused" : "ok";
  }

  /** Tells every line the order's decision until each has acted on it; true once all have. */
  async #deliver(): Promise<boolean> {
    const o = store.readOrder(this.#db)!;
    const decision = decisionFor(o);
    const all = store.readLines(this.#db);
    const due = all.filter((l) => undelivered(l, o.state));
    if (!decision || due.length === 0) return true;
    const results = await Promise.all(
      due.map(async (l) => {
        const answer = await this.#call(l.ticket_id, (t) => t.settleLine(l.ticket_id, lineKey(o, l, all), decision));
        if (answer.ok) store.updateLine(this.#db, l.position, { settled: o.state });
        else if (answer.code === "checked_in") store.updateLine(this.#db, l.position, { settled: o.state, kept: true });
        else if (answer.code !== "outcome_unknown")
          logError(
            "a line refused its order's decision",
            { order_id: o.id, ticket_id: l.ticket_id, code: answer.code },
            null,
          );
        return answer.ok || answer.code === "checked_in";
      }),
    );
    const done = results.every(Boolean);
    if (done) this.#delivery = { failures: 0, retryAt: 0 };
    else await this.#retryLater();
    return done;
  }

  /** Some line did not answer: the alarm tells them again, backing off. */
  async #retryLater(): Promise<void> {
    const failures = this.#delivery.failures + 1;
    this.#delivery = { failures, retryAt: Date.now() + Math.min(RETRY_MS.min * 2 ** (failures - 1), RETRY_MS.max) };
    await this.#arm(this.#delivery.retryAt);
  }

  /** Whether anyone a line admitted is inside (a confirmed order then stays). */
  async #anyoneIn(): Promise<boolean> {
    const ls = store.readLines(this.#db).filter((l) => l.purchase_id !== null);
    const answers = await Promise.all(ls.map((l) => this.#ticket(l.ticket_id).lines(l.ticket_id, [l.purchase_id!])));
    return answers.some((a) => a.ok && a.lines.some((line) => line.entries.some((e) => e.status === "checked_in")));
  }

  /** After the box office cancelled a paid order: it ends refunded once every line's refunds are made. */
  async #followRefunds(): Promise<void> {
    const o = store.readOrder(this.#db)!;
    if (!o.paid_session_id) return;
    const ls = store.readLines(this.#db).filter((l) => l.purchase_id !== null && !l.kept);
    const answers = await Promise.all(
      ls.map((l) =>
        this.#ticket(l.ticket_id)
          .lines(l.ticket_id, [l.purchase_id!])
          .catch(() => null),
      ),
    );
    let back = 0;
    ls.forEach((l, i) => {
      const line = answers[i]?.ok ? answers[i].lines[0] : undefined;
      if (line) store.updateLine(this.#db, l.position, { refunded_minor: line.purchase.refunded_minor });
      back += line?.purchase.refunded_minor ?? 0;
    });
    const owed = ls.reduce((n, l) => n + l.quantity * l.unit_price_minor!, 0);
    if (back >= owed) this.#decide({ state: "refunded" }, "order.refunded");
    else await this.#arm(Date.now() + 5_000);
  }

  /** The whole payment goes back: decided and recorded with the event, made by the Refunder. */
  #refundPayment(
    paid: { sessionId: string; paymentIntent: string | null; id?: string },
    reason: "late_payment" | "second_payment",
  ): void {
    const o = store.readOrder(this.#db)!;
    this.#db.transaction(() => {
      insertRefund(this.#db, {
        purchase_id: 0,
        reason,
        payment_intent: paid.paymentIntent,
        session_id: paid.sessionId,
        amount_minor: o.total_minor,
        currency: o.currency!,
        created_at: iso(),
      });
      if (paid.id) store.markEventHandled(this.#db, paid.id, iso());
    });
    void this.#arm(Date.now() + 5_000);
    void this.#refunds.run();
  }

  /** Stripe made a refund of the order's payment: recorded with what the order shows given back. */
  #refunded(r: RefundRow, stripeId: string): void {
    this.#db.transaction(() => {
      markRefunded(this.#db, r, stripeId, iso());
      const o = store.readOrder(this.#db)!;
      this.#change({ refunded_minor: o.refunded_minor + (r.reason === "second_payment" ? 0 : r.amount_minor) });
    });
  }

  /** Records a decision (the order's new state), with its event, before any line is told. */
  #decide(fields: Partial<OrderRow>, type?: OrderEventType): OrderRow {
    return this.#change(fields, type);
  }

  /** A change of the order (with its event), projected to D1 and published after. */
  #change(fields: Partial<OrderRow>, type?: OrderEventType): OrderRow {
    const row = store.changeOrder(this.#db, fields, (o, lines) =>
      type ? [orderEvent(type, { order: o, lines })] : [],
    );
    void this.#arm(Date.now() + 5_000); // projected even if this instance dies now
    void this.#project();
    if (type) void this.#events.flush();
    return row;
  }

  async #project(): Promise<void> {
    const o = store.readOrder(this.#db);
    if (!o || o.version <= o.projected || !projectable(o)) return;
    if (this.#projection.waiting) return;
    try {
      await this.env.DB.batch([upsertOrder(this.env.DB, { ...o, status: statusOf(o) }, store.readLines(this.#db))]);
      this.#projection.succeeded();
      store.markProjected(this.#db, o.version);
    } catch (err) {
      this.#projection.failed();
      logError("projecting an order to D1 failed", { order_id: o.id }, err);
      await this.#arm(this.#projection.retryAt);
    }
  }

  async #call(
    ticketId: number,
    call: (t: DurableObjectStub<TicketSeller>) => Promise<LineOutcome>,
  ): Promise<LineOutcome> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<LineOutcome>((resolve) => {
      timer = setTimeout(
        () => resolve({ ok: false, code: "outcome_unknown", reason: "the ticket did not answer in time" }),
        LINE_CALL_MS,
      );
    });
    try {
      return await Promise.race([call(this.#ticket(ticketId)), late]);
    } catch (err) {
      logError("a line's ticket did not answer", { ticket_id: ticketId }, err);
      return { ok: false, code: "outcome_unknown", reason: String(err) };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  #ticket = (ticketId: number) => this.env.TICKET_SELLER.getByName(String(ticketId));

  #view(): OrderView {
    return { order: store.readOrder(this.#db)!, lines: store.readLines(this.#db) };
  }

  #invalid(o: OrderRow) {
    return { ok: false, code: "order_invalid_state", status: statusOf(o) } as const;
  }

  async #expireSession(o: OrderRow): Promise<void> {
    if (!this.env.STRIPE_SECRET_KEY || !o.checkout_session_id) return;
    await expireCheckoutSession(this.env.STRIPE_SECRET_KEY, o.checkout_session_id).catch((err) =>
      logError("expiring an order's checkout session failed", { order_id: o.id }, err),
    );
  }

  async #arm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }

  /**
   * One operation at a time; each answered once D1 holds what it changed
   * (at most PROJECTION_WAIT_MS: then the alarm carries it on), as a ticket's are.
   */
  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work).then(async (result) => {
      await withTimeout(this.#project(), PROJECTION_WAIT_MS).catch(() => {});
      return result;
    });
    this.#queue = run.catch(() => {});
    return run;
  }
}

/**
 * A line's hold and decisions are keyed by the order and its attempt; a
 * ticket with several lines (seats in several blocks) by the line's place too.
 */
const lineKey = (o: Pick<OrderRow, "id" | "attempt">, l: LineRow, all: LineRow[]) =>
  all.filter((x) => x.ticket_id === l.ticket_id).length > 1
    ? `${o.id}/${o.attempt}/${l.position}`
    : `${o.id}/${o.attempt}`;

function lineAnswer(ticketId: number, answer: LineOutcome): Partial<LineRow> {
  if (answer.ok && answer.line) {
    const p = answer.line;
    return {
      answer: "held",
      game_id: p.game_id,
      name: answer.ticket.name,
      type: answer.ticket.type,
      unit_price_minor: p.unit_price_minor,
      currency: p.currency,
      purchase_id: p.id,
      hold_ends: p.expires_at,
      settled: "held",
      seats: p.seats,
    };
  }
  if (!answer.ok && (CERTAIN.has(answer.code) || answer.code === "key_reused")) {
    return { answer: "refused", refusal: JSON.stringify(refusedLine(ticketId, answer)) };
  }
  return { answer: "unknown" };
}

const releasing = () =>
  ({
    ok: false,
    code: "outcome_unknown",
    reason: "a ticket of the order did not answer; nothing stays held (what was held is being released)",
  }) as const;
const noAnswer = () =>
  ({
    ok: false,
    code: "outcome_unknown",
    reason: "a ticket of the order did not answer; the order is being carried on",
  }) as const;
const expiredMeanwhile = () => ({ ok: false, code: "hold_expired", available: 0 }) as const;

const sessionOfOrder = (o: OrderRow): CheckoutSession => ({
  id: o.checkout_session_id!,
  url: o.checkout_url!,
  expires_at: Math.floor(Date.parse(o.checkout_expires_at!) / 1000),
});

function orderCheckout(o: OrderRow, ls: LineRow[], urls: ReturnUrls) {
  return {
    ref: `order-${o.id}`,
    clientReferenceId: o.id,
    metadata: { order_id: o.id },
    currency: o.currency!,
    items: ls.map((l) => ({ name: `${l.name} (${l.type})`, unitAmount: l.unit_price_minor!, quantity: l.quantity })),
    successUrl: urls.success_url,
    cancelUrl: urls.cancel_url,
    expiresAt: o.checkout_expires_at!,
  };
}

type OrderEventType = Extract<EventDraft["type"], `order.${string}`>;

/** An order's event: the order as of the change. */
const orderEvent = (type: OrderEventType, view: OrderView): EventDraft => ({ type, data: orderData(view) });

/** Only placed orders are in the read model (a refused one never was an order). */
const projectable = (o: OrderRow) => o.state !== "placing" && o.state !== "refused";

/** The order as events and the API show it (without entries). */
export function orderData({ order: o, lines }: OrderView) {
  return {
    id: o.id,
    user_id: o.user_id,
    status: statusOf(o),
    currency: o.currency,
    total_price: o.total_minor / 100,
    refunded_price: (o.refunded_minor + lines.reduce((n, l) => n + l.refunded_minor, 0)) / 100,
    expires_at: o.state === "held" ? o.expires_at : null,
    created_at: o.created_at,
    confirmed_at: o.confirmed_at,
    cancelled_at: o.cancelled_at,
    lines: lines.map((l) => ({
      ticket_id: l.ticket_id,
      game_id: l.game_id,
      name: l.name,
      type: l.type,
      quantity: l.quantity,
      unit_price: (l.unit_price_minor ?? 0) / 100,
      total_price: ((l.unit_price_minor ?? 0) * l.quantity) / 100,
      purchase_id: l.purchase_id,
      ...(l.seats ? { seats: JSON.parse(l.seats) as string[] } : {}),
    })),
  };
}
