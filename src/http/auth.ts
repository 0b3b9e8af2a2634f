import type { Context, MiddlewareHandler } from "hono";
import { decode, verify, verifyWithJwks } from "hono/jwt";
import type { HonoJsonWebKey } from "hono/utils/jwt/jws";
import type { AppEnv } from "./context";
import { ApiError, invalid } from "./problem";

// Who is calling: the box office / back office with the admin token, a fan
// with a JWT from our own secret or an identity provider's keys, or nobody.
// Gate staff scan entries with a JWT that says `role: "gate"`, the games it may
// scan, and who scans (`sub`, any string); it can do nothing else.
export type Principal =
  | { role: "admin" }
  | { role: "user"; id: number }
  | { role: "gate"; scanner: string; games: number[] }
  | { role: "anonymous" };

export const principalKey = (p: Principal) =>
  p.role === "user" ? `user:${p.id}` : p.role === "gate" ? `gate:${p.scanner}` : p.role;

const REALM = 'Bearer realm="tickets"';

const unauthorized = (detail: string, tokenGiven: boolean) =>
  new ApiError(
    401,
    "unauthorized",
    detail,
    {},
    {
      "WWW-Authenticate": tokenGiven ? `${REALM}, error="invalid_token"` : REALM,
    },
  );

export const forbidden = (detail: string) => new ApiError(403, "forbidden", detail);
/** A user's token cannot be checked while the identity provider is unreachable: any route with credentials. */
export const keysUnavailable = () =>
  new ApiError(
    503,
    "unavailable",
    "The identity provider's keys cannot be fetched, so the token cannot be checked now; nothing was done. Retry shortly.",
    {},
    { "Retry-After": "5" },
  );
export const notYours = () => forbidden("You may only act for your own user id.");

const warned = new Set<string>();
/** A deployment missing its secrets refuses, and says why in the log once per isolate. */
function misconfigured(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.error(JSON.stringify({ level: "error", message }));
}

export const sha256 = (text: string) => crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));

// Per-isolate caches of derived key material, keyed by the secret itself.
let adminDigest: { secret: string; digest: Promise<ArrayBuffer> } | undefined;
let hmacKey: { secret: string; key: Promise<CryptoKey> } | undefined;

async function isAdminToken(given: string, secret: string): Promise<boolean> {
  if (adminDigest?.secret !== secret) adminDigest = { secret, digest: sha256(secret) };
  // Digests first: equal lengths for timingSafeEqual, and no early exit on length.
  const [a, b] = await Promise.all([sha256(given), adminDigest.digest]);
  return crypto.subtle.timingSafeEqual(a, b);
}

function hs256Key(secret: string): Promise<CryptoKey> {
  if (hmacKey?.secret !== secret) {
    const raw = new TextEncoder().encode(secret);
    hmacKey = {
      secret,
      key: crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]),
    };
  }
  return hmacKey.key;
}

// The identity provider's keys, per isolate: fresh for 10 minutes, fetched
// again sooner for a key id not seen yet (a rotation), but at most every 30 s.
// While the provider cannot be reached, keys fetched within the last day go
// on verifying; without any, users are told to retry (503), not logged out.
const JWKS_TTL_MS = 10 * 60_000;
const JWKS_REFETCH_MS = 30_000;
const JWKS_STALE_MS = 24 * 3600_000;
const JWKS_TIMEOUT_MS = 3_000;
let jwksCache: { url: string; keys: HonoJsonWebKey[]; at: number } | undefined;
let jwksFetch: { url: string; at: number; keys: Promise<HonoJsonWebKey[]> } | undefined;

function fetchJwks(url: string): Promise<HonoJsonWebKey[]> {
  // One fetch in flight per isolate, however many requests need the keys.
  if (jwksFetch?.url === url && Date.now() - jwksFetch.at < JWKS_REFETCH_MS) return jwksFetch.keys;
  const keys = (async () => {
    const res = await fetch(url, {
      headers: { Accept: "application/json" },
      signal: AbortSignal.timeout(JWKS_TIMEOUT_MS),
    });
    if (!res.ok) throw new Error(`JWKS fetch answered ${res.status}`);
    const { keys } = (await res.json()) as { keys?: HonoJsonWebKey[] };
    if (!Array.isArray(keys)) throw new Error("JWKS document has no keys");
    jwksCache = { url, keys, at: Date.now() };
    return keys;
  })();
  jwksFetch = { url, at: Date.now(), keys };
  return keys;
}

