// A stand-in for the few Stripe API calls the worker makes, served to the
// worker's outbound fetch by the test runtime (vitest.config.ts). It answers
// as Stripe does (form-encoded requests, JSON answers, Idempotency-Key
// replays) and records every request. Tests read the record at
// GET https://api.stripe.com/__fake/requests and make the next calls to a
// path fail with POST https://api.stripe.com/__fake/fail?path=...&times=N.
import { Response } from "miniflare";

export interface FakeStripeRequest {
  method: string;
  path: string;
  idempotencyKey: string | null;
  form: Record<string, string>;
}

export function fakeStripe() {
  const requests: FakeStripeRequest[] = [];
  const replies = new Map<string, unknown>(); // by Idempotency-Key
  const failures = new Map<string, number>(); // path prefix → calls left to fail
  let next = 0;

  return async (request: { method: string; url: string; headers: Headers; text(): Promise<string> }) => {
    const url = new URL(request.url);
    if (url.pathname === "/__fake/requests") return Response.json(requests);
    if (url.pathname === "/__fake/fail") {
      failures.set(url.searchParams.get("path")!, Number(url.searchParams.get("times") ?? 1));
      return Response.json({ ok: true });
    }
    const form = Object.fromEntries(new URLSearchParams(await request.text()));
    const key = request.headers.get("Idempotency-Key");
    requests.push({ method: request.method, path: url.pathname, idempotencyKey: key, form });
    if (request.headers.get("Authorization") !== "Bearer sk_test_fake") {
      return Response.json({ error: { type: "invalid_request_error", message: "bad key" } }, { status: 401 });
    }
    for (const [prefix, left] of failures) {
      if (left > 0 && url.pathname.startsWith(prefix)) {
        failures.set(prefix, left - 1);
        return Response.json({ error: { type: "api_error", message: "injected failure" } }, { status: 500 });
      }
    }
    if (key && replies.has(key)) return Response.json(replies.get(key));
    let reply: unknown;
    if (url.pathname === "/v1/checkout/sessions") {
      const id = `cs_test_${++next}`;
      reply = {
        object: "checkout.session",
        id,
        url: `https://checkout.stripe.test/c/pay/${id}`,
        expires_at: Number(form.expires_at),
        client_reference_id: form.client_reference_id,
        metadata: { purchase_id: form["metadata[purchase_id]"], ticket_id: form["metadata[ticket_id]"] },
        payment_status: "unpaid",
      };
    } else if (/^\/v1\/checkout\/sessions\/[^/]+\/expire$/.test(url.pathname)) {
      reply = { object: "checkout.session", id: url.pathname.split("/")[4], status: "expired" };
    } else if (url.pathname === "/v1/refunds") {
      reply = { object: "refund", id: `re_test_${++next}`, payment_intent: form.payment_intent, status: "succeeded" };
    } else {
      return Response.json({ error: { type: "invalid_request_error", message: "unknown path" } }, { status: 404 });
    }
    if (key) replies.set(key, reply);
    return Response.json(reply);
  };
}
