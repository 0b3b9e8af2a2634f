// Entry codes: what a fan shows at the gate, as a QR code. A code carries the
// entry, its ticket and game and the id of the key that signed it, signed
// with Ed25519, so a scanner checks it offline with the published public key.
// It carries nothing personal. Format: "E1" + base64url(payload || signature),
// payload = [key id length][key id][entry id][ticket id][game id] (varints):
// about 105 characters, URL-safe.

const PREFIX = "E1";
const SIGNATURE_BYTES = 64;
export const MAX_CODE_LENGTH = 128;

export interface EntryClaims {
  entryId: number;
  ticketId: number;
  gameId: number;
  kid: string;
}

/** An Ed25519 key as JWK, with its id; the private one has `d`. */
export interface EntryKey {
  kty: "OKP";
  crv: "Ed25519";
  kid: string;
  x: string;
  d?: string;
}

function varint(n: number, out: number[]): void {
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function readVarint(bytes: Uint8Array, at: { i: number }): number | null {
  let n = 0;
  for (let shift = 1; at.i < bytes.length; shift *= 0x80) {
    const b = bytes[at.i++]!;
    n += (b & 0x7f) * shift;
    if (!Number.isSafeInteger(n)) return null;
    if (b < 0x80) return n;
  }
  return null;
}

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");

/** The bytes of canonical base64url text: one text per code (no padding, unused bits zero), else null. */
function fromBase64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const bytes = Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));
    return base64url(bytes) === text ? bytes : null;
  } catch {
    return null;
  }
}

function payloadOf(c: EntryClaims): Uint8Array {
  const kid = new TextEncoder().encode(c.kid);
  const out = [kid.length, ...kid];
  varint(c.entryId, out);
  varint(c.ticketId, out);
  varint(c.gameId, out);
  return new Uint8Array(out);
}

// Imported keys, per isolate, by the JWK they came from.
const imported = new Map<string, Promise<CryptoKey>>();
function importKey(jwk: EntryKey, use: "sign" | "verify"): Promise<CryptoKey> {
  const cacheKey = `${use}:${jwk.kid}:${jwk.x}`;
  let key = imported.get(cacheKey);
  if (!key) {
    const { kid: _, ...material } = use === "sign" ? jwk : { ...jwk, d: undefined };
    key = crypto.subtle.importKey("jwk", material as JsonWebKey, { name: "Ed25519" }, false, [use]);
    imported.set(cacheKey, key);
  }
  return key;
}

export async function signCode(key: EntryKey, claims: Omit<EntryClaims, "kid">): Promise<string> {
  const payload = payloadOf({ ...claims, kid: key.kid });
  const signature = new Uint8Array(await crypto.subtle.sign("Ed25519", await importKey(key, "sign"), payload));
  const all = new Uint8Array(payload.length + signature.length);
  all.set(payload);
  all.set(signature, payload.length);
  return PREFIX + base64url(all);
}

/** The claims of a well-formed code (not yet verified), with what its signature covers. */
export function decodeCode(code: string): { claims: EntryClaims; payload: Uint8Array; signature: Uint8Array } | null {
  if (code.length > MAX_CODE_LENGTH || !code.startsWith(PREFIX)) return null;
  const bytes = fromBase64url(code.slice(PREFIX.length));
  if (!bytes || bytes.length < 1 + SIGNATURE_BYTES) return null;
  const payload = bytes.subarray(0, bytes.length - SIGNATURE_BYTES);
  const kidLength = payload[0]!;
  if (kidLength < 1 || 1 + kidLength > payload.length) return null;
  const kid = new TextDecoder().decode(payload.subarray(1, 1 + kidLength));
  const at = { i: 1 + kidLength };
  const entryId = readVarint(payload, at);
  const ticketId = readVarint(payload, at);
  const gameId = readVarint(payload, at);
  if (!entryId || !ticketId || !gameId || at.i !== payload.length) return null;
  return { claims: { entryId, ticketId, gameId, kid }, payload, signature: bytes.subarray(payload.length) };
}

/** The claims of a code signed by one of `keys`, or null (malformed, unknown key, or a bad signature). */
export async function verifyCode(code: string, keys: EntryKey[]): Promise<EntryClaims | null> {
  const decoded = decodeCode(code);
  const key = decoded && keys.find((k) => k.kid === decoded.claims.kid);
  if (!decoded || !key) return null;
  const ok = await crypto.subtle.verify("Ed25519", await importKey(key, "verify"), decoded.signature, decoded.payload);
  return ok ? decoded.claims : null;
}

/** The public half of a key, as published for scanners. */
export const publicKey = ({ d: _, ...key }: EntryKey): EntryKey => key;
