import {
  CHECKOUT_MINUTES,
  type CheckoutRequest,
  type CheckoutSession,
  createCheckoutSession,
  StripeError,
} from "./stripe";

// One Stripe Checkout Session for what a hold (a purchase's or an order's)
// pays for, asked for the same way by both objects. An attempt (its end and
// return URLs) is recorded, and the hold lengthened to it, before Stripe is
// asked, so a retry after a lost answer asks for the very same session;
// after Stripe answered with an error, the attempt is over (Stripe keeps a
// key's first answer, errors included) and the hold ends when it would have.

/** The fields of a held purchase or order that its checkout keeps. */
export interface Payable {
  expires_at: string | null;
  held_until: string | null; // the hold's end before a checkout lengthened it
  checkout_params: string | null; // JSON: the return URLs of the attempt under way
  checkout_expires_at: string | null;
  checkout_session_id: string | null;
  checkout_url: string | null;
}

export interface ReturnUrls {
  success_url: string;
  cancel_url: string;
}

export type Step =
  /** A session is recorded: it is the answer. */
  | { session: CheckoutSession }
  /** An attempt is under way with these URLs: ask Stripe again with its key. */
  | { rejoin: true }
  /** A new attempt: write these fields (the hold lengthened to them), then ask. */
  | { begin: Pick<Payable, "checkout_params" | "checkout_expires_at" | "expires_at"> }
  | { otherUrls: true };

/** What a checkout call does with `p` (held) at `now`. */
export function checkoutStep(p: Payable, urls: ReturnUrls, now: string): Step {
  if (p.checkout_session_id && p.checkout_url) return { session: sessionOf(p) };
  // Stripe wants a session to live 30 minutes at least, counted from when it is asked.
  if (
    p.checkout_params &&
    p.checkout_expires_at &&
    Date.parse(p.checkout_expires_at) - Date.parse(now) >= 30 * 60_000
  ) {
    return p.checkout_params === JSON.stringify(urls) ? { rejoin: true } : { otherUrls: true };
  }
  // The session ends with the hold, at least 31 minutes from now, in whole seconds.
  const least = Date.parse(now) + CHECKOUT_MINUTES * 60_000;
  const ends = new Date(Math.ceil(Math.max(least, Date.parse(p.expires_at!)) / 1000) * 1000).toISOString();
  return { begin: { checkout_params: JSON.stringify(urls), checkout_expires_at: ends, expires_at: ends } };
}

/**
 * Asks Stripe for the attempt's session. `failed` runs when Stripe answered
 * with an error (no session was made); a lost answer leaves the attempt to be
 * asked again.
 */
export async function askForSession(
  secretKey: string,
  request: CheckoutRequest,
  failed: () => Promise<void>,
): Promise<{ ok: true; session: CheckoutSession } | { ok: false; code: "payment_provider"; reason: string }> {
  try {
    return { ok: true, session: await createCheckoutSession(secretKey, request) };
  } catch (err) {
    console.error(
      JSON.stringify({
        level: "error",
        message: "creating a checkout session failed",
        ref: request.ref,
        error: String(err),
      }),
    );
    if (err instanceof StripeError) await failed();
    return { ok: false, code: "payment_provider", reason: String(err) };
  }
}

/**
 * After Stripe answered an error for the attempt ending at `attemptEnds`: the
 * fields that end it (the hold back to its own end), or null when the attempt
 * is no longer the one under way (a concurrent call recorded its session).
 */
export function failedAttempt(current: Payable, attemptEnds: string, held: boolean): Partial<Payable> | null {
  if (!current.checkout_params || current.checkout_session_id || current.checkout_expires_at !== attemptEnds)
    return null;
  return { checkout_params: null, expires_at: held ? (current.held_until ?? current.expires_at) : current.expires_at };
}

/** The session made: recorded, and the hold lasting as long as the session the buyer is sent to. */
export const sessionMade = (p: Payable, session: CheckoutSession): Partial<Payable> => ({
  checkout_session_id: session.id,
  checkout_url: session.url,
  expires_at: p.checkout_expires_at,
});

export const sessionOf = (p: Payable): CheckoutSession => ({
  id: p.checkout_session_id!,
  url: p.checkout_url!,
  expires_at: Math.floor(Date.parse(p.checkout_expires_at!) / 1000),
});
