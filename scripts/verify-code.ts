// `npm run -s verify-code -- <code> [--keys keys.json | --url http://127.0.0.1:8787 --game 7]`:
// checks an entry code the way an offline scanner does, with nothing but the
// published public keys (GET /games/{id}/gate-keys, saved once). A separate
// implementation from the worker's: it decodes the code and verifies its
// Ed25519 signature with Node's WebCrypto. Prints the claims; exits 1 if the
// code is not valid, 2 if the keys cannot be read.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { keys: { type: "string" }, url: { type: "string" }, game: { type: "string" } },
});
const code = positionals[0];
if (!code || (!values.keys && !(values.url && values.game))) {
  console.error("usage: npm run -s verify-code -- <code> (--keys keys.json | --url <api> --game <id>)");
  process.exit(2);
}
type Jwk = { kty: string; crv: string; kid: string; x: string };
// keys.json: the gate-keys answer as saved ({"keys": [...]}), or just its array of keys.
function keysOf(text: string, from: string): Jwk[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const keys = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown } | undefined)?.keys;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k?.kid === "string" && typeof k?.x === "string")) {
    console.error(
      `${from} does not hold gate keys: save GET /games/{id}/gate-keys as it answers ({"keys": [...]}), or its array`,
    );
    process.exit(2);
  }
  return keys;
}
let keys: Jwk[];
if (values.keys) {
  let text = "";
  try {
    text = readFileSync(values.keys, "utf8");
  } catch (err) {
    console.error(`cannot read ${values.keys}: ${(err as Error).message}`);
    process.exit(2);
  }
  keys = keysOf(text, values.keys);
} else {
  const source = `${values.url}/games/${values.game}/gate-keys`;
  keys = keysOf(await (await fetch(source)).text(), source);
}

// "E1" + base64url(payload || 64-byte signature); payload = [kid length][kid][entry][ticket][game] as LEB128 varints.
// The same rules as the worker: at most 128 characters, the base64url alphabet, canonical (one text per code).
function decode(text: string) {
  if (!text.startsWith("E1") || text.length > 128 || !/^[A-Za-z0-9_-]*$/.test(text.slice(2))) return null;
  const bytes = Buffer.from(text.slice(2), "base64url");
  if (bytes.toString("base64url") !== text.slice(2) || bytes.length < 65) return null;
  const payload = bytes.subarray(0, bytes.length - 64);
  const kid = payload.subarray(1, 1 + payload[0]!).toString("ascii");
  let at = 1 + payload[0]!;
  const next = () => {
    let n = 0;
    for (let shift = 1; at < payload.length; shift *= 128) {
      const b = payload[at++]!;
      n += (b & 127) * shift;
      if (b < 128) return n;
    }
    return Number.NaN;
  };
  const [entry, ticket, game] = [next(), next(), next()];
  if (payload[0] === 0 || at !== payload.length || [entry, ticket, game].some((n) => !Number.isSafeInteger(n) || n < 1))
    return null;
  return { kid, entry, ticket, game, payload, signature: bytes.subarray(payload.length) };
}

const decoded = decode(code);
const jwk = decoded && keys.find((k) => k.kid === decoded.kid);
let valid = false;
if (decoded && jwk) {
  const key = await crypto.subtle.importKey(
    "jwk",
    { kty: jwk.kty, crv: jwk.crv, x: jwk.x },
    { name: "Ed25519" },
    false,
    ["verify"],
  );
  valid = await crypto.subtle.verify("Ed25519", key, decoded.signature, decoded.payload);
}
if (!valid) {
  console.log(
    JSON.stringify({ valid: false, reason: !decoded ? "malformed" : !jwk ? "unknown key" : "bad signature" }),
  );
  process.exit(1);
}
console.log(
  JSON.stringify({
    valid: true,
    entry_id: decoded!.entry,
    ticket_id: decoded!.ticket,
    game_id: decoded!.game,
    kid: decoded!.kid,
  }),
);
