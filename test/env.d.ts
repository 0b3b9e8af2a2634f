declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    TEST_RS256_PRIVATE_JWK: import("hono/utils/jwt/jws").HonoJsonWebKey;
    TEST_OLD_ENTRY_KEY: import("../src/gate/codes").EntryKey;
    /** test/orders-fuzz.test.ts's scale and seed, as JSON (vitest.config.ts). */
    TEST_ORDERS_FUZZ: string;
  }
}
