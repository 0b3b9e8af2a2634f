// A small closed-loop HTTP load generator over keep-alive connections.
import { Agent, request } from "node:http";

export interface Sample {
  start: number; // ms, performance.now()
  end: number;
  status: number; // 0 when the request failed at the transport
  headers: Record<string, string>;
  body: string;
}

export type Headers = Record<string, string>;

export interface Client {
  send(method: string, path: string, body?: unknown, headers?: Headers): Promise<Sample>;
  close(): void;
}

/** `defaults` go on every request (e.g. the admin's Authorization). */
export function client(baseUrl: string, sockets: number, defaults: Headers = {}): Client {
  const base = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  return {
    send(method, path, body, headers = {}) {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const start = performance.now();
      return new Promise((resolve) => {
        // A connection cut mid-response (a killed server) ends the response
        // without "end": it must still settle, as a transport failure.
        const failed = () => resolve({ start, end: performance.now(), status: 0, headers: {}, body: "" });
        const req = request(
          {
            agent,
            host: base.hostname,
            port: base.port,
            method,
            path,
            headers: {
              ...defaults,
              ...headers,
              ...(payload ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) } : {}),
            },
            timeout: 30_000,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("error", failed);
            res.on("close", () => res.complete || failed());
            res.on("end", () =>
              resolve({
                start,
                end: performance.now(),
                status: res.statusCode ?? 0,
                headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)])),
                body: Buffer.concat(chunks).toString(),
              }),
            );
          },
        );
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", failed);
        req.end(payload);
      });
    },
    close: () => agent.destroy(),
  };
}

/**
 * Sends `count` requests, at most `concurrency` in flight, made by `make(i)`.
 * Stops issuing new ones after `maxMs`.
 */
export async function run(
  c: Client,
  count: number,
  concurrency: number,
  make: (i: number) => { method: string; path: string; body?: unknown; headers?: Headers },
  maxMs = 120_000,
): Promise<{ samples: Sample[]; ms: number }> {
  const samples: Sample[] = new Array(count);
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < count && performance.now() - t0 < maxMs) {
      const i = next++;
      const { method, path, body, headers } = make(i);
      samples[i] = await c.send(method, path, body, headers);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { samples: samples.filter(Boolean), ms: performance.now() - t0 };
}

export interface Stats {
  requests: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  statuses: Record<string, number>;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export function stats(samples: Sample[], ms: number): Stats {
  const latencies = samples.map((s) => s.end - s.start).sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] ?? 0;
  const statuses: Record<string, number> = {};
  for (const s of samples) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
  return {
    requests: samples.length,
    rps: round(ms > 0 ? (samples.length * 1000) / ms : 0, 0),
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    max: round(latencies.at(-1) ?? 0),
    statuses,
  };
}
