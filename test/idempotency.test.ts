import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { asAdmin, asUser, createTicket, expectProblem, freshGameId, postJson } from "./helpers";

const keyed = (key: string, headers: Record<string, string> = asAdmin) => ({ ...headers, "Idempotency-Key": key });

async function purchasesOf(ticketId: number) {
  const { results } = await env.DB.prepare(
    "SELECT id, user_id, quantity FROM purchases WHERE ticket_id = ? ORDER BY id",
  )
    .bind(ticketId)
    .all<{ id: number; user_id: number; quantity: number }>();
  const t = await env.DB.prepare("SELECT sold FROM tickets WHERE id = ?").bind(ticketId).first<{ sold: number }>();
  return { rows: results, sold: t!.sold };
}

const buyKeyed = (body: Record<string, unknown>, key: string, headers?: Record<string, string>) =>
  postJson("/tickets/buy", body, keyed(key, headers));

describe("Idempotency-Key on POST /tickets/buy", () => {
  it("answers a repeat with the same purchase and buys once", async () => {
    const ticket = await createTicket({ stock: 10 });
    const body = { user_id: 1, ticket_id: ticket.id, quantity: 2 };
    const first = await buyKeyed(body, "order-1");
    const second = await buyKeyed(body, "order-1");
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual(await first.json());
    // Stripe's convention: a replay says it is one; the first answer does not.
    expect(first.headers.get("Idempotent-Replayed")).toBeNull();
    expect(second.headers.get("Idempotent-Replayed")).toBe("true");
    expect(await purchasesOf(ticket.id)).toMatchObject({ sold: 2, rows: [{ quantity: 2 }] });
  });

  it("marks a replayed hold too, and its Location", async () => {
    const ticket = await createTicket({ stock: 10 });
    const hold = () => postJson("/tickets/hold", { user_id: 1, ticket_id: ticket.id }, keyed("hold-1"));
    const first = await hold();
    const second = await hold();
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(first.headers.get("Idempotent-Replayed")).toBeNull();
    expect(second.headers.get("Idempotent-Replayed")).toBe("true");
    expect(second.headers.get("Location")).toBe(first.headers.get("Location"));
    // Without a key nothing is a replay.
    const unkeyed = await postJson("/tickets/buy", { user_id: 1, ticket_id: ticket.id });
    expect(unkeyed.headers.get("Idempotent-Replayed")).toBeNull();
  });

  it("accepts the draft's quoted form of the key as the same key", async () => {
    const ticket = await createTicket({ stock: 10 });
    const body = { user_id: 1, ticket_id: ticket.id };
    const a = (await (await buyKeyed(body, "quoted-1")).json()) as { id: number };
    const b = (await (await buyKeyed(body, '"quoted-1"')).json()) as { id: number };
    expect(b.id).toBe(a.id);
  });

  it("answers 422 when the key is reused with another body; on another ticket the key is that ticket's own", async () => {
    const ticket = await createTicket({ stock: 10 });
    const other = await createTicket({ stock: 10 });
    expect((await buyKeyed({ user_id: 1, ticket_id: ticket.id, quantity: 1 }, "reuse")).status).toBe(200);
    const reused = await expectProblem(
      await buyKeyed({ user_id: 1, ticket_id: ticket.id, quantity: 3 }, "reuse"),
      422,
      "idempotency_key_reused",
    );
    expect(reused.detail).toMatch(/different order of this ticket: another body, or a hold/);
    // Keys are scoped to the caller and the ticket: the same key buys on another ticket.
    expect((await buyKeyed({ user_id: 1, ticket_id: other.id, quantity: 1 }, "reuse")).status).toBe(200);
    expect((await purchasesOf(ticket.id)).sold).toBe(1);
    expect((await purchasesOf(other.id)).sold).toBe(1);
  });

  it("answers repeats that arrive while the first is in flight with the same purchase", async () => {
    const ticket = await createTicket({ stock: 10 });
    const body = { user_id: 1, ticket_id: ticket.id };
    const answers = await Promise.all(Array.from({ length: 8 }, () => buyKeyed(body, "burst")));
    const ids = new Set<number>();
    for (const res of answers) {
      expect(res.status).toBe(200);
      ids.add(((await res.json()) as { id: number }).id);
    }
    expect(ids.size).toBe(1);
    expect(await purchasesOf(ticket.id)).toMatchObject({ sold: 1 });
  });

  it("replays after the ticket's object restarted, and after the ticket sold out", async () => {
    const ticket = await createTicket({ stock: 1 });
    const body = { user_id: 1, ticket_id: ticket.id };
    const first = await (await buyKeyed(body, "last-unit")).json();
    await evictDurableObject(env.TICKET_SELLER.getByName(String(ticket.id)));
    const again = await buyKeyed(body, "last-unit");
    expect(again.status).toBe(200); // not 409: the key already bought the last unit
    expect(await again.json()).toEqual(first);
    expect((await purchasesOf(ticket.id)).rows).toHaveLength(1);
  });

  it("scopes keys to the caller", async () => {
    const ticket = await createTicket({ stock: 10 });
    const a = await buyKeyed({ user_id: 31, ticket_id: ticket.id }, "same-key", await asUser(31));
    const b = await buyKeyed({ user_id: 32, ticket_id: ticket.id }, "same-key", await asUser(32));
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect((await purchasesOf(ticket.id)).rows.map((r) => r.user_id)).toEqual([31, 32]);
  });

  it("keeps keys past 24 hours", async () => {
    const ticket = await createTicket({ stock: 10 });
    const body = { user_id: 41, ticket_id: ticket.id, quantity: 1 };
    const first = (await (await buyKeyed(body, "old-key")).json()) as { id: number };
    const dayAndAHourAgo = new Date(Date.now() - 25 * 3600_000).toISOString();
    await runInDurableObject(env.TICKET_SELLER.getByName(String(ticket.id)), (_, state) => {
      state.storage.sql.exec("UPDATE purchases SET created_at = ? WHERE id = ?", dayAndAHourAgo, first.id);
    });
    const again = (await (await buyKeyed(body, "old-key")).json()) as { id: number };
    expect(again.id).toBe(first.id);
  });

  it("refuses malformed keys with 400", async () => {
    const ticket = await createTicket();
    for (const key of ["", "x".repeat(256), "with space", "naïve"]) {
      const res = await postJson("/tickets/buy", { user_id: 1, ticket_id: ticket.id }, keyed(key));
      await expectProblem(res, 400, "validation_error");
    }
  });
});

