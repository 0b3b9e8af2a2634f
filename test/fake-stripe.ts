// A stand-in for the few Stripe API calls the worker makes, served to the
// worker's outbound fetch by the test runtime (vitest.config.ts). It answers
// as Stripe does: form-encoded requests, JSON answers, an Idempotency-Key's
// first answer kept and replayed (errors included), the key refused with
// other parameters, a session's expires_at at least 30 minutes ahead, a
// payment refunded once. It records every request: tests read the record at
// GET https://api.stripe.com/__fake/requests and make the next calls to a
// path fail with POST https://api.stripe.com/__fake/fail?path=...&times=N
// (Stripe answers 500), or lose their answers with &mode=lost (Stripe acts,
// the answer never arrives whole).
import { Response } from "miniflare";

export interface FakeStripeRequest {
  method: string;
  path: string;
  idempotencyKey: string | null;
  form: Record<string, string>;
}

type Reply = { status: number; body: unknown };

export function fakeStripe() {
  const requests: FakeStripeRequest[] = [];
  const replies = new Map<string, { params: string; reply: Reply }>(); // by Idempotency-Key
  const failures = new Map<string, { left: number; lost: boolean }>(); // path prefix → calls left to fail
  const sessions = new Map<string, unknown>();
  const charged = new Map<string, number>(); // payment intent → amount paid, for sessions made here
  const refunds = new Map<string, { id: string; amount: number; metadata: Record<string, string> }[]>(); // by intent
  let next = 0;
  const error = (status: number, type: string, message: string, code?: string): Reply => ({
    status,
    body: { error: { type, code, message } },
  });

  function answer(method: string, path: string, form: Record<string, string>, query: URLSearchParams): Reply {
    if (method === "POST" && path === "/v1/checkout/sessions") {
      const lead = Number(form.expires_at) - Date.now() / 1000;
      if (!(lead >= 30 * 60 - 5 && lead <= 24 * 3600)) {
        return error(400, "invalid_request_error", "expires_at must be 30 minutes to 24 hours ahead");
      }
      const id = `cs_test_${++next}`;
      const amount = Number(form["line_items[0][quantity]"]) * Number(form["line_items[0][price_data][unit_amount]"]);
      charged.set(`pi_test_${form.client_reference_id}`, amount);
      const session = {
        object: "checkout.session",
        id,
        url: `https://checkout.stripe.test/c/pay/${id}`,
        expires_at: Number(form.expires_at),
        client_reference_id: form.client_reference_id,
        metadata: { purchase_id: form["metadata[purchase_id]"], ticket_id: form["metadata[ticket_id]"] },
        payment_status: "unpaid",
        payment_intent: `pi_test_${form.client_reference_id}`,
        amount_total: amount,
        currency: form["line_items[0][price_data][currency]"],
      };
      sessions.set(id, session);
      return { status: 200, body: session };
    }
    const match = /^\/v1\/checkout\/sessions\/([^/]+)(\/expire)?$/.exec(path);
    if (match) {
      const session = sessions.get(match[1]!);
      if (!session) return error(404, "invalid_request_error", "no such session", "resource_missing");
      return { status: 200, body: match[2] ? { ...(session as object), status: "expired" } : session };
    }
    if (method === "POST" && path === "/v1/refunds") {
      // As Stripe: refunds of a payment add up to at most what it charged (when known here).
      const made = refunds.get(form.payment_intent!) ?? [];
      const back = made.reduce((n, r) => n + r.amount, 0);
      const paid = charged.get(form.payment_intent!);
      const amount = form.amount === undefined ? (paid ?? 0) - back : Number(form.amount);
      if (paid !== undefined && back >= paid) {
        return error(400, "invalid_request_error", "already refunded", "charge_already_refunded");
      }
      if (paid !== undefined && back + amount > paid) {
        return error(400, "invalid_request_error", "amount greater than unrefunded", "amount_too_large");
      }
      const metadata = Object.fromEntries(
        Object.entries(form).flatMap(([k, v]) => (k.startsWith("metadata[") ? [[k.slice(9, -1), v]] : [])),
      );
      const refund = {
        object: "refund",
        id: `re_test_${++next}`,
        payment_intent: form.payment_intent,
        amount,
        metadata,
      };
      refunds.set(form.payment_intent!, [...made, refund]);
      return { status: 200, body: refund };
    }
    if (method === "GET" && path === "/v1/refunds") {
      return { status: 200, body: { object: "list", data: refunds.get(query.get("payment_intent") ?? "") ?? [] } };
    }
    return error(404, "invalid_request_error", "unknown path");
  }

  return async (request: { method: string; url: string; headers: Headers; text(): Promise<string> }) => {
    const url = new URL(request.url);
    if (url.pathname === "/__fake/requests") return Response.json(requests);
    if (url.pathname === "/__fake/fail") {
      const lost = url.searchParams.get("mode") === "lost";
      failures.set(url.searchParams.get("path")!, { left: Number(url.searchParams.get("times") ?? 1), lost });
      return Response.json({ ok: true });
    }
    const body = await request.text();
    const form = Object.fromEntries(new URLSearchParams(body));
    const key = request.headers.get("Idempotency-Key");
    requests.push({ method: request.method, path: url.pathname, idempotencyKey: key, form });
    if (request.headers.get("Authorization") !== "Bearer sk_test_fake") {
      return Response.json({ error: { type: "invalid_request_error", message: "bad key" } }, { status: 401 });
    }
    let lost = false;
    for (const [prefix, failure] of failures) {
      if (failure.left > 0 && url.pathname.startsWith(prefix)) {
        failure.left--;
        if (!failure.lost)
          return Response.json({ error: { type: "api_error", message: "injected failure" } }, { status: 500 });
        lost = true;
      }
    }
    const params = `${request.method} ${url.pathname} ${body}`;
    const earlier = key ? replies.get(key) : undefined;
    let reply: Reply;
    if (earlier && earlier.params !== params) {
      reply = error(400, "idempotency_error", "Keys for idempotent requests can only be used with the same parameters");
    } else if (earlier) {
      reply = earlier.reply;
    } else {
      reply = answer(request.method, url.pathname, form, url.searchParams);
      if (key) replies.set(key, { params, reply });
    }
    // A lost answer: Stripe did the work, the connection broke mid-answer.
    if (lost) return new Response(JSON.stringify(reply.body).slice(0, 10), { status: reply.status });
    return Response.json(reply.body, { status: reply.status });
  };
}
