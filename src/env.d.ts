// Secrets are not in wrangler.toml, so `wrangler types` cannot see them.
// Each may be missing in a deployment; the code then refuses (fails closed).
interface Secrets {
  ADMIN_TOKEN?: string;
  JWT_SECRET?: string;
}
interface Env extends Secrets {}
declare namespace Cloudflare {
  interface Env extends Secrets {}
}
