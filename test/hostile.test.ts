import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { api, asAdmin, asUser, createTicket, expectProblem, fieldsOf, freshGameId, postJson } from "./helpers";

describe("hostile bodies", () => {
  it.each([
    ["an exponent", '{"user_id": 1, "ticket_id": 1e0}', "ticket_id"],
    ["negative zero", '{"user_id": -0, "ticket_id": 1}', "user_id"],
    ["a number past the safe integers", '{"user_id": 9007199254740993, "ticket_id": 1}', "user_id"],
    ["a string for a number", '{"user_id": "1", "ticket_id": 1}', "user_id"],
    ["a fraction for an integer", '{"user_id": 1, "ticket_id": 1, "quantity": 1.5}', "quantity"],
    ["null for a number", '{"user_id": null, "ticket_id": 1}', "user_id"],
    ["an unknown field", '{"user_id": 1, "ticket_id": 1, "admin": true}', "admin"],
  ])("refuses %s with 400 naming the field", async (_label, body, field) => {
    const problem = await expectProblem(await postJson("/tickets/buy", body), 400, "validation_error");
    expect(fieldsOf(problem)).toContain(field);
  });

  it("refuses negative zero for stock", async () => {
    const body = `{"game_id": 1, "name": "x", "price": 1, "stock": -0}`;
    expect(fieldsOf(await expectProblem(await postJson("/tickets", body), 400, "validation_error"))).toEqual(["stock"]);
  });

  it("stores and returns text with quotes, SQL, HTML and emoji byte for byte", async () => {
    const name = `Robert'); DROP TABLE tickets;-- "<script>alert(1)</script>" ⚽🏟️ Ñandú`;
    const description = `line one\nline\ttwo \\ ' " %s %d \${x} <b>bold</b> 👨‍👩‍👧‍👦`;
    const ticket = await createTicket({ name, description, type: "VIP «socio»" });
    const read = (await (await api(`/tickets/${ticket.id}`)).json()) as {
      name: string;
      description: string;
      type: string;
    };
    expect(read).toMatchObject({ name, description, type: "VIP «socio»" });
    const row = await env.DB.prepare("SELECT name FROM tickets WHERE id = ?").bind(ticket.id).first();
    expect(row).toEqual({ name });
    expect(await env.DB.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'tickets'").first()).toEqual({
      n: 1,
    });
  });
});

