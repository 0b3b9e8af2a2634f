import { generateKeyPairSync } from "node:crypto";
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { Response } from "miniflare";
import { defineConfig } from "vitest/config";
import { fakeReceiver } from "./test/fake-receiver.ts";
import { fakeStripe } from "./test/fake-stripe.ts";

// A stand-in identity provider: an RSA key whose public half is served as a
// JWKS to the worker's outbound fetch, and whose private half signs test tokens.
const JWKS_URL = "https://idp.test/.well-known/jwks.json";
const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const kid = "test-rs256";
const jwks = { keys: [{ ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" }] };

// Entry codes: the current signing key, and an older one still listed for verifying.
const entryKey = (kid: string) => {
  const jwk = generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" });
  return { kty: "OKP", crv: "Ed25519", kid, x: jwk.x, d: jwk.d };
};
const currentEntryKey = entryKey("k2");
const oldEntryKey = entryKey("k1");

// test/orders-fuzz.test.ts at another scale or seed (`npm run orders:fuzz`): ORDERS_FUZZ_BASKETS, _SEED, _WAVE,
// _ONLY_WAVE, _DROP, _CRASH and _STRICT, passed to the tests as one binding (they cannot read the environment).
const numbers = (names: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(names).flatMap(([field, name]) => (process.env[name] ? [[field, Number(process.env[name])]] : [])),
  );
const ordersFuzz = JSON.stringify({
  ...numbers({
    baskets: "ORDERS_FUZZ_BASKETS",
    seed: "ORDERS_FUZZ_SEED",
    wave: "ORDERS_FUZZ_WAVE",
    only: "ORDERS_FUZZ_ONLY_WAVE",
    drop: "ORDERS_FUZZ_DROP",
    crash: "ORDERS_FUZZ_CRASH",
  }),
  ...(process.env.ORDERS_FUZZ_STRICT === "1" ? { strict: true } : {}),
});

// The Stripe API, as the worker sees it in tests.
const stripe = fakeStripe();
// Webhook endpoints, as the worker sees them in tests.
const hooks = fakeReceiver();

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    test: {
      projects: [
        {
          // Inside workerd, against real D1 and Durable Objects.
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  TEST_MIGRATIONS: migrations, // applied by the setup file
                  TEST_RS256_PRIVATE_JWK: { ...privateKey.export({ format: "jwk" }), kid, alg: "RS256" },
                  ADMIN_TOKEN: "test-admin-token",
                  JWT_SECRET: "test-jwt-secret",
                  JWKS_URL,
                  JWT_ISSUER: "https://idp.test/",
                  JWT_AUDIENCE: "tickets",
                  CORS_ORIGINS: "https://club.example, https://shop.club.example",
                  ENVIRONMENT: "development",
                  REQUEST_LOG: process.env.REQUEST_LOG ?? "off", // the request log lines, on demand
                  STRIPE_SECRET_KEY: "sk_test_fake",
                  STRIPE_WEBHOOK_SECRET: "whsec_test_secret",
                  STRIPE_API_BASE: "", // Stripe's own host, which outboundService serves (not .dev.vars' stand-in)
                  ENTRY_SIGNING_KEY: JSON.stringify(currentEntryKey),
                  ENTRY_VERIFY_KEYS: JSON.stringify([{ ...oldEntryKey, d: undefined }]),
                  TEST_OLD_ENTRY_KEY: oldEntryKey, // signs codes as before a rotation
                  TEST_ORDERS_FUZZ: ordersFuzz,
                },
                outboundService: (request: Parameters<typeof stripe>[0]) => {
                  if (request.url === JWKS_URL) return Response.json(jwks);
                  if (new URL(request.url).hostname === "api.stripe.com") return stripe(request);
                  if (new URL(request.url).hostname === "hooks.test") return hooks(request);
                  return new Response("no network in tests", { status: 502 });
                },
              },
            }),
          ],
          test: {
            name: "workers",
            include: ["test/*.test.ts"],
            setupFiles: ["./test/apply-migrations.ts"],
          },
        },
        {
          // In Node, over real HTTP to wrangler dev: the OpenAPI validator and the browser.
          test: {
            name: "e2e",
            include: ["test/e2e/*.test.ts"],
            environment: "node",
            globalSetup: ["./test/e2e/global-setup.ts"],
            testTimeout: 60_000,
            hookTimeout: 120_000,
          },
        },
      ],
    },
  };
});
