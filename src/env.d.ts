// Secrets are not in wrangler.toml, so `wrangler types` cannot see them.
// Each may be missing in a deployment; the code then refuses (fails closed).
interface Secrets {
  ADMIN_TOKEN?: string;
  JWT_SECRET?: string;
  // Payments with Stripe: both, or neither (then holds are confirmed by the admin).
  STRIPE_SECRET_KEY?: string;
  STRIPE_WEBHOOK_SECRET?: string;
  // Development only (.dev.vars): a stand-in for Stripe's API, e.g. http://127.0.0.1:12111.
  STRIPE_API_BASE?: string;
  // The Ed25519 private JWK (with its kid) that signs entry codes.
  ENTRY_SIGNING_KEY?: string;
}
interface Env extends Secrets {}
declare namespace Cloudflare {
  interface Env extends Secrets {}
}
