import { runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, asAdmin, asUser, createTicket, expectProblem, fieldsOf, freshGameId, postJson } from "./helpers";
import { blockOf, buySeats, freeSeats, gridBlock, holdSeats, putMap, seatedGame, seatsIn } from "./seating-helpers";

// Seat maps, and seated tickets held and bought seat by seat: each seat's
// truth in its block's object, the buyer's rules in the ticket's.

afterEach(() => vi.useRealTimers());

const ticketNow = async (id: number) =>
  (await (await api(`/tickets/${id}`)).json()) as { stock: number; sold: number; held: number; available: number };

describe("PUT /games/{game_id}/seatmap", () => {
  it("loads each block into its object and answers what the map holds; GET shows the layout with its ETag", async () => {
    const game = freshGameId();
    const map = {
      blocks: [
        gridBlock("N1", 2, 3),
        {
          id: "S1",
          name: "South",
          rows: [{ id: "A", seats: [{ id: "1", category: "premium", rank: 3, accessible: true, x: 1.5, y: 2 }] }],
        },
      ],
    };
    const res = await putMap(game, map);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      game_id: game,
      blocks: 2,
      seats: 7,
      accessible: 1,
      categories: { standard: 6, premium: 1 },
    });
    expect((await seatsIn(game, "N1")).map((s) => s.id)).toEqual([
      "N1-A-1",
      "N1-A-2",
      "N1-A-3",
      "N1-B-1",
      "N1-B-2",
      "N1-B-3",
    ]);
    const layout = await api(`/games/${game}/seatmap`);
    expect(layout.status).toBe(200);
    const etag = layout.headers.get("ETag")!;
    expect(layout.headers.get("Cache-Control")).toMatch(/max-age=\d+/);
    const body = (await layout.json()) as { blocks: { id: string; rows: unknown[] }[] };
    expect(body.blocks.map((b) => b.id)).toEqual(["N1", "S1"]);
    expect(body.blocks[1]).toMatchObject({ name: "South", rows: map.blocks[1]!.rows });
    expect((await api(`/games/${game}/seatmap`, { headers: { "If-None-Match": etag } })).status).toBe(304);
  });

  it("reads CSV with a header, quoted fields and \\r\\n line ends (d3-dsv), in the order given", async () => {
    const game = freshGameId();
    const csv =
      'block,row,seat,category,rank,accessible\r\nN1,A,1,standard,,true\r\n"N1",A,"2",standard,5,\r\nN1,B,1,"premium",,no\r\n';
    const res = await putMap(game, csv, "text/csv");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      blocks: 1,
      seats: 3,
      accessible: 1,
      categories: { standard: 2, premium: 1 },
    });
    const layout = (await (await api(`/games/${game}/seatmap`)).json()) as {
      blocks: { rows: { id: string; seats: unknown[] }[] }[];
    };
    expect(layout.blocks[0]!.rows).toEqual([
      {
        id: "A",
        seats: [
          { id: "1", category: "standard", accessible: true },
          { id: "2", category: "standard", rank: 5 },
        ],
      },
      { id: "B", seats: [{ id: "1", category: "premium" }] },
    ]);
  });

  it("answers 400 naming the offending CSV lines and JSON fields, and sets nothing", async () => {
    const game = freshGameId();
    const bad = await putMap(
      game,
      "block,row,seat,category\nN1,A,1,standard\nN1,A,1,standard\nN-1,A,2,x\n",
      "text/csv",
    );
    const problem = await expectProblem(bad, 400, "validation_error");
    expect(problem.errors).toEqual([{ field: "line 4", message: expect.stringContaining("no -") }]);
    const dup = await putMap(game, "block,row,seat,category\nN1,A,1,standard\nN1,A,1,standard\n", "text/csv");
    expect((await expectProblem(dup, 400, "validation_error")).detail).toMatch(/N1-A-1 appears twice/);
    const header = await putMap(game, "block,row,category\nN1,A,standard\n", "text/csv");
    expect(fieldsOf(await expectProblem(header, 400, "validation_error"))).toEqual(["line 1"]);
    const json = await putMap(game, { blocks: [{ id: "N1", name: "N", rows: [{ id: "A", seats: [{ id: "1" }] }] }] });
    expect(fieldsOf(await expectProblem(json, 400, "validation_error"))).toEqual(["blocks.0.rows.0.seats.0.category"]);
    const tooBig = await putMap(game, { blocks: [gridBlock("N1", 51, 100)] });
    expect((await expectProblem(tooBig, 400, "validation_error")).detail).toMatch(/5100 seats; at most 5000/);
    const plain = await putMap(game, "x", "text/plain");
    await expectProblem(plain, 415, "unsupported_media_type");
    expect((await api(`/games/${game}/seatmap`)).status).toBe(404);
  });

  it("is refused 409 seatmap_in_use once a seat is held, and replaces the map (emptying blocks it drops) before", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 4), gridBlock("N2", 1, 4)]);
    // Nothing held yet: a new map without N2 empties it.
    expect((await putMap(game, { blocks: [gridBlock("N1", 1, 5)] })).status).toBe(200);
    expect(await seatsIn(game, "N2")).toEqual([]);
    expect((await seatsIn(game, "N1")).length).toBe(5);
    const held = await holdSeats({ user_id: 1, ticket_id: ticket.id, seats: ["N1-A-2"] });
    expect(held.status).toBe(201);
    const refused = await expectProblem(await putMap(game, { blocks: [gridBlock("N1", 1, 6)] }), 409, "seatmap_in_use");
    expect(refused).toMatchObject({ seats: ["N1-A-2"] });
    expect((await seatsIn(game, "N1")).length).toBe(5);
  });
});

