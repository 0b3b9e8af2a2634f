// The gate rush: 1,000 entries of one game, each scanned 8 times by 8 of the
// game's scanners (64 by default, all at once), so every entry is raced by 8
// scans. Exactly one scan per entry may admit it.
import { gateBearer } from "./dev-vars.ts";
import { type Client, run, type Stats, stats } from "./load.ts";

export interface GateRushResult {
  entries: number;
  scanners: number;
  all: Stats;
  admitted: number;
  doubleAdmissions: number;
  neverAdmitted: number;
}

export async function gateRush(
  c: Client,
  { entries = 1_000, scanners = 64, scansPerCode = 8 } = {},
): Promise<GateRushResult> {
  const game = 1 + Math.floor(Math.random() * 1e6);
  const per = 10;
  const created = await c.send("POST", "/tickets", {
    game_id: game,
    name: "Gate rush",
    price: 1,
    stock: entries,
    max_per_order: per,
  });
  if (created.status !== 200) throw new Error(`creating the ticket: ${created.status} ${created.body}`);
  const ticketId = (JSON.parse(created.body) as { id: number }).id;
  const purchases = await run(c, entries / per, 8, (i) => ({
    method: "POST",
    path: "/tickets/buy",
    body: { user_id: 1 + i, ticket_id: ticketId, quantity: per },
  }));
  const ids = purchases.samples.map((s) => (JSON.parse(s.body) as { id: number }).id);
  const reads = await run(c, ids.length, 8, (i) => ({ method: "GET", path: `/purchases/${ids[i]}` }));
  const codes = reads.samples.flatMap((s) =>
    (JSON.parse(s.body) as { entries: { code: string }[] }).entries.map((e) => e.code),
  );
  if (codes.length !== entries) throw new Error(`expected ${entries} codes, got ${codes.length}`);

  const tokens = await Promise.all(Array.from({ length: scanners }, (_, i) => gateBearer(`bench-${i}`, [game])));
  // Each code's scans come together, from different scanners: every code is raced.
  const order = codes.flatMap((code, j) =>
    Array.from({ length: scansPerCode }, (_, r) => ({ code, k: (j * scansPerCode + r) % scanners, j })),
  );
  const t0 = performance.now();
  const result = await run(c, order.length, scanners, (i) => ({
    method: "POST",
    path: "/checkins",
    body: { code: order[i]!.code, nonce: `bench-${game}-${order[i]!.k}-${order[i]!.j}` },
    headers: { Authorization: tokens[order[i]!.k]! },
  }));
  const ms = performance.now() - t0;
  const admittedBy = new Map<string, number>();
  result.samples.forEach((s, i) => {
    if (s.status === 200 && (JSON.parse(s.body) as { result: string }).result === "admitted") {
      admittedBy.set(order[i]!.code, (admittedBy.get(order[i]!.code) ?? 0) + 1);
    }
  });
  const admitted = [...admittedBy.values()].reduce((a, b) => a + b, 0);
  return {
    entries,
    scanners,
    all: stats(result.samples, ms),
    admitted,
    doubleAdmissions: [...admittedBy.values()].reduce((n, v) => n + Math.max(0, v - 1), 0),
    neverAdmitted: codes.filter((code) => !admittedBy.has(code)).length,
  };
}