async function jwks(url: string, kid: string | undefined): Promise<HonoJsonWebKey[]> {
  const cached = jwksCache?.url === url ? jwksCache : undefined;
  const age = cached ? Date.now() - cached.at : Number.POSITIVE_INFINITY;
  const known = cached?.keys.some((k) => k.kid === kid);
  if (cached && age < JWKS_TTL_MS && (known || age < JWKS_REFETCH_MS)) return cached.keys;
  try {
    return await fetchJwks(url);
  } catch (err) {
    // Keys we have go on verifying; a key we lack (a rotation) cannot be told apart from a forged one now.
    if (cached && known && age < JWKS_STALE_MS) return cached.keys;
    console.error(JSON.stringify({ level: "error", message: "fetching the JWKS failed", error: String(err) }));
    throw keysUnavailable();
  }
}

async function verifyToken(token: string, env: Env): Promise<Principal> {
  let alg: string;
  let kid: string | undefined;
  try {
    ({ alg, kid } = decode(token).header as { alg: string; kid?: string });
  } catch {
    throw unauthorized("The token is not a well-formed JWT.", true);
  }
  const verification = { iss: env.JWT_ISSUER || undefined, aud: env.JWT_AUDIENCE || undefined };
  let payload: Record<string, unknown>;
  try {
    if (alg === "HS256") {
      if (!env.JWT_SECRET) {
        misconfigured(
          "JWT_SECRET is not set: HS256 user tokens are refused. Set it with `wrangler secret put JWT_SECRET`.",
        );
        throw new Error("no secret");
      }
      payload = await verify(token, await hs256Key(env.JWT_SECRET), { alg: "HS256", ...verification });
    } else {
      if (alg !== "RS256" && alg !== "ES256") throw new Error(`alg ${alg} is not accepted`);
      if (!env.JWKS_URL) {
        misconfigured("JWKS_URL is not set: RS256/ES256 user tokens are refused.");
        throw new Error("no JWKS");
      }
      const keys = await jwks(env.JWKS_URL, kid);
      payload = await verifyWithJwks(token, { keys, verification, allowedAlgorithms: ["RS256", "ES256"] });
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw unauthorized("The token is invalid or expired.", true);
  }
  if (typeof payload.exp !== "number") throw unauthorized("The token has no expiry (exp).", true);
  if (payload.role === "gate") return gatePrincipal(payload);
  const sub = payload.sub;
  if (typeof sub !== "string" || !/^[1-9]\d{0,15}$/.test(sub) || !Number.isSafeInteger(Number(sub))) {
    throw unauthorized("The token's subject (sub) is not a user id.", true);
  }
  return { role: "user", id: Number(sub) };
}

function gatePrincipal(payload: Record<string, unknown>): Principal {
  const { sub, games } = payload;
  if (typeof sub !== "string" || !/^[\x21-\x7e]{1,128}$/.test(sub)) {
    throw unauthorized("A gate token's subject (sub) must name the scanner.", true);
  }
  const ids = Array.isArray(games) ? games : [];
  if (ids.length === 0 || ids.length > 1_000 || !ids.every((g) => Number.isSafeInteger(g) && g > 0)) {
    throw unauthorized("A gate token must list the game ids it may scan (games).", true);
  }
  return { role: "gate", scanner: sub, games: ids as number[] };
}

async function identify(c: Context<AppEnv>): Promise<Principal> {
  const header = c.req.header("Authorization");
  if (header === undefined) return { role: "anonymous" };
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  if (!match) throw unauthorized("Send credentials as `Authorization: Bearer <token>`.", true);
  const token = match[1]!;
  // A JWT has three dot-separated parts; the admin token has none.
  if (token.split(".").length === 3) return verifyToken(token, c.env);
  if (!c.env.ADMIN_TOKEN) {
    misconfigured("ADMIN_TOKEN is not set: admin requests are refused. Set it with `wrangler secret put ADMIN_TOKEN`.");
  } else if (await isAdminToken(token, c.env.ADMIN_TOKEN)) {
    return { role: "admin" };
  }
  throw unauthorized("The bearer token is neither the admin token nor a JWT.", true);
}

/** Sets `principal`; `allow` lists the roles that may pass (anonymous: everyone). */
export const auth =
  (...allow: Principal["role"][]): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const principal = await identify(c);
    c.set("principal", principal);
    if (!allow.includes(principal.role)) {
      if (principal.role === "anonymous") throw unauthorized("This endpoint needs credentials.", false);
      throw forbidden("Your credentials do not allow this.");
    }
    await next();
  };

/** Admins act for anyone; a user only for themselves. */
/**
 * Whom a purchase or an order is for: the `user_id` given, or, when a user
 * leaves it out, themselves (the admin must say). Admins act for anyone; a
 * user only for themselves.
 */
export function buyerOf(principal: Principal, userId: number | undefined): number {
  if (userId === undefined) {
    if (principal.role === "user") return principal.id;
    throw invalid([{ field: "user_id", message: "is required when the admin orders (for whom?)" }]);
  }
  assertActsFor(principal, userId);
  return userId;
}

export function assertActsFor(principal: Principal, userId: number): void {
  if (principal.role === "admin") return;
  if (principal.role === "user" && principal.id === userId) return;
  throw notYours();
}
