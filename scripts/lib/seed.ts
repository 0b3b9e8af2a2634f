// A realistic season through the real API: 10 games, 3 ticket types each,
// a few hundred purchases. Every request carries an Idempotency-Key derived
// from what it seeds, so seeding twice changes nothing.
import type { Client } from "./load.ts";

const CLUBS = ["Rovers", "United", "Athletic", "Wanderers", "City", "Albion", "Harriers", "Rangers", "Town", "Celtic"];
const TYPES = [
  { type: "general", name: "General admission", price: 25, stock: 400, max_per_order: 10, max_per_user: null },
  { type: "socio", name: "Members' stand", price: 15, stock: 150, max_per_order: 2, max_per_user: 2 },
  { type: "vip", name: "VIP box", price: 120, stock: 24, max_per_order: 4, max_per_user: 4 },
] as const;
const GAMES = 10;
const PURCHASES = 300;
const USERS = 120;

// Deterministic, so the same purchases are asked for on every run.
function random(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

export interface SeedResult {
  tickets: number;
  purchases: number;
  refused: number;
}

export async function seed(c: Client): Promise<SeedResult> {
  const ticketIds: number[] = [];
  for (let game = 1; game <= GAMES; game++) {
    for (const t of TYPES) {
      const res = await c.send(
        "POST",
        "/tickets",
        {
          game_id: game,
          name: `${t.name}, Rovers v ${CLUBS[game % CLUBS.length]}`,
          description: `Matchday ${game} of the season.`,
          type: t.type,
          price: t.price,
          stock: t.stock,
          max_per_order: t.max_per_order,
          max_per_user: t.max_per_user,
        },
        { "Idempotency-Key": `seed-ticket-${game}-${t.type}` },
      );
      if (res.status !== 200) throw new Error(`seeding a ticket failed: ${res.status} ${res.body}`);
      ticketIds.push((JSON.parse(res.body) as { id: number }).id);
    }
  }
  const next = random(2026);
  let purchases = 0;
  let refused = 0;
  for (let i = 0; i < PURCHASES; i++) {
    const ticketId = ticketIds[Math.floor(next() * ticketIds.length)]!;
    const order = {
      user_id: 1 + Math.floor(next() * USERS),
      ticket_id: ticketId,
      quantity: 1 + Math.floor(next() * 2),
    };
    const res = await c.send("POST", "/tickets/buy", order, { "Idempotency-Key": `seed-purchase-${i}` });
    if (res.status === 200) purchases++;
    else if (res.status === 409) refused++;
    else throw new Error(`seeding a purchase failed: ${res.status} ${res.body}`);
  }
  return { tickets: ticketIds.length, purchases, refused };
}
