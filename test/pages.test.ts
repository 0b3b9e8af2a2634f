import { describe, expect, it } from "vitest";
import { api, asUser, buy, createTicket, expectProblem, freshGameId, postJson } from "./helpers";

// Newest-first pages: a fan's purchases (contract v1, with an optional limit and cursor) and orders.

describe("GET /tickets/user/{user_id}", () => {
  it("answers every purchase without a limit (contract v1), and pages them with limit and the Link header", async () => {
    const ticket = await createTicket({ stock: 50 });
    const ids: number[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(((await buy({ user_id: 301, ticket_id: ticket.id })).body as { id: number }).id);
    const fan = await asUser(301);
    const all = (await (await api("/tickets/user/301", { headers: fan })).json()) as { id: number }[];
    expect(all.map((p) => p.id)).toEqual([...ids].reverse());
    const seen: number[] = [];
    let path = "/tickets/user/301?limit=2";
    for (let page = 0; page < 5 && path; page++) {
      const res = await api(path, { headers: fan });
      seen.push(...((await res.json()) as { id: number }[]).map((p) => p.id));
      const link = res.headers.get("Link");
      path = link ? /^<([^>]+)>; rel="next"$/.exec(link)![1]! : "";
    }
    expect(seen).toEqual([...ids].reverse());
    await expectProblem(await api("/tickets/user/301?cursor=not-ours", { headers: fan }), 400, "validation_error");
  });
});

describe("GET /users/{user_id}/orders", () => {
  it("pages a fan's orders newest first with next_cursor, and is the fan's own", async () => {
    const game = freshGameId();
    const tickets = [await createTicket({ game_id: game }), await createTicket({ game_id: game })];
    const fan = await asUser(302);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await postJson("/orders", { lines: tickets.map((t) => ({ ticket_id: t.id })) }, fan);
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as { id: string }).id);
    }
    const first = (await (await api("/users/302/orders?limit=2", { headers: fan })).json()) as {
      orders: { id: string }[];
      next_cursor: string | null;
    };
    expect(first.orders.map((o) => o.id)).toEqual([ids[2], ids[1]]);
    const second = (await (
      await api(`/users/302/orders?limit=2&cursor=${first.next_cursor}`, { headers: fan })
    ).json()) as { orders: { id: string }[]; next_cursor: string | null };
    expect(second).toEqual({ orders: [expect.objectContaining({ id: ids[0] })], next_cursor: null });
    await expectProblem(await api("/users/302/orders", { headers: await asUser(303) }), 403, "forbidden");
  });
});
