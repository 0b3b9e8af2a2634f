// The on-sale rush: one ticket, many distinct buyers at once, each with their
// own user token, then a check against the API itself (as the admin, the
// client's default) that nothing was oversold or lost.
import { userBearer } from "./dev-vars.ts";
import { type Client, run, type Sample, type Stats, stats } from "./load.ts";

export interface RushResult {
  ticketId: number;
  /** The purchases the buyers were told they made (200 answers). */
  purchaseIds: number[];
  stock: number;
  buyers: number;
  all: Stats;
  selling: Stats;
  soldOut: Stats;
  sold: number;
  oversold: number;
  /** sold = units the buyers were told they got = units read back per user. */
  consistent: boolean;
  problems: string[];
}

const json = <T>(s: Sample) => JSON.parse(s.body) as T;

export async function rush(
  c: Client,
  {
    stock,
    buyers,
    concurrency,
    maxMs,
    hold = false,
  }: { stock: number; buyers: number; concurrency: number; maxMs?: number; hold?: boolean },
): Promise<RushResult> {
  const ok = hold ? 201 : 200;
  const problems: string[] = [];
  const created = await c.send("POST", "/tickets", {
    game_id: 1 + Math.floor(Math.random() * 1e6),
    name: `Rush ${stock}/${buyers}`,
    price: 10,
    stock,
  });
  if (created.status !== 200) throw new Error(`creating the ticket failed: ${created.status} ${created.body}`);
  const ticketId = json<{ id: number }>(created).id;
  const userBase = 1 + Math.floor(Math.random() * 1e12);
  const tokens = await Promise.all(Array.from({ length: buyers }, (_, i) => userBearer(userBase + i)));

  const t0 = performance.now();
  const { samples, ms } = await run(
    c,
    buyers,
    concurrency,
    (i) => ({
      method: "POST",
      path: hold ? "/tickets/hold" : "/tickets/buy",
      body: { user_id: userBase + i, ticket_id: ticketId, quantity: 1 },
      headers: { Authorization: tokens[i]! },
    }),
    maxMs,
  );
  const wins = samples.filter((s) => s.status === ok);
  const odd = samples.filter((s) => s.status !== ok && s.status !== 409);
  if (odd.length) problems.push(`${odd.length} answers neither 200 nor 409 (first: ${odd[0]!.status} ${odd[0]!.body})`);

  // Selling phase: until the last sale was answered; sold-out phase: requests sent after that.
  const lastSale = Math.max(t0, ...wins.map((s) => s.end));
  const end = Math.max(lastSale, ...samples.map((s) => s.end));
  const selling = samples.filter((s) => s.end <= lastSale);
  const soldOut = samples.filter((s) => s.start >= lastSale);

  // Units taken: sold, or held by the holds of a hold rush.
  const ticket = json<{ sold: number; held: number }>(await c.send("GET", `/tickets/${ticketId}`));
  const sold = ticket.sold + ticket.held;

  // Read every buyer's purchases back through the API.
  const winners = wins.map((s) => json<{ user_id: number }>(s).user_id);
  const readback = await run(c, winners.length, Math.min(64, concurrency * 4), (i) => ({
    method: "GET",
    path: `/tickets/user/${winners[i]}`,
  }));
  let readUnits = 0;
  for (const s of readback.samples) {
    if (s.status !== 200) problems.push(`read-back answered ${s.status}`);
    else
      for (const p of json<{ ticket_id: number; quantity: number }[]>(s))
        if (p.ticket_id === ticketId) readUnits += p.quantity;
  }

  const expected = Math.min(stock, samples.length);
  if (sold !== wins.length) problems.push(`sold ${sold} but ${wins.length} buyers were told they bought`);
  if (readUnits !== sold) problems.push(`sold ${sold} but ${readUnits} units read back from the buyers' purchases`);
  if (sold !== expected) problems.push(`sold ${sold}, expected ${expected}`);

  return {
    ticketId,
    purchaseIds: wins.map((s) => json<{ id: number }>(s).id),
    stock,
    buyers: samples.length,
    all: stats(samples, ms),
    selling: stats(selling, lastSale - t0),
    soldOut: stats(soldOut, end - lastSale),
    sold,
    oversold: Math.max(0, sold - stock),
    consistent: problems.length === 0,
    problems: [...new Set(problems)].slice(0, 5),
  };
}
