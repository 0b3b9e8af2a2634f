import { entriesOf, hasCheckedIn, hasEntryIds } from "./entries";
import { type Rejection, retakeRefusal } from "./rules";
import { amendPurchase, cancelPurchase, confirmPurchase, expirePurchases, secondsAfter } from "./sales";
import type { PurchaseRow, TicketRow } from "./schema";
import { refundsOf, type Store, unitsOf } from "./store";

// Lines of orders: purchases with order_id, held as escrow for their order's
// object, which decides once and tells every line. A line is changed only by
// its order's decisions (each idempotent: told again, it answers the same),
// or, if none came, released by the ticket's own alarm at its escrow's end.

/** A line is held this long past its ticket's hold_seconds: the order decides before, or the line lets go. */
export const LINE_GRACE_SECONDS = 60;

export type LineDecision =
  /** Paid (or confirmed by the box office): its units are sold; a line whose escrow ended takes them again if free. */
  | { to: "confirmed"; paid: Paid | null }
  /**
   * Its units go back: a held line's, or a confirmed one's not checked in
   * (refunded if paid: `paid` is the order's payment, for a line not yet told of it).
   */
  | { to: "cancelled"; paid?: Paid | null }
  /** The order's deadline passed unpaid: a held line lets its units go. */
  | { to: "expired" }
  /** A checkout lengthened the order: the line is held until `until`, plus the grace. */
  | { to: "extended"; until: string };

/** The order's payment, which pays for every line. */
export type Paid = { intent: string | null; session: string };

export type LineResult = { ok: true; p: PurchaseRow } | Rejection;

/** Applies an order's decision to its line `p`, in one transaction (or a few for a confirmed line's entries). */
export function settleLine(db: Store, t: TicketRow, p: PurchaseRow, d: LineDecision, now: string): LineResult {
  const done = (row: PurchaseRow): LineResult => ({ ok: true, p: row });
  const invalid = (): LineResult => ({ ok: false, code: "invalid_state", status: p.status });
  switch (d.to) {
    case "confirmed": {
      if (p.status === "confirmed") {
        // Confirmed first, paid once every line was: the payment is recorded, for the refunds of its units.
        const paid = d.paid && !p.paid_session_id;
        return done(
          paid ? amendPurchase(db, t, p, { payment_intent: d.paid!.intent, paid_session_id: d.paid!.session }) : p,
        );
      }
      if (p.status === "held") return done(confirmPurchase(db, t, p, now, d.paid ?? undefined));
      // Released (its escrow ended, or its order was cancelled first): its units again, if still free.
      const released = p.status === "expired" || (p.status === "cancelled" && entriesOf(db, p.id).length === 0);
      if (!released || refundsOf(db, p.id).length > 0 || !hasEntryIds(db, p)) return invalid();
      const refused = retakeRefusal(t, p, unitsOf(db, p.user_id));
      return refused ?? done(confirmPurchase(db, t, p, now, d.paid ?? undefined));
    }
    case "cancelled": {
      if (p.status === "held") return done(cancelPurchase(db, t, p, now));
      if (p.status !== "confirmed") return done(p); // released already, or refunded
      // Cancelled before the payment's news reached this line: recorded first, so its units are refunded.
      if (d.paid && !p.paid_session_id)
        p = amendPurchase(db, t, p, { payment_intent: d.paid.intent, paid_session_id: d.paid.session });
      // Someone it admitted is inside: those units stay sold; the others go back.
      if (hasCheckedIn(db, p.id)) return { ok: false, code: "checked_in" };
      return done(cancelPurchase(db, t, p, now));
    }
    case "expired": {
      if (p.status === "held") return done(expirePurchases(db, t, [p], now)[0]!);
      // Taken again for an order that could not take all its lines again: given back as it was, unpaid.
      if (p.status === "confirmed")
        return p.paid_session_id ? invalid() : done(cancelPurchase(db, t, p, now, undefined, "expired"));
      return done(p);
    }
    case "extended": {
      if (p.status !== "held") return invalid();
      const until = secondsAfter(d.until, LINE_GRACE_SECONDS);
      if (p.expires_at && p.expires_at >= until) return done(p);
      return done(amendPurchase(db, t, p, { expires_at: until, held_until: until }));
    }
  }
}