describe("seated tickets", () => {
  it("refuse a stock (it is their seats) and count their categories' seats over the game's blocks", async () => {
    const game = freshGameId();
    await putMap(game, {
      blocks: [gridBlock("N1", 2, 5, (r) => (r === 0 ? "premium" : "standard")), gridBlock("N2", 1, 4)],
    });
    const res = await postJson("/tickets", {
      game_id: game,
      name: "N",
      price: 10,
      stock: 5,
      seating: { categories: ["standard"] },
    });
    expect(fieldsOf(await expectProblem(res, 400, "validation_error"))).toEqual(["stock"]);
    const unseated = await postJson("/tickets", { game_id: game, name: "N", price: 10 });
    expect(fieldsOf(await expectProblem(unseated, 400, "validation_error"))).toEqual(["stock"]);
    const adult = await createTicket({ game_id: game, stock: undefined, seating: { categories: ["standard"] } });
    const child = await createTicket({
      game_id: game,
      stock: undefined,
      price: 5,
      type: "child",
      seating: { categories: ["standard"] },
    });
    expect(adult).toMatchObject({ stock: 9, sold: 0, held: 0, available: 9, seating: { categories: ["standard"] } });
    await buySeats({ user_id: 1, ticket_id: adult.id, seats: ["N1-B-1", "N1-B-2"] });
    await holdSeats({ user_id: 2, ticket_id: child.id, seats: ["N2-A-1"] });
    // Both tickets sell the same seats: each counts them all.
    for (const t of [adult, child])
      expect(await ticketNow(t.id)).toMatchObject({ stock: 9, sold: 2, held: 1, available: 6 });
    const patched = await api(`/tickets/${adult.id}`, {
      method: "PATCH",
      headers: { ...asAdmin, "Content-Type": "application/json" },
      body: JSON.stringify({ stock: 20 }),
    });
    expect(fieldsOf(await expectProblem(patched, 400, "validation_error"))).toEqual(["stock"]);
    const priced = await api(`/tickets/${adult.id}`, {
      method: "PATCH",
      headers: { ...asAdmin, "Content-Type": "application/json" },
      body: JSON.stringify({ price: 12 }),
    });
    expect(await priced.json()).toMatchObject({ price: 12, stock: 9, sold: 2, held: 1, available: 6 });
    const next = await buySeats({ user_id: 3, ticket_id: adult.id, seats: ["N1-B-3"] });
    expect(next.body).toMatchObject({ unit_price: 12 });
  });

  it("hold exactly the seats named, all or none: a taken one is 409 seat_taken with the ids", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 2, 6)], { hold_seconds: 120 });
    const first = await holdSeats({ user_id: 7, ticket_id: ticket.id, seats: ["N1-A-3", "N1-A-4"] }, await asUser(7));
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ status: "held", quantity: 2, seats: ["N1-A-3", "N1-A-4"], total_price: 50 });
    const clash = await holdSeats({ user_id: 8, ticket_id: ticket.id, seats: ["N1-A-2", "N1-A-3", "N1-A-4"] });
    const problem = await expectProblem(clash.res, 409, "seat_taken");
    expect(problem).toMatchObject({ seats: ["N1-A-3", "N1-A-4"] });
    const seats = await seatsIn(game, "N1");
    expect(seats.filter((s) => s.state !== "free").map((s) => [s.id, s.state, s.holder])).toEqual([
      ["N1-A-3", "held", first.body.id],
      ["N1-A-4", "held", first.body.id],
    ]);
    const unknown = await holdSeats({ user_id: 8, ticket_id: ticket.id, seats: ["N1-Z-1"] });
    expect(fieldsOf(await expectProblem(unknown.res, 400, "validation_error"))).toEqual(["seats"]);
    const twoBlocks = await holdSeats({ user_id: 8, ticket_id: ticket.id, seats: ["N1-A-1", "N2-A-1"] });
    expect((await expectProblem(twoBlocks.res, 400, "validation_error")).detail).toMatch(/POST \/orders/);
  });

  it("sell seats at once (buy), confirm a hold, and give seats back on cancel and at the hold's end", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 6)], { hold_seconds: 60 });
    const bought = await buySeats({ user_id: 1, ticket_id: ticket.id, seats: ["N1-A-1"] });
    expect(bought.body).toMatchObject({ status: "confirmed", seats: ["N1-A-1"] });
    const a = await holdSeats({ user_id: 2, ticket_id: ticket.id, seats: ["N1-A-2"] });
    const b = await holdSeats({ user_id: 3, ticket_id: ticket.id, seats: ["N1-A-3"] });
    const c = await holdSeats({ user_id: 4, ticket_id: ticket.id, seats: ["N1-A-4"] });
    expect((await api(`/purchases/${a.body.id}/confirm`, { method: "POST", headers: asAdmin })).status).toBe(200);
    expect((await api(`/purchases/${b.body.id}/cancel`, { method: "POST", headers: asAdmin })).status).toBe(200);
    const state = async () => Object.fromEntries((await seatsIn(game, "N1")).map((s) => [s.id, s.state]));
    expect(await state()).toMatchObject({ "N1-A-1": "sold", "N1-A-2": "sold", "N1-A-3": "free", "N1-A-4": "held" });
    // c's hold ends: the ticket expires it and tells the block (the block's own escrow ends a minute later).
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse(c.body.expires_at!) + 1_000 });
    expect((await api(`/purchases/${c.body.id}`, { headers: asAdmin }).then((r) => r.json())) as object).toMatchObject({
      status: "expired",
    });
    expect((await state())["N1-A-4"]).toBe("free");
    expect((await holdSeats({ user_id: 5, ticket_id: ticket.id, seats: ["N1-A-3", "N1-A-4"] })).status).toBe(201);
  });

  it("keep the seats of a hold whose ticket never says more until the block's own end (hold's end + grace)", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 3)], { hold_seconds: 60 });
    const held = await holdSeats({ user_id: 2, ticket_id: ticket.id, seats: ["N1-A-2"] });
    // The block alone (its ticket silent): still held at the hold's end, free after the grace.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse(held.body.expires_at!) + 30_000 });
    expect((await seatsIn(game, "N1"))[1]!.state).toBe("held");
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse(held.body.expires_at!) + 61_000 });
    await runDurableObjectAlarm(blockOf(game, "N1"));
    expect((await seatsIn(game, "N1"))[1]!.state).toBe("free");
  });

  it("replay a hold for its Idempotency-Key, and count every block against max_per_user", async () => {
    const { ticket } = await seatedGame([gridBlock("N1", 1, 6), gridBlock("N2", 1, 6)], { max_per_user: 3 });
    const fan = { ...(await asUser(9)), "Idempotency-Key": "seats-1" };
    const first = await holdSeats({ ticket_id: ticket.id, seats: ["N1-A-1", "N1-A-2"] }, fan);
    const again = await holdSeats({ ticket_id: ticket.id, seats: ["N1-A-1", "N1-A-2"] }, fan);
    expect(again.res.headers.get("Idempotent-Replayed")).toBe("true");
    expect(again.body.id).toBe(first.body.id);
    const other = await holdSeats({ ticket_id: ticket.id, seats: ["N1-A-3"] }, fan);
    await expectProblem(other.res, 422, "idempotency_key_reused");
    const past = await holdSeats({ ticket_id: ticket.id, seats: ["N2-A-1", "N2-A-2"] }, await asUser(9));
    expect(await expectProblem(past.res, 409, "user_limit")).toMatchObject({ max_per_user: 3, bought: 2 });
    expect((await holdSeats({ ticket_id: ticket.id, seats: ["N2-A-1"] }, await asUser(9))).status).toBe(201);
  });

  it("are refused for an unseated ticket", async () => {
    const t = await createTicket();
    const res = await holdSeats({ user_id: 1, ticket_id: t.id, seats: ["N1-A-1"] });
    expect(fieldsOf(await expectProblem(res.res, 400, "validation_error"))).toEqual(["seats"]);
  });
});

