import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { afterEach, describe, expect, it, vi } from "vitest";
import { expectProblem } from "./helpers";

// What a user token gets while the identity provider cannot be reached: bad input is a 401, an outage a 503.

afterEach(() => vi.useRealTimers());
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

async function rs256Token(claims: Record<string, unknown>, kid?: string) {
  const now = Math.floor(Date.now() / 1000);
  return sign(
    { iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE, iat: now, exp: now + 600, ...claims },
    kid ? { ...env.TEST_RS256_PRIVATE_JWK, kid } : env.TEST_RS256_PRIVATE_JWK,
    "RS256",
  );
}

describe("user tokens while the identity provider is down", () => {
  it("answers a token no key could ever verify (alg none) 401, not 503: bad input is not an outage", async () => {
    const { app } = await import("../src/index");
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${btoa(JSON.stringify({ alg: "none", typ: "JWT" }))}.${btoa(JSON.stringify({ sub: "5", exp: now + 60 }))}.`;
    const res = await app.fetch(new Request("http://tickets.test/tickets/user/5", { headers: bearer(unsigned) }), {
      ...env,
      JWKS_URL: "https://idp-down.test/.well-known/jwks.json", // answers 502: the provider is down
    });
    await expectProblem(res, 401, "unauthorized");
  });

  it("answers 503, not 401, for a token signed with a key rotated in while the provider cannot be reached", async () => {
    const { app } = await import("../src/index");
    const read = async (token: string) =>
      app.fetch(new Request("http://tickets.test/tickets/user/5", { headers: bearer(token) }), env);
    expect((await read(await rs256Token({ sub: "5" }))).status).toBe(404); // keys fetched and cached
    // A minute later the provider has rotated to a new key, and is unreachable.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 60_000 });
    const original = globalThis.fetch;
    let refused = 0;
    globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (url === env.JWKS_URL) {
        refused++;
        throw new Error("connection refused");
      }
      return original(input, init);
    }) as typeof fetch;
    try {
      const res = await read(await rs256Token({ sub: "5" }, "rotated-2"));
      expect(refused).toBe(1); // the provider was asked for the new key, and could not answer
      // README: "without any [key] a user is answered 503 unavailable ..., never a 401 that would log fans out".
      await expectProblem(res, 503, "unavailable");
    } finally {
      globalThis.fetch = original;
    }
  });
});
