declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    TEST_RS256_PRIVATE_JWK: import("hono/utils/jwt/jws").HonoJsonWebKey;
    TEST_OLD_ENTRY_KEY: import("../src/gate/codes").EntryKey;
  }
}
