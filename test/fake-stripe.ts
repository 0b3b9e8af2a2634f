// The Stripe API as the worker sees it in tests: the stand-in of
// scripts/lib/stripe-fake.ts (the same one `npm run stripe:fake` serves),
// answering the worker's outbound fetch (vitest.config.ts). On top, for tests:
// it records every request, which tests read at
// GET https://api.stripe.com/__fake/requests, and makes the next calls to a
// path fail with POST https://api.stripe.com/__fake/fail?path=...&times=N
// (Stripe answers 500), or lose their answers with &mode=lost (Stripe acts,
// the answer never arrives whole).
import { Response } from "miniflare";
import { stripeCore } from "../scripts/lib/stripe-fake.ts";

export interface FakeStripeRequest {
  method: string;
  path: string;
  idempotencyKey: string | null;
  form: Record<string, string>;
}

export function fakeStripe() {
  const core = stripeCore("sk_test_fake", "https://checkout.stripe.test");
  const requests: FakeStripeRequest[] = [];
  const failures = new Map<string, { left: number; lost: boolean }>(); // path prefix → calls left to fail

  return async (request: { method: string; url: string; headers: Headers; text(): Promise<string> }) => {
    const url = new URL(request.url);
    if (url.pathname === "/__fake/requests") return Response.json(requests);
    if (url.pathname === "/__fake/fail") {
      const lost = url.searchParams.get("mode") === "lost";
      failures.set(url.searchParams.get("path")!, { left: Number(url.searchParams.get("times") ?? 1), lost });
      return Response.json({ ok: true });
    }
    const body = await request.text();
    const key = request.headers.get("Idempotency-Key");
    const form = Object.fromEntries(new URLSearchParams(body));
    requests.push({ method: request.method, path: url.pathname, idempotencyKey: key, form });
    let lost = false;
    for (const [prefix, failure] of failures) {
      if (failure.left > 0 && url.pathname.startsWith(prefix)) {
        failure.left--;
        if (!failure.lost)
          return Response.json({ error: { type: "api_error", message: "injected failure" } }, { status: 500 });
        lost = true;
      }
    }
    const reply = core.handle(
      request.method,
      url.pathname + url.search,
      request.headers.get("Authorization"),
      key,
      body,
    );
    // A lost answer: Stripe did the work, the connection broke mid-answer.
    if (lost) return new Response(JSON.stringify(reply.body).slice(0, 10), { status: reply.status });
    return Response.json(reply.body, { status: reply.status });
  };
}