describe("GET /games/{game_id}/seats", () => {
  it("answers per row a bitmap of free seats with the block's version, ETag and max-age=2; 2,000 seats in under 10 KB", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 40, 50), gridBlock("N2", 1, 3)]);
    await buySeats({ user_id: 1, ticket_id: ticket.id, seats: ["N1-A-2", "N1-B-50"] });
    const res = await api(`/games/${game}/seats?block=N1`);
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toMatch(/max-age=2\b/);
    expect(res.headers.get("ETag")).toBeTruthy();
    const text = await res.text();
    expect(text.length).toBeLessThan(10_000);
    const body = JSON.parse(text) as {
      blocks: { block: string; version: number; rows: { row: string; seats: number; free: string }[] }[];
    };
    expect(body.blocks.map((b) => b.block)).toEqual(["N1"]);
    const free = freeSeats(body.blocks[0]!.rows);
    expect(free.A).toEqual(Array.from({ length: 50 }, (_, i) => i + 1).filter((s) => s !== 2));
    expect(free.B).not.toContain(50);
    const all = (await (await api(`/games/${game}/seats`)).json()) as { blocks: unknown[] };
    expect(all.blocks.length).toBe(2);
    expect((await api(`/games/${game}/seats?block=Z9`)).status).toBe(404);
  });
});

