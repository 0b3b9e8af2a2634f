import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { PurchaseOutcome } from "../src/ticket/ticket-seller";
import { asUser, createTicket, postJson } from "./helpers";

const STOCK = 50;
const BUYERS = 240;
const quantityOf = (i: number) => (i % 4) + 1; // mixed 1..4, 600 units asked for 50

interface Answer {
  quantity: number;
  status: number;
  available?: number;
}

async function truth(ticketId: number) {
  const ticket = await env.DB.prepare("SELECT sold, stock FROM tickets WHERE id = ?")
    .bind(ticketId)
    .first<{ sold: number; stock: number }>();
  const rows = await env.DB.prepare(
    "SELECT count(*) AS n, coalesce(sum(quantity), 0) AS units FROM purchases WHERE ticket_id = ?",
  )
    .bind(ticketId)
    .first<{ n: number; units: number }>();
  return { ...ticket!, ...rows! };
}

async function expectNoOversell(ticketId: number, answers: Answer[]) {
  const statuses = new Set(answers.map((a) => a.status));
  expect([...statuses].every((s) => s === 200 || s === 409)).toBe(true);
  const wins = answers.filter((a) => a.status === 200);
  const unitsSold = wins.reduce((sum, a) => sum + a.quantity, 0);
  const db = await truth(ticketId);
  expect(db.sold).toBeLessThanOrEqual(STOCK);
  expect(db.sold).toBe(unitsSold); // exactly what the successful buyers were told
  expect(db.units).toBe(unitsSold);
  expect(db.n).toBe(wins.length); // one purchase row per success
  // A refusal is only ever given when too few units were left for that order.
  for (const a of answers.filter((x) => x.status === 409)) expect(a.available).toBeLessThan(a.quantity);
  // Demand far exceeds stock: the rush sells out (a 1-unit order always fits the last unit).
  expect(db.sold).toBe(STOCK);
}

describe("concurrent rush on one ticket", () => {
  it(`sells at most ${STOCK} units to ${BUYERS} concurrent HTTP buyers, each with their own token`, async () => {
    const ticket = await createTicket({ stock: STOCK });
    const tokens = await Promise.all(Array.from({ length: BUYERS }, (_, i) => asUser(i + 1)));
    const answers = await Promise.all(
      Array.from({ length: BUYERS }, async (_, i): Promise<Answer> => {
        const quantity = quantityOf(i);
        const res = await postJson("/tickets/buy", { user_id: i + 1, ticket_id: ticket.id, quantity }, tokens[i]);
        const body = (await res.json()) as { available?: number };
        return { quantity, status: res.status, available: body.available };
      }),
    );
    await expectNoOversell(ticket.id, answers);
  });

  it(`sells at most ${STOCK} units to ${BUYERS} concurrent calls straight to the Durable Object`, async () => {
    const ticket = await createTicket({ stock: STOCK });
    const seller = env.TICKET_SELLER.getByName(String(ticket.id));
    const answers = await Promise.all(
      Array.from({ length: BUYERS }, async (_, i): Promise<Answer> => {
        const quantity = quantityOf(i);
        const outcome: PurchaseOutcome = await seller.buy(ticket.id, { user_id: i + 1, quantity });
        if (outcome.ok) return { quantity, status: 200 };
        return { quantity, status: 409, available: outcome.code === "sold_out" ? outcome.available : -1 };
      }),
    );
    await expectNoOversell(ticket.id, answers);
  });
});
