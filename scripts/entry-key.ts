// `npm run -s entry-key -- [--kid k2]`: a new Ed25519 key for entry codes.
// Prints the private JWK for `wrangler secret put ENTRY_SIGNING_KEY`, and its
// public half, which goes into ENTRY_VERIFY_KEYS once a newer key replaces it
// (so the codes it signed keep verifying until it is removed).
import { generateKeyPairSync } from "node:crypto";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { kid: { type: "string", default: `k${Date.now().toString(36)}` } } });
const jwk = generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" });
const key = { kty: jwk.kty, crv: jwk.crv, kid: values.kid, x: jwk.x };
console.log(`ENTRY_SIGNING_KEY (secret):\n${JSON.stringify({ ...key, d: jwk.d })}\n`);
console.log(`its public key, for ENTRY_VERIFY_KEYS after rotation:\n${JSON.stringify(key)}`);
