import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createTicket, expectProblem, fieldsOf, freshGameId, postJson } from "./helpers";

const valid = () => ({ game_id: freshGameId(), name: "North Stand", price: 25, stock: 100 });

describe("POST /tickets", () => {
  it("creates a ticket with the defaults and every field of the contract", async () => {
    const body = valid();
    const res = await postJson("/tickets", body);
    expect(res.status).toBe(200);
    const ticket = await res.json();
    expect(ticket).toEqual({
      id: expect.any(Number),
      game_id: body.game_id,
      name: "North Stand",
      description: "",
      type: "general",
      price: 25,
      currency: "EUR",
      stock: 100,
      sold: 0,
      held: 0,
      available: 100,
      max_per_order: 10,
      max_per_user: null,
      hold_seconds: 900,
      active: true,
      sales_start: null,
      sales_end: null,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
  });

  it("takes every optional field as given", async () => {
    const given = {
      description: "Behind the goal",
      type: "socio",
      currency: "USD",
      max_per_order: 4,
      max_per_user: 6,
      active: false,
      stock: 0,
      price: 0,
    };
    expect(await createTicket(given)).toMatchObject({ ...given, available: 0 });
  });

  it("stores the price as integer minor units, not as a float", async () => {
    const ticket = await createTicket({ price: 19.99 });
    expect(ticket.price).toBe(19.99);
    const row = await env.DB.prepare("SELECT price_minor, typeof(price_minor) AS t FROM tickets WHERE id = ?")
      .bind(ticket.id)
      .first<{ price_minor: number; t: string }>();
    expect(row).toEqual({ price_minor: 1999, t: "integer" });
  });

  it("accepts the boundaries of each range", async () => {
    const ticket = await createTicket({
      name: "n".repeat(120),
      description: "d".repeat(2000),
      type: "t".repeat(40),
      stock: 1_000_000,
      max_per_order: 100,
    });
    expect(ticket).toMatchObject({ stock: 1_000_000, max_per_order: 100 });
    const min = await createTicket({ name: "n", type: "t", stock: 0, max_per_order: 1, price: 0.01 });
    expect(min).toMatchObject({ stock: 0, max_per_order: 1, price: 0.01 });
  });

  const invalidCases: [string, Record<string, unknown>, string][] = [
    ["game_id missing", { game_id: undefined }, "game_id"],
    ["game_id 0", { game_id: 0 }, "game_id"],
    ["game_id negative", { game_id: -3 }, "game_id"],
    ["game_id fractional", { game_id: 1.5 }, "game_id"],
    ["game_id as a string", { game_id: "7" }, "game_id"],
    ["game_id past the safe integers", { game_id: 2 ** 53 }, "game_id"],
    ["name missing", { name: undefined }, "name"],
    ["name empty", { name: "" }, "name"],
    ["name blank", { name: "   " }, "name"],
    ["name over 120", { name: "n".repeat(121) }, "name"],
    ["name with a control character", { name: "North\u0000Stand" }, "name"],
    ["name not a string", { name: 12 }, "name"],
    ["description over 2000", { description: "d".repeat(2001) }, "description"],
    ["description with a control character", { description: "a\u0007b" }, "description"],
    ["type empty", { type: "" }, "type"],
    ["type over 40", { type: "t".repeat(41) }, "type"],
    ["price missing", { price: undefined }, "price"],
    ["price negative", { price: -0.01 }, "price"],
    ["price with 3 decimals", { price: 1.001 }, "price"],
    ["price as a string", { price: "25" }, "price"],
    ["currency lower-case", { currency: "eur" }, "currency"],
    ["currency of 4 letters", { currency: "EURO" }, "currency"],
    ["stock missing", { stock: undefined }, "stock"],
    ["stock negative", { stock: -1 }, "stock"],
    ["stock over 1,000,000", { stock: 1_000_001 }, "stock"],
    ["stock fractional", { stock: 2.5 }, "stock"],
    ["max_per_order 0", { max_per_order: 0 }, "max_per_order"],
    ["max_per_order over 100", { max_per_order: 101 }, "max_per_order"],
    ["active not a boolean", { active: "yes" }, "active"],
    ["an unknown field", { colour: "red" }, "colour"],
  ];

  it.each(invalidCases)("refuses %s with 400 naming the field", async (_label, patch, field) => {
    const res = await postJson("/tickets", { ...valid(), ...patch });
    const problem = await expectProblem(res, 400, "validation_error");
    expect(fieldsOf(problem)).toContain(field);
  });

  it("refuses a body that is not a JSON object", async () => {
    for (const body of ["[]", "null", "42", '"x"']) {
      await expectProblem(await postJson("/tickets", body), 400, "validation_error");
    }
  });

  it("refuses malformed JSON with 400", async () => {
    await expectProblem(await postJson("/tickets", '{"game_id": 1,'), 400, "validation_error");
  });

  it("writes nothing when the body is invalid", async () => {
    const game_id = freshGameId();
    await postJson("/tickets", { ...valid(), game_id, stock: -1 });
    const row = await env.DB.prepare("SELECT count(*) AS n FROM tickets WHERE game_id = ?").bind(game_id).first();
    expect(row).toEqual({ n: 0 });
  });
});
