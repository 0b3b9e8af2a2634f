import { describe, expect, it } from "vitest";
import { api, asAdmin, buy, createTicket, expectProblem, fieldsOf, freshGameId } from "./helpers";

const asAdminGet = { headers: asAdmin };

describe("GET /tickets/{ticket_id}", () => {
  it("returns the ticket with its live availability", async () => {
    const ticket = await createTicket({ stock: 5 });
    await buy({ user_id: 1, ticket_id: ticket.id, quantity: 2 });
    const res = await api(`/tickets/${ticket.id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: ticket.id, stock: 5, sold: 2, available: 3 });
  });

  it("answers 404 when there is no such ticket", async () => {
    await expectProblem(await api("/tickets/99999999"), 404, "not_found");
  });

  it.each(["0", "-1", "abc", "1.5", "1e3", "0x10", "%00", "99999999999999999999", "9".repeat(10_000)])(
    "answers 400 for the id %s",
    async (id) => {
      const problem = await expectProblem(await api(`/tickets/${id}`), 400, "validation_error");
      expect(fieldsOf(problem)).toEqual(["ticket_id"]);
    },
  );
});

describe("GET /tickets/game/{game_id}", () => {
  it("returns the game's tickets by id, and only those", async () => {
    const game_id = freshGameId();
    const a = await createTicket({ game_id, type: "general" });
    await createTicket(); // another game
    const b = await createTicket({ game_id, type: "socio" });
    const res = await api(`/tickets/game/${game_id}`);
    expect(res.status).toBe(200);
    const list = (await res.json()) as { id: number; game_id: number }[];
    expect(list.map((t) => t.id)).toEqual([a.id, b.id]);
    expect(list[1]).toEqual(b);
  });

  it("answers 404 when the game has no tickets", async () => {
    await expectProblem(await api(`/tickets/game/${freshGameId()}`), 404, "not_found");
  });

  it("answers 400 for an id that is not a positive integer", async () => {
    const problem = await expectProblem(await api("/tickets/game/0"), 400, "validation_error");
    expect(fieldsOf(problem)).toEqual(["game_id"]);
  });
});

describe("GET /tickets/user/{user_id}", () => {
  it("returns the user's purchases, newest first, and only theirs", async () => {
    const t1 = await createTicket();
    const t2 = await createTicket();
    const first = (await buy({ user_id: 501, ticket_id: t1.id, quantity: 2 })).body;
    await buy({ user_id: 502, ticket_id: t1.id });
    const second = (await buy({ user_id: 501, ticket_id: t2.id })).body;
    const res = await api("/tickets/user/501", asAdminGet);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([second, first]);
  });

  it("answers 404 when the user has no purchases", async () => {
    await expectProblem(await api("/tickets/user/777777", asAdminGet), 404, "not_found");
  });

  it("answers 400 for an id that is not a positive integer", async () => {
    const problem = await expectProblem(await api("/tickets/user/-5", asAdminGet), 400, "validation_error");
    expect(fieldsOf(problem)).toEqual(["user_id"]);
  });
});

describe("GET /tickets", () => {
  it("pages through all tickets by id with skip and limit", async () => {
    const made = [await createTicket(), await createTicket(), await createTicket()];
    const all = (await (await api("/tickets?limit=100", asAdminGet)).json()) as { id: number }[];
    const ids = all.map((t) => t.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(ids).toEqual(expect.arrayContaining(made.map((t) => t.id)));

    const at = ids.indexOf(made[0]!.id);
    const page = (await (await api(`/tickets?skip=${at}&limit=2`, asAdminGet)).json()) as { id: number }[];
    expect(page.map((t) => t.id)).toEqual([made[0]!.id, made[1]!.id]);
  });

  it("defaults to skip=0 and limit=100", async () => {
    for (let i = 0; i < 3; i++) await createTicket();
    const res = await api("/tickets", asAdminGet);
    expect(res.status).toBe(200);
    const list = (await res.json()) as { id: number }[];
    expect(list.length).toBeGreaterThanOrEqual(3);
    expect(list.length).toBeLessThanOrEqual(100);
    expect(list[0]).toEqual(((await (await api("/tickets?skip=0&limit=1", asAdminGet)).json()) as unknown[])[0]);
  });

  it("returns an empty page past the end", async () => {
    const res = await api("/tickets?skip=1000000", asAdminGet);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([]);
  });

  it.each([
    ["skip=-1", "skip"],
    ["skip=abc", "skip"],
    ["limit=0", "limit"],
    ["limit=101", "limit"],
    ["limit=1.5", "limit"],
    ["limit=", "limit"],
  ])("answers 400 for %s", async (query, field) => {
    const problem = await expectProblem(await api(`/tickets?${query}`, asAdminGet), 400, "validation_error");
    expect(fieldsOf(problem)).toEqual([field]);
  });
});
