// Money as Stripe takes it. This API keeps every price in hundredths of its
// currency; Stripe takes amounts in the currency's own smallest unit, and
// refuses charges under a minimum per currency.

// Currencies without decimals at Stripe: an amount of 1000 JPY is sent as 1000.
const ZERO_DECIMAL = new Set("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split(" "));
// Currencies with three decimals at Stripe: 5.25 KWD is sent as 5250.
const THREE_DECIMAL = new Set("BHD JOD KWD OMR TND".split(" "));

/** Stripe's minimum charge per currency, in this API's hundredths (docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). */
const MINIMUM_MINOR: Record<string, number> = {
  USD: 50,
  AED: 200,
  AUD: 50,
  BGN: 100,
  BRL: 50,
  CAD: 50,
  CHF: 50,
  CZK: 1500,
  DKK: 250,
  EUR: 50,
  GBP: 30,
  HKD: 400,
  HUF: 17500,
  INR: 50,
  JPY: 5000,
  MXN: 1000,
  MYR: 200,
  NOK: 300,
  NZD: 50,
  PLN: 200,
  RON: 200,
  SEK: 300,
  SGD: 50,
  THB: 1000,
};

/** `minor` hundredths of `currency` in Stripe's unit of that currency. */
export function toStripeAmount(minor: number, currency: string): number {
  const code = currency.toUpperCase();
  if (ZERO_DECIMAL.has(code)) return minor / 100;
  if (THREE_DECIMAL.has(code)) return minor * 10;
  return minor;
}

/** Stripe's unit of `currency` back to this API's hundredths. */
export const fromStripeAmount = (amount: number, currency: string) => {
  const code = currency.toUpperCase();
  if (ZERO_DECIMAL.has(code)) return amount * 100;
  if (THREE_DECIMAL.has(code)) return amount / 10;
  return amount;
};

export type ChargeRefusal =
  | { reason: "below_minimum"; minimum_minor: number }
  | { reason: "fractional"; minimum_minor?: undefined };

/** Why Stripe cannot charge `totalMinor` of `currency` at these unit prices, or null when it can. */
export function chargeRefusal(totalMinor: number, currency: string, unitMinors: number[]): ChargeRefusal | null {
  const code = currency.toUpperCase();
  if (ZERO_DECIMAL.has(code) && unitMinors.some((m) => m % 100 !== 0)) return { reason: "fractional" };
  const minimum = MINIMUM_MINOR[code] ?? 1;
  return totalMinor < minimum ? { reason: "below_minimum", minimum_minor: minimum } : null;
}