describe("PATCH /games/{game_id}/seats", () => {
  it("takes free seats off sale and back; a held or sold seat is 409 seat_taken with nothing changed", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 4), gridBlock("N2", 1, 4)]);
    const patch = (body: unknown) =>
      api(`/games/${game}/seats`, {
        method: "PATCH",
        headers: { ...asAdmin, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    const res = await patch({ block: ["N1-A-1", "N2-A-4"] });
    expect(await res.json()).toEqual({ blocked: 2, unblocked: 0 });
    const refused = await holdSeats({ user_id: 1, ticket_id: ticket.id, seats: ["N1-A-1"] });
    expect(await expectProblem(refused.res, 409, "seat_taken")).toMatchObject({ seats: ["N1-A-1"] });
    expect(await ticketNow(ticket.id)).toMatchObject({ stock: 6, available: 6 });
    await holdSeats({ user_id: 1, ticket_id: ticket.id, seats: ["N1-A-2"] });
    const taken = await patch({ block: ["N1-A-2", "N2-A-1"] });
    expect(await expectProblem(taken, 409, "seat_taken")).toMatchObject({ seats: ["N1-A-2"] });
    expect((await seatsIn(game, "N2"))[0]!.state).toBe("free");
    expect(await (await patch({ unblock: ["N1-A-1"] })).json()).toEqual({ blocked: 0, unblocked: 1 });
    expect((await patch({ block: ["Z1-A-1"] })).status).toBe(400);
    expect((await patch({})).status).toBe(400);
  });
});
