import { createServer } from "node:http";
import { afterAll, expect, inject, it } from "vitest";
import { adminHeader } from "../../scripts/lib/dev-vars.ts";
import { freePort } from "../../scripts/lib/server.ts";

// Under wrangler dev, a webhook delivery that gets no HTTP answer records why,
// in words: workerd's own errors, provoked for real on this machine.

const plain = createServer((_, res) => res.end("not TLS"));
afterAll(() => new Promise<void>((resolve) => plain.close(() => resolve())));

it("records a refused connection, a failed TLS handshake and a DNS failure as such", async () => {
  const url = inject("apiUrl");
  const headers = { Authorization: adminHeader(), "Content-Type": "application/json" };
  await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
  const endpoints = {
    refused: `http://localhost:${await freePort()}/hooks`, // nothing listens there
    tls: `https://localhost:${(plain.address() as { port: number }).port}/hooks`, // plain HTTP answers
    dns: "https://crm.club.example/hooks", // .example never resolves
  };
  const hooks: Record<string, number> = {};
  for (const [name, endpoint] of Object.entries(endpoints)) {
    const res = await fetch(`${url}/webhooks`, {
      method: "POST",
      headers,
      body: JSON.stringify({ url: endpoint, event_types: ["ticket.created"] }),
    });
    expect(res.status).toBe(201);
    hooks[name] = ((await res.json()) as { id: number }).id;
  }
  await fetch(`${url}/tickets`, {
    method: "POST",
    headers,
    body: JSON.stringify({ game_id: 9_000_000 + Math.floor(Math.random() * 1e6), name: "Hooks", price: 1, stock: 1 }),
  });
  const errorOf = async (id: number) => {
    for (let waited = 0; waited < 30_000; waited += 250) {
      const res = await fetch(`${url}/webhooks/${id}/deliveries`, { headers });
      const [latest] = (await res.json()) as { attempts: number; error: string | null }[];
      if (latest && latest.attempts > 0) return latest.error;
      await new Promise((r) => setTimeout(r, 250));
    }
    return "no attempt within 30 s";
  };
  try {
    expect(await errorOf(hooks.refused!)).toMatch(/^connection refused or dropped: /);
    expect(await errorOf(hooks.tls!)).toMatch(/^TLS handshake failed with localhost:\d+/);
    expect(await errorOf(hooks.dns!)).toBe("DNS: crm.club.example did not resolve (or cannot be reached)");
  } finally {
    for (const id of Object.values(hooks)) await fetch(`${url}/webhooks/${id}`, { method: "DELETE", headers });
  }
});
