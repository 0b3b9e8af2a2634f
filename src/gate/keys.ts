import type { EntryKey } from "./codes";

// The keys of entry codes. ENTRY_SIGNING_KEY (a secret) is the Ed25519 key
// that signs new codes, as a JWK with its `kid`; ENTRY_VERIFY_KEYS (a var)
// lists older public keys that still verify the codes they signed, until
// they are removed from it. Both are published for scanners, by id.

export interface EntryKeys {
  signing: EntryKey | null;
  verifying: EntryKey[]; // public keys: the signing key's first
}

let cached: { from: string; keys: EntryKeys } | undefined;

function isKey(k: unknown): k is EntryKey {
  const key = k as EntryKey;
  return (
    key?.kty === "OKP" &&
    key.crv === "Ed25519" &&
    typeof key.x === "string" &&
    typeof key.kid === "string" &&
    /^[\x21-\x7e]{1,16}$/.test(key.kid)
  );
}

export function entryKeys(env: Env): EntryKeys {
  const from = `${env.ENTRY_SIGNING_KEY ?? ""}\u0000${env.ENTRY_VERIFY_KEYS}`;
  if (cached?.from === from) return cached.keys;
  let signing: EntryKey | null = null;
  let older: EntryKey[] = [];
  try {
    const key: unknown = env.ENTRY_SIGNING_KEY ? JSON.parse(env.ENTRY_SIGNING_KEY) : null;
    if (isKey(key) && typeof key.d === "string") signing = key;
    else if (key) throw new Error("not an Ed25519 private JWK with a kid");
  } catch (err) {
    console.error(JSON.stringify({ level: "error", message: `ENTRY_SIGNING_KEY is unusable: ${String(err)}` }));
  }
  try {
    const list: unknown = JSON.parse(env.ENTRY_VERIFY_KEYS || "[]");
    older = (Array.isArray(list) ? list : []).filter(isKey).map(({ d: _, ...k }) => k);
  } catch (err) {
    console.error(JSON.stringify({ level: "error", message: `ENTRY_VERIFY_KEYS is unusable: ${String(err)}` }));
  }
  if (!signing) {
    console.error(
      JSON.stringify({
        level: "error",
        message:
          "ENTRY_SIGNING_KEY is not set: no entry codes are issued. Set it with `wrangler secret put ENTRY_SIGNING_KEY`.",
      }),
    );
  }
  const current = signing ? [{ kty: signing.kty, crv: signing.crv, kid: signing.kid, x: signing.x }] : [];
  const keys = { signing, verifying: [...current, ...older.filter((k) => k.kid !== signing?.kid)] };
  cached = { from, keys };
  return keys;
}
