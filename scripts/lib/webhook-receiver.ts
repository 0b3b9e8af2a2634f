// A webhook endpoint on 127.0.0.1 that checks Standard Webhooks signatures
// with Node's own crypto (an implementation separate from the worker's) and
// keeps what it received. `npm run webhook:listen` and the smoke use it.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

export interface Received {
  id: string;
  type: string;
  data: Record<string, unknown>;
  verified: boolean;
}

/** Whether `signatures` (the webhook-signature header) holds a v1 signature of this delivery by `secret`. */
export function verify(secret: string, id: string, timestamp: string, body: string, signatures: string): boolean {
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false; // replays
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(" ").some((s) => {
    const [version, sig] = s.split(",");
    const given = Buffer.from(sig ?? "", "base64");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export async function startReceiver(port = 0, onEvent: (e: Received) => void = () => {}) {
  let secret = "";
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const header = (name: string) => String(req.headers[name] ?? "");
      const verified = verify(
        secret,
        header("webhook-id"),
        header("webhook-timestamp"),
        body,
        header("webhook-signature"),
      );
      try {
        const event = JSON.parse(body) as Omit<Received, "verified">;
        const e = { id: event.id, type: event.type, data: event.data, verified };
        received.push(e);
        onEvent(e);
      } catch {
        received.push({ id: "", type: "(not JSON)", data: {}, verified });
      }
      res.writeHead(verified ? 204 : 401).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}/hooks`,
    received,
    /** The secret the API answered when this endpoint was registered. */
    useSecret(s: string) {
      secret = s;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
