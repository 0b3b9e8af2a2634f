import { describe, expect, it } from "vitest";
import { interceptD1 } from "./d1";
import { api, asAdmin, createTicket, expectProblem, fieldsOf, postJson } from "./helpers";

// Reads near the fan: D1's Sessions API. Every answer carries X-D1-Bookmark;
// a client that sends it back reads at least that fresh.

const HEADER = "X-D1-Bookmark";
const bookmarkOf = (res: Response) => res.headers.get(HEADER);

describe("D1 bookmarks", () => {
  it("come back from writes, and a read sent with one answers at least that fresh", async () => {
    const created = await postJson("/tickets", { game_id: 4242, name: "Bookmarked", price: 5, stock: 10 });
    const afterCreate = bookmarkOf(created);
    expect(afterCreate).toMatch(/^[0-9a-f-]+$/);
    const ticket = (await created.json()) as { id: number };

    // A sale is projected by the ticket's object: its answer carries that projection's bookmark.
    const bought = await postJson("/tickets/buy", { user_id: 1, ticket_id: ticket.id, quantity: 2 });
    expect(bought.status).toBe(200);
    const afterBuy = bookmarkOf(bought)!;
    expect(afterBuy > afterCreate!).toBe(true); // bookmarks sort oldest to newest

    const read = await api(`/tickets/${ticket.id}`, { headers: { [HEADER]: afterBuy } });
    expect(await read.json()).toMatchObject({ id: ticket.id, sold: 2 });
    expect(bookmarkOf(read)! >= afterBuy).toBe(true);
    const mine = await api("/tickets/user/1", { headers: { ...asAdmin, [HEADER]: afterBuy } });
    expect(((await mine.json()) as { ticket_id: number }[]).some((p) => p.ticket_id === ticket.id)).toBe(true);
  });

  it("are passed to D1 as the session's starting point", async () => {
    const ticket = await createTicket();
    const first = await api(`/tickets/${ticket.id}`);
    const bookmark = bookmarkOf(first)!;
    const seen: (string | null)[] = [];
    const restore = interceptD1((call, forward) => {
      seen.push(call.bookmark);
      return forward();
    });
    try {
      await api(`/tickets/game/${ticket.game_id}`, { headers: { [HEADER]: bookmark } });
    } finally {
      restore();
    }
    expect(seen).toContain(bookmark);
  });

  it("that D1 cannot serve fall back to the primary, which is fresh enough", async () => {
    const ticket = await createTicket();
    const unknown = `ffffffff-ffffffff-ffffffff-${"f".repeat(32)}`;
    const asked: (string | null)[] = [];
    const restore = interceptD1(async (call, forward) => {
      asked.push(call.bookmark);
      if (call.bookmark === unknown) throw new Error("D1_ERROR: bookmark is not valid");
      return forward();
    });
    let res: Response;
    try {
      res = await api(`/tickets/${ticket.id}`, { headers: { [HEADER]: unknown } });
    } finally {
      restore();
    }
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: ticket.id });
    expect(asked).toEqual([unknown, "first-primary"]);
  });

  it("that D1 cannot serve do not stop writes, and are not handed back", async () => {
    const ticket = await createTicket();
    const unknown = `ffffffff-ffffffff-ffffffff-${"e".repeat(32)}`;
    const restore = interceptD1(async (call, forward) => {
      if (call.bookmark === unknown) throw new Error("D1_ERROR: bookmark is not valid");
      return forward();
    });
    try {
      const headers = { [HEADER]: unknown };
      const bought = await postJson("/tickets/buy", { user_id: 3, ticket_id: ticket.id }, { ...asAdmin, ...headers });
      expect(bought.status).toBe(200);
      const hook = await postJson("/webhooks", { url: "https://hooks.test/ok/bookmark" }, { ...asAdmin, ...headers });
      expect(hook.status).toBe(201);
      expect(bookmarkOf(hook)).not.toBe(unknown);
      const read = await api(`/tickets/${ticket.id}`, { headers });
      expect(read.status).toBe(200);
      expect(bookmarkOf(read)).not.toBe(unknown);
      await api(`/webhooks/${((await hook.json()) as { id: number }).id}`, { method: "DELETE", headers: asAdmin });
    } finally {
      restore();
    }
  });

  it("vary the answers they make: a cache keeps one per bookmark", async () => {
    const ticket = await createTicket();
    for (const res of [await api(`/tickets/${ticket.id}`), await api(`/tickets/game/${ticket.game_id}`)]) {
      expect(res.headers.get("Vary")?.split(/,\s*/)).toContain(HEADER);
    }
  });

  it("lets reads without one go to the nearest replica", async () => {
    const ticket = await createTicket();
    const asked: (string | null)[] = [];
    const restore = interceptD1((call, forward) => {
      // Only the reads of these two requests (the queue's consumer may read D1 meanwhile).
      if (call.statements.some((s) => /from "tickets"/i.test(s.sql))) asked.push(call.bookmark);
      return forward();
    });
    try {
      await api(`/tickets/${ticket.id}`);
      await api(`/tickets/game/${ticket.game_id}`);
    } finally {
      restore();
    }
    expect(asked).toEqual(["first-unconstrained", "first-unconstrained"]);
  });

  it("are refused when malformed, in the one problem shape", async () => {
    for (const bad of ["not a bookmark", "x".repeat(300), "0000/0001"]) {
      const res = await api("/tickets", { headers: { [HEADER]: bad } });
      expect(fieldsOf(await expectProblem(res, 400, "validation_error"))).toEqual([HEADER]);
    }
  });
});
