// `npm run stripe:fake [-- --forward-to <webhook url>]`: a local stand-in for
// Stripe, for paying without an account or a network. It serves the API calls
// the worker makes at STRIPE_API_BASE (from .dev.vars), a checkout page at
// each session's checkout_url, and posts signed events to the webhook as
// `stripe listen --forward-to` does.
// `npm run -s stripe:fake -- pay <session_id>` (or `expire`): the buyer pays,
// or lets the session expire, from the command line; prints the event and
// what the webhook answered.
import { parseArgs } from "node:util";
import { devVars } from "./lib/dev-vars.ts";
import { type Delivered, startStripeFake } from "./lib/stripe-fake.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { "forward-to": { type: "string", default: "http://localhost:8787/payments/stripe/webhook" } },
});
const vars = devVars();
const base = process.env.STRIPE_API_BASE || vars.STRIPE_API_BASE || "http://127.0.0.1:12111";
const [command, sessionId] = positionals;

if (command === "pay" || command === "expire") {
  if (!sessionId) {
    console.error(`usage: npm run -s stripe:fake -- ${command} <session_id>`);
    process.exit(2);
  }
  const res = await fetch(`${base}/__fake/sessions/${encodeURIComponent(sessionId)}/${command}`, {
    method: "POST",
  }).catch(() => {
    console.error(`no Stripe stand-in at ${base}: start it with \`npm run stripe:fake\``);
    process.exit(1);
  });
  const answer = (await res.json()) as Delivered & { error?: string };
  if (!res.ok) {
    console.error(answer.error);
    process.exit(1);
  }
  console.log(JSON.stringify(answer));
  process.exit(answer.webhook.status >= 200 && answer.webhook.status < 300 ? 0 : 1);
} else if (command !== undefined) {
  console.error(
    "usage: npm run stripe:fake [-- --forward-to <url>] | npm run -s stripe:fake -- pay|expire <session_id>",
  );
  process.exit(2);
}

const { STRIPE_SECRET_KEY: secretKey, STRIPE_WEBHOOK_SECRET: webhookSecret } = vars;
if (!secretKey || !webhookSecret || !vars.STRIPE_API_BASE) {
  console.error(
    "STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET and STRIPE_API_BASE must be in .dev.vars for the worker to use the " +
      "stand-in: copy them from .dev.vars.example, then restart npm run dev.",
  );
  process.exit(1);
}
const url = new URL(base);
const fake = await startStripeFake({
  port: Number(url.port),
  secretKey,
  webhookSecret,
  forwardTo: values["forward-to"],
  log: (line) => console.log(line),
});
console.log(`Stripe stand-in on ${fake.url}, events to ${values["forward-to"]}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => fake.close().then(() => process.exit(0)));
