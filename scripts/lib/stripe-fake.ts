// A stand-in for the few Stripe API calls the worker makes: create, retrieve
// and expire a Checkout Session, refund a payment. It answers as Stripe does:
// form-encoded requests with the secret key, JSON answers, an Idempotency-Key's
// first answer kept and replayed (errors included), the key refused with other
// parameters, a session's expires_at 30 minutes to 24 hours ahead, a payment
// refunded up to what it charged. Its events look like Stripe's and are signed as Stripe signs
// them. The tests serve it to the worker's outbound fetch (test/fake-stripe.ts);
// `npm run stripe:fake` serves it over HTTP (startStripeFake, below).
import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

interface Reply {
  status: number;
  body: unknown;
}

interface Session {
  object: "checkout.session";
  id: string;
  url: string;
  mode: "payment";
  status: "open" | "complete" | "expired";
  created: number;
  expires_at: number;
  client_reference_id: string | undefined;
  metadata: Record<string, string>;
  amount_total: number;
  currency: string | undefined;
  line_items_name: string | undefined; // for the pay page; not a Stripe field of the session
  payment_status: "unpaid" | "paid";
  payment_intent: string;
  success_url: string | undefined;
  cancel_url: string | undefined;
}

const error = (status: number, type: string, message: string, code?: string): Reply => ({
  status,
  body: { error: { type, code, message } },
});

/** Stripe's Checkout Sessions and refunds, in memory. `checkoutBase` is where its `url`s point. */
export function stripeCore(secretKey: string, checkoutBase: string) {
  const sessions = new Map<string, Session>();
  const replies = new Map<string, { params: string; reply: Reply }>(); // by Idempotency-Key
  // By payment intent: the refunds made, with the metadata they were asked with.
  const refunds = new Map<string, { id: string; amount: number; metadata: Record<string, string> }[]>();
  let next = 0;

  function answer(method: string, path: string, form: Record<string, string>, query: URLSearchParams): Reply {
    if (method === "POST" && path === "/v1/checkout/sessions") {
      const now = Math.floor(Date.now() / 1000);
      const lead = Number(form.expires_at) - now;
      if (!(lead >= 30 * 60 - 5 && lead <= 24 * 3600)) {
        return error(400, "invalid_request_error", "expires_at must be 30 minutes to 24 hours ahead");
      }
      const id = `cs_test_${++next}`;
      // Every line item (an order's session has one per line): its total, and what it sells for the pay page.
      const items: { name: string | undefined; amount: number }[] = [];
      for (let i = 0; form[`line_items[${i}][quantity]`] !== undefined; i++) {
        const item = (field: string) => form[`line_items[${i}]${field}`];
        const quantity = Number(item("[quantity]"));
        items.push({
          name: `${quantity > 1 ? `${quantity} x ` : ""}${item("[price_data][product_data][name]")}`,
          amount: Number(item("[price_data][unit_amount]")) * quantity,
        });
      }
      const session: Session = {
        object: "checkout.session",
        id,
        url: `${checkoutBase}/c/pay/${id}`,
        mode: "payment",
        status: "open",
        created: now,
        expires_at: Number(form.expires_at),
        client_reference_id: form.client_reference_id,
        metadata: metadataOf(form),
        amount_total: items.reduce((n, item) => n + item.amount, 0),
        currency: form["line_items[0][price_data][currency]"],
        line_items_name: items.map((item) => item.name).join(", "),
        payment_status: "unpaid",
        payment_intent: `pi_test_${form.client_reference_id}`,
        success_url: form.success_url,
        cancel_url: form.cancel_url,
      };
      sessions.set(id, session);
      return { status: 200, body: shown(session) };
    }
    const match = /^\/v1\/checkout\/sessions\/([^/]+)(\/expire)?$/.exec(path);
    if (match) {
      const session = sessions.get(match[1]!);
      if (!session) return error(404, "invalid_request_error", "No such checkout.session", "resource_missing");
      if (!match[2]) return { status: 200, body: shown(session) };
      if (session.status !== "open") {
        return error(400, "invalid_request_error", `This session is ${session.status}, not open`);
      }
      session.status = "expired";
      return { status: 200, body: shown(session) };
    }
    if (method === "POST" && path === "/v1/refunds") {
      const intent = form.payment_intent!;
      const charged = [...sessions.values()].find((s) => s.payment_intent === intent)?.amount_total;
      const made = refunds.get(intent) ?? [];
      const before = made.reduce((n, r) => n + r.amount, 0);
      const left = charged === undefined ? Number.POSITIVE_INFINITY : charged - before;
      if (left <= 0) return error(400, "invalid_request_error", "already refunded", "charge_already_refunded");
      const amount = form.amount === undefined ? left : Number(form.amount);
      if (!(amount > 0 && amount <= left)) {
        return error(400, "invalid_request_error", `amount must be 1 to ${left}`, "amount_too_large");
      }
      const metadata = metadataOf(form);
      const refund = { object: "refund", id: `re_test_${++next}`, payment_intent: intent, amount, metadata };
      refunds.set(intent, [...made, refund]);
      return { status: 200, body: { ...refund, status: "succeeded" } };
    }
    if (method === "GET" && path === "/v1/refunds") {
      const data = refunds.get(query.get("payment_intent") ?? "") ?? [];
      return { status: 200, body: { object: "list", data: data.slice(0, Number(query.get("limit") ?? 10)) } };
    }
    return error(404, "invalid_request_error", `Unrecognized request URL (${method}: ${path})`);
  }

  return {
    sessions,
    /** One request to the API (`path` with its query), answered as Stripe would. */
    handle(method: string, path: string, authorization: string | null, idempotencyKey: string | null, body: string) {
      if (authorization !== `Bearer ${secretKey}`) {
        return error(401, "invalid_request_error", "Invalid API Key provided");
      }
      const params = `${method} ${path} ${body}`;
      const earlier = idempotencyKey ? replies.get(idempotencyKey) : undefined;
      if (earlier && earlier.params !== params) {
        return error(
          400,
          "idempotency_error",
          "Keys for idempotent requests can only be used with the same parameters",
        );
      }
      if (earlier) return earlier.reply;
      const url = new URL(path, "https://api.stripe.com");
      const reply = answer(method, url.pathname, Object.fromEntries(new URLSearchParams(body)), url.searchParams);
      if (idempotencyKey) replies.set(idempotencyKey, { params, reply });
      return reply;
    },
    /** The buyer pays, or lets the session expire; null when it is not open. */
    settle(id: string, outcome: "pay" | "expire"): Session | null {
      const session = sessions.get(id);
      if (session?.status !== "open") return null;
      session.status = outcome === "pay" ? "complete" : "expired";
      if (outcome === "pay") session.payment_status = "paid";
      return session;
    },
  };
}