describe("response headers", () => {
  it("sends secure headers", async () => {
    const res = await api("/health");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("X-Frame-Options")).toBe("SAMEORIGIN");
    expect(res.headers.get("Strict-Transport-Security")).toMatch(/max-age=/);
  });

  it("allows CORS only from the configured origins", async () => {
    const allowed = await api("/health", { headers: { Origin: "https://club.example" } });
    expect(allowed.headers.get("Access-Control-Allow-Origin")).toBe("https://club.example");
    const other = await api("/health", { headers: { Origin: "https://evil.example" } });
    expect(other.headers.get("Access-Control-Allow-Origin")).toBeNull();
    const preflight = await api("/tickets/buy", {
      method: "OPTIONS",
      headers: {
        Origin: "https://shop.club.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe("https://shop.club.example");
    expect(preflight.headers.get("Access-Control-Allow-Headers")?.toLowerCase()).toContain("idempotency-key");
  });
});

describe("property: arbitrary requests", () => {
  const segment = fc.oneof(
    fc.constantFrom("0", "-1", "1e3", "0x10", "%00", "99999999999999999999", "1", "buy", "user", "game", "..", ""),
    fc.string({ maxLength: 30 }).map(encodeURIComponent),
  );
  const path = fc
    .tuple(
      fc.constantFrom("/tickets", "/tickets/user", "/tickets/game", "/health", ""),
      fc.array(segment, { maxLength: 3 }),
    )
    .map(([base, rest]) => [base, ...rest].join("/") || "/");
  const query = fc.option(fc.dictionary(fc.constantFrom("skip", "limit", "x"), fc.string({ maxLength: 12 })), {
    nil: undefined,
  });
  const printable = fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength: 60,
  });
  const body = fc.oneof(
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc
      .record(
        {
          user_id: fc.anything(),
          ticket_id: fc.anything(),
          quantity: fc.anything(),
          game_id: fc.anything(),
          name: fc.anything(),
          price: fc.anything(),
          stock: fc.anything(),
        },
        { requiredKeys: [] },
      )
      .map((v) => JSON.stringify(v) ?? "null"),
    fc.string({ maxLength: 200 }),
  );
  const headers = fc.record(
    {
      "Content-Type": fc.constantFrom(
        "application/json",
        "text/plain",
        "application/problem+json",
        "multipart/form-data",
        "json",
      ),
      Authorization: fc.oneof(fc.constant(asAdmin.Authorization), fc.constant("Bearer x.y.z"), printable),
      "Idempotency-Key": printable,
    },
    { requiredKeys: [] },
  );

  it("never answers 5xx, and every error is a problem document", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "POST", "PUT", "DELETE"),
        path,
        query,
        body,
        headers,
        async (method, p, q, b, h) => {
          const url = q ? `${p}?${new URLSearchParams(q)}` : p;
          const res = await api(url, { method, headers: h, body: method === "GET" ? undefined : b });
          expect(res.status).toBeLessThan(500);
          if (res.status >= 400) {
            expect(res.headers.get("Content-Type")).toMatch(/^application\/problem\+json/);
            const problem = (await res.json()) as Record<string, unknown>;
            expect(problem).toMatchObject({ status: res.status, code: expect.any(String), title: expect.any(String) });
          } else {
            await res.body?.cancel();
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

// A plain in-memory model of the contract, run against the worker step by step.
interface ModelTicket {
  id: number;
  stock: number;
  sold: number;
  maxPerOrder: number;
  maxPerUser: number | null;
  active: boolean;
  byUser: Map<number, number>;
}
interface Model {
  tickets: ModelTicket[];
  users: number[];
}

const create = fc
  .record({
    stock: fc.integer({ min: 0, max: 12 }),
    maxPerOrder: fc.integer({ min: 1, max: 5 }),
    maxPerUser: fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }),
    active: fc.boolean(),
  })
  .map((t) => ({
    check: () => true,
    async run(model: Model) {
      const res = await postJson("/tickets", {
        game_id: freshGameId(),
        name: "Model",
        price: 2.5,
        stock: t.stock,
        max_per_order: t.maxPerOrder,
        max_per_user: t.maxPerUser,
        active: t.active,
      });
      expect(res.status).toBe(200);
      const { id } = (await res.json()) as { id: number };
      model.tickets.push({ id, sold: 0, byUser: new Map(), ...t });
    },
    toString: () => `create(${JSON.stringify(t)})`,
  }));

const purchase = fc
  .record({ ticket: fc.nat(), user: fc.nat({ max: 3 }), quantity: fc.integer({ min: 1, max: 6 }), self: fc.boolean() })
  .map(({ ticket, user, quantity, self }) => ({
    check: (model: Readonly<Model>) => model.tickets.length > 0,
    async run(model: Model) {
      const t = model.tickets[ticket % model.tickets.length]!;
      const userId = model.users[user]!;
      const res = await postJson(
        "/tickets/buy",
        { user_id: userId, ticket_id: t.id, quantity },
        self ? await asUser(userId) : asAdmin,
      );
      const bought = t.byUser.get(userId) ?? 0;
      let expected: [number, string?];
      if (quantity > t.maxPerOrder) expected = [400, "validation_error"];
      else if (!t.active) expected = [409, "sales_closed"];
      else if (quantity > t.stock - t.sold) expected = [409, "sold_out"];
      else if (t.maxPerUser !== null && bought + quantity > t.maxPerUser) expected = [409, "user_limit"];
      else expected = [200];
      const body = (await res.json()) as { code?: string };
      expect([res.status, body.code]).toEqual([expected[0], expected[1]]);
      if (res.status === 200) {
        t.sold += quantity;
        t.byUser.set(userId, bought + quantity);
      }
    },
    toString: () => `buy(ticket#${ticket}, user#${user}, ${quantity}, ${self ? "self" : "admin"})`,
  }));

async function invariants(model: Model) {
  for (const t of model.tickets) {
    const db = await env.DB.prepare(
      "SELECT t.sold, t.stock, (SELECT coalesce(sum(quantity), 0) FROM purchases p WHERE p.ticket_id = t.id) AS units FROM tickets t WHERE t.id = ?",
    )
      .bind(t.id)
      .first<{ sold: number; stock: number; units: number }>();
    expect(db!.sold).toBeGreaterThanOrEqual(0);
    expect(db!.sold).toBeLessThanOrEqual(db!.stock);
    expect(db!.units).toBe(db!.sold);
    expect(db!.sold).toBe(t.sold);
    const read = (await (await api(`/tickets/${t.id}`)).json()) as { sold: number; available: number };
    expect(read).toMatchObject({ sold: t.sold, available: t.stock - t.sold });
    for (const [user, units] of t.byUser) {
      if (t.maxPerUser !== null) expect(units).toBeLessThanOrEqual(t.maxPerUser);
      const list = (await (await api(`/tickets/user/${user}`, { headers: asAdmin })).json()) as {
        ticket_id: number;
        quantity: number;
      }[];
      expect(list.filter((p) => p.ticket_id === t.id).reduce((s, p) => s + p.quantity, 0)).toBe(units);
    }
  }
}

describe("property: the worker agrees with a model of the contract", () => {
  let run = 0;
  it("after every step of random create / buy / read sequences", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(create, purchase), { maxLength: 25 }), async (commands) => {
        run++;
        const model: Model = { tickets: [], users: [0, 1, 2, 3].map((u) => 1_000_000 + run * 10 + u) };
        for (const command of commands) {
          if (!command.check(model)) continue;
          await command.run(model);
          await invariants(model);
        }
      }),
      { numRuns: 25 },
    );
  }, 30_000);
});