describe("Idempotency-Key on POST /tickets", () => {
  it("creates the ticket once and answers a repeat with it", async () => {
    const body = { game_id: freshGameId(), name: "Once", price: 5, stock: 5 };
    const first = await postJson("/tickets", body, keyed("create-1"));
    const second = await postJson("/tickets", body, keyed("create-1"));
    expect(first.status).toBe(200);
    expect(((await second.json()) as { id: number }).id).toBe(((await first.json()) as { id: number }).id);
    expect(first.headers.get("Idempotent-Replayed")).toBeNull();
    expect(second.headers.get("Idempotent-Replayed")).toBe("true");
    const n = await env.DB.prepare("SELECT count(*) AS n FROM tickets WHERE game_id = ?").bind(body.game_id).first();
    expect(n).toEqual({ n: 1 });
    const reused = await expectProblem(
      await postJson("/tickets", { ...body, stock: 6 }, keyed("create-1")),
      422,
      "idempotency_key_reused",
    );
    expect(reused.detail).toMatch(/create a ticket with a different body/);
  });

  it("creates once when repeats race", async () => {
    const body = { game_id: freshGameId(), name: "Race", price: 5, stock: 5 };
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => postJson("/tickets", body, keyed("create-race"))),
    );
    const ids = new Set<number>();
    for (const res of answers) {
      expect(res.status).toBe(200);
      ids.add(((await res.json()) as { id: number }).id);
    }
    expect(ids.size).toBe(1);
    expect(answers.filter((res) => res.headers.get("Idempotent-Replayed") === null)).toHaveLength(1);
  });
});