/** The `metadata[key]` fields of a form, as the object's metadata. */
const metadataOf = (form: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(form).flatMap(([k, v]) => (k.startsWith("metadata[") ? [[k.slice(9, -1), v] as const] : [])),
  );

/** A session as Stripe shows it. */
const shown = ({ line_items_name: _, ...session }: Session) => session;

let events = 0;
/** A Checkout Session event, as Stripe sends it to a webhook endpoint. */
const stripeEvent = (type: string, session: Session) => ({
  id: `evt_test_${Date.now()}_${++events}`,
  object: "event",
  api_version: "2025-01-27.acacia",
  created: Math.floor(Date.now() / 1000),
  livemode: false,
  type,
  data: { object: shown(session) },
});

/** Stripe-Signature: HMAC-SHA256 over `t.payload` with the endpoint's secret. */
const stripeSignature = (payload: string, secret: string, at = Math.floor(Date.now() / 1000)) =>
  `t=${at},v1=${createHmac("sha256", secret).update(`${at}.${payload}`).digest("hex")}`;

export interface Delivered {
  event: { id: string; type: string };
  webhook: { status: number; body: unknown };
}

/** Signs an event and posts it to the webhook, as `stripe listen --forward-to` does. */
async function deliverEvent(
  forwardTo: string,
  webhookSecret: string,
  type: string,
  session: Session,
): Promise<Delivered> {
  const event = stripeEvent(type, session);
  const payload = JSON.stringify(event);
  const res = await fetch(forwardTo, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Stripe-Signature": stripeSignature(payload, webhookSecret) },
    body: payload,
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { event: { id: event.id, type }, webhook: { status: res.status, body } };
}

interface StripeFakeOptions {
  port: number;
  secretKey: string;
  webhookSecret: string;
  /** The webhook, e.g. http://127.0.0.1:8787/payments/stripe/webhook. */
  forwardTo: string;
  log?: (line: string) => void;
}

const html = (s: unknown) => String(s ?? "").replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** The checkout page: what the session sells, and buttons to pay or to let it expire. */
function page(session: Session, done?: Delivered): string {
  const money = `${(session.amount_total / 100).toFixed(2)} ${String(session.currency).toUpperCase()}`;
  const back = session.status === "complete" ? session.success_url : session.cancel_url;
  const form = (action: string, label: string) =>
    `<form method="post" action="/c/pay/${html(session.id)}/${action}"><button>${label}</button></form>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Stripe stand-in: ${html(session.id)}</title>
<style>body{font:16px system-ui;max-width:32rem;margin:3rem auto}button{font:inherit;padding:.5rem 1rem;margin:.25rem 0}</style></head>
<body><p><small>Local stand-in for Stripe Checkout: no card, no money.</small></p>
<h1>${html(session.line_items_name)}: ${html(money)}</h1>
<p>${session.metadata.order_id ? "Order" : "Purchase"} ${html(session.client_reference_id)}, session ${html(session.id)}: <strong>${html(session.status)}</strong></p>
${session.status === "open" ? form("pay", "Pay") + form("expire", "Let it expire") : ""}
${done ? `<p>Posted ${html(done.event.type)} to the webhook: ${done.webhook.status} <code>${html(JSON.stringify(done.webhook.body))}</code></p>` : ""}
${session.status !== "open" && back ? `<p><a href="${html(back)}">Back to the shop</a></p>` : ""}
</body></html>`;
}

const read = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });

/**
 * Serves the stand-in on 127.0.0.1: the API under /v1, a checkout page at
 * each session's url, and POST /__fake/sessions/{id}/pay (or /expire) for the
 * command line. Paying or expiring posts the signed event to the webhook and
 * answers what the webhook answered; a session the worker expires sends
 * checkout.session.expired too, as Stripe does.
 */
export async function startStripeFake(options: StripeFakeOptions) {
  const log = options.log ?? (() => {});
  const base = `http://127.0.0.1:${options.port}`;
  const core = stripeCore(options.secretKey, base);
  const deliver = async (type: string, session: Session) => {
    const done = await deliverEvent(options.forwardTo, options.webhookSecret, type, session).catch(
      (err: unknown): Delivered => ({ event: { id: "", type }, webhook: { status: 0, body: String(err) } }),
    );
    log(`${type} ${session.id} -> ${options.forwardTo}: ${done.webhook.status} ${JSON.stringify(done.webhook.body)}`);
    return done;
  };
  const send = (res: ServerResponse, status: number, body: unknown, type = "application/json") => {
    res.writeHead(status, { "Content-Type": type });
    res.end(typeof body === "string" && type !== "application/json" ? body : JSON.stringify(body));
  };

  const server = createServer(async (req, res) => {
    try {
      const path = new URL(req.url ?? "/", base).pathname;
      const body = await read(req);
      if (path.startsWith("/v1/")) {
        const header = (name: string) => (req.headers[name] as string | undefined) ?? null;
        const reply = core.handle(
          req.method ?? "GET",
          req.url ?? path,
          header("authorization"),
          header("idempotency-key"),
          body,
        );
        log(`${req.method} ${path} ${reply.status}`);
        const expired = /^\/v1\/checkout\/sessions\/([^/]+)\/expire$/.exec(path);
        if (expired && reply.status === 200) void deliver("checkout.session.expired", core.sessions.get(expired[1]!)!);
        return send(res, reply.status, reply.body);
      }
      const settle = /^\/(?:__fake\/sessions|c\/pay)\/([^/]+)\/(pay|expire)$/.exec(path);
      if (settle && req.method === "POST") {
        const session = core.settle(settle[1]!, settle[2] as "pay" | "expire");
        if (!session) return send(res, 409, { error: `no open session ${settle[1]}` });
        const type = session.status === "complete" ? "checkout.session.completed" : "checkout.session.expired";
        const done = await deliver(type, session);
        return path.startsWith("/c/") ? send(res, 200, page(session, done), "text/html") : send(res, 200, done);
      }
      const shownPage = /^\/c\/pay\/([^/]+)$/.exec(path);
      const session = shownPage && core.sessions.get(shownPage[1]!);
      if (session) return send(res, 200, page(session), "text/html");
      send(res, 404, { error: { type: "invalid_request_error", message: `Unrecognized request URL (${path})` } });
    } catch (err) {
      send(res, 500, { error: { type: "api_error", message: String(err) } });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", resolve);
  });
  return {
    url: base,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
