// Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256
// over "<webhook-id>.<webhook-timestamp>.<body>" with the endpoint's secret,
// sent as "v1,<base64>". The timestamp is signed, so a receiver that refuses
// old timestamps cannot be fed a captured delivery again.

const PREFIX = "whsec_";

const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));

/** A new endpoint secret: "whsec_" and 32 random bytes in base64. */
export const newSecret = () => PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(32)));

/** The webhook-signature header's value for one delivery attempt. */
export async function sign(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    fromBase64(secret.slice(PREFIX.length)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}
