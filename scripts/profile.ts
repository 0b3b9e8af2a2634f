// `npm run profile -- [buy|hold|health|read]`: where the worker's time goes.
// Starts the API as the benchmark does, runs 3,000 requests of the scenario
// at concurrency 64, and takes a CPU profile of the worker's isolate through
// wrangler dev's inspector (under wrangler dev that one isolate runs the
// Worker and every ticket object). Prints the functions that took the most
// time, by their own time and with what they call; --out FILE keeps the
// profile for Chrome DevTools.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { adminHeader, userBearer } from "./lib/dev-vars.ts";
import { client, run, stats } from "./lib/load.ts";
import { freePort, startLocalServer, usageOf } from "./lib/server.ts";

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: { out: { type: "string" }, requests: { type: "string", default: "3000" } },
});
const scenario = positionals[0] ?? "buy";
const N = Number(opts.requests);

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const port = await freePort();
const server = await startLocalServer(["--inspector-port", String(port)]);
try {
  const [target] = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl: string }[];
  // The inspector proxy takes DevTools' origin only (Node's WebSocket takes headers, browsers' do not).
  const ws = new WebSocket(target!.webSocketDebuggerUrl, {
    headers: { Origin: "https://devtools.devprod.cloudflare.dev" },
  } as unknown as string[]);
  await new Promise((resolve) => ws.addEventListener("open", resolve, { once: true }));
  let id = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.addEventListener("message", (event) => {
    const msg = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (msg.id !== undefined) waiting.get(msg.id)?.(msg.result);
  });
  const send = <T>(method: string, params = {}) =>
    new Promise<T>((resolve) => {
      waiting.set(++id, resolve as (result: unknown) => void);
      ws.send(JSON.stringify({ id, method, params }));
    });

  const c = client(server.url, 64, { Authorization: adminHeader() });
  const created = await c.send("POST", "/tickets", { game_id: 1, name: "Profile", price: 10, stock: 1_000_000 });
  const ticketId = (JSON.parse(created.body) as { id: number }).id;
  const users = 1 + Math.floor(Math.random() * 1e9);
  const tokens = await Promise.all(Array.from({ length: N + 300 }, (_, i) => userBearer(users + i)));
  const request = (i: number) => {
    if (scenario === "health") return { method: "GET", path: "/health" };
    if (scenario === "read") return { method: "GET", path: `/tickets/${ticketId}` };
    const path = scenario === "hold" ? "/tickets/hold" : "/tickets/buy";
    return {
      method: "POST",
      path,
      body: { user_id: users + i, ticket_id: ticketId },
      headers: { Authorization: tokens[i]! },
    };
  };
  await run(c, 300, 64, (i) => request(N + i)); // warm up
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 200 });
  await send("Profiler.start");
  const before = usageOf(server.pid);
  const r = await run(c, N, 64, request);
  const after = usageOf(server.pid);
  const { profile } = await send<{ profile: Profile }>("Profiler.stop");
  ws.close();
  c.close();
  if (opts.out) writeFileSync(opts.out, JSON.stringify(profile));

  const s = stats(r.samples, r.ms);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const own = new Map<number, number>();
  profile.samples.forEach((node, i) => {
    own.set(node, (own.get(node) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...own.values()].reduce((a, b) => a + b, 0);
  const name = (n: Node) => n.callFrame.functionName || "(anonymous)";
  const selfTime = new Map<string, number>();
  const withCallees = new Map<string, number>();
  for (const [node, us] of own) {
    selfTime.set(name(byId.get(node)!), (selfTime.get(name(byId.get(node)!)) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = node; at !== undefined; at = parent.get(at)) {
      const fn = name(byId.get(at)!);
      if (!seen.has(fn)) withCallees.set(fn, (withCallees.get(fn) ?? 0) + us);
      seen.add(fn);
    }
  }
  const line = ([fn, us]: [string, number]) =>
    `  ${((us / 1000 / N) * 1000).toFixed(0).padStart(6)} µs/req ${((100 * us) / total).toFixed(1).padStart(5)} %  ${fn}`;
  const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
  console.log(
    `\n${scenario}: ${s.requests} requests at concurrency 64, ${s.rps}/s, p50 ${s.p50} ms, p99 ${s.p99} ms; ` +
      `the isolate was sampled ${(total / 1000).toFixed(0)} ms (${((total / 1000 / N) * 1000).toFixed(0)} µs per request, idle included)`,
  );
  console.log(
    `the server (wrangler, workerd) used ${(((after.cpuMs - before.cpuMs) / N) * 1000).toFixed(0)} µs of CPU ` +
      `and wrote ${((after.writtenBytes - before.writtenBytes) / N / 1024).toFixed(1)} KiB to disk per request (profiler included)`,
  );
  console.log("\nown time:");
  for (const row of top(selfTime, 25)) console.log(line(row));
  console.log("\nwith what they call (skipping the runtime's own frames):");
  const skip = new Set(["(root)", "(program)", "(idle)", "(anonymous)", "(garbage collector)"]);
  for (const row of top(new Map([...withCallees].filter(([fn]) => !skip.has(fn))), 35)) console.log(line(row));
} finally {
  await server.stop();
}
