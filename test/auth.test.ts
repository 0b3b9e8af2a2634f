import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { api, asAdmin, asUser, buy, createTicket, expectProblem, postJson, userToken } from "./helpers";

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

async function rs256Token(claims: Record<string, unknown>, kid?: string) {
  const now = Math.floor(Date.now() / 1000);
  return sign(
    { iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE, iat: now, exp: now + 600, ...claims },
    kid ? { ...env.TEST_RS256_PRIVATE_JWK, kid } : env.TEST_RS256_PRIVATE_JWK,
    "RS256",
  );
}

const validTicket = () => ({ game_id: 9, name: "Auth Stand", price: 10, stock: 10 });

describe("authentication", () => {
  it("answers 401 with WWW-Authenticate when credentials are missing", async () => {
    for (const [method, path, body] of [
      ["POST", "/tickets", validTicket()],
      ["POST", "/tickets/buy", { user_id: 1, ticket_id: 1 }],
      ["GET", "/tickets/user/1", undefined],
      ["GET", "/tickets", undefined],
    ] as const) {
      const res = await api(path, {
        method,
        headers: { "Content-Type": "application/json" },
        body: body && JSON.stringify(body),
      });
      await expectProblem(res, 401, "unauthorized");
      expect(res.headers.get("WWW-Authenticate")).toBe('Bearer realm="tickets"');
    }
  });

  it("refuses a wrong admin token and malformed headers", async () => {
    for (const authorization of ["Bearer not-the-token", "Basic YWRtaW46YWRtaW4=", "Bearer", "test-admin-token"]) {
      const res = await postJson("/tickets", validTicket(), { Authorization: authorization });
      await expectProblem(res, 401, "unauthorized");
      expect(res.headers.get("WWW-Authenticate")).toMatch(/error="invalid_token"/);
    }
  });

  it("refuses JWTs that are expired, unsigned, badly signed, without exp, or for another issuer or audience", async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${btoa(JSON.stringify({ alg: "none", typ: "JWT" }))}.${btoa(JSON.stringify({ sub: "5", exp: now + 60 }))}.`;
    const tokens = [
      await userToken(5, { exp: now - 10 }),
      await userToken(5, { exp: undefined }),
      await userToken(5, { iss: "https://evil.example/" }),
      await userToken(5, { aud: "other-api" }),
      await userToken(5, { sub: "abc" }),
      await userToken(5, { sub: "0" }),
      await sign({ sub: "5", exp: now + 60, iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE }, "wrong-secret", "HS256"),
      unsigned,
    ];
    for (const token of tokens) {
      await expectProblem(
        await postJson("/tickets/buy", { user_id: 5, ticket_id: 1 }, bearer(token)),
        401,
        "unauthorized",
      );
    }
  });

  it("accepts RS256 tokens verified against the identity provider's JWKS", async () => {
    const ticket = await createTicket({ stock: 3 });
    const res = await postJson(
      "/tickets/buy",
      { user_id: 77, ticket_id: ticket.id },
      bearer(await rs256Token({ sub: "77" })),
    );
    expect(res.status).toBe(200);
    const wrongAudience = await rs256Token({ sub: "77", aud: "someone-else" });
    await expectProblem(
      await postJson("/tickets/buy", { user_id: 77, ticket_id: ticket.id }, bearer(wrongAudience)),
      401,
      "unauthorized",
    );
  });
});

describe("user tokens while the identity provider is down", () => {
  it("answers 503 with Retry-After, never 401, when its keys cannot be fetched: fans are not logged out", async () => {
    const { app } = await import("../src/index");
    const token = await rs256Token({ sub: "5" });
    const read = (jwksUrl: string) =>
      app.fetch(new Request("http://tickets.test/tickets/user/5", { headers: bearer(token) }), {
        ...env,
        JWKS_URL: jwksUrl,
      });
    expect((await read(env.JWKS_URL)).status).toBe(404); // the provider is up: a good token (no purchases yet)
    const down = await read("https://idp-down.test/.well-known/jwks.json"); // answers 502, as an outage would
    await expectProblem(down, 503, "unavailable");
    expect(down.headers.get("Retry-After")).toBeTruthy();
    // A key the provider does not list is still refused as such.
    const unknownKid = await rs256Token({ sub: "5" }, "not-a-listed-kid");
    const refused = await app.fetch(
      new Request("http://tickets.test/tickets/user/5", { headers: bearer(unknownKid) }),
      env,
    );
    expect(refused.status).toBe(401);
  });
});

describe("roles", () => {
  it("lets only the admin create tickets and use the debug listing", async () => {
    const user = await asUser(3);
    await expectProblem(await postJson("/tickets", validTicket(), user), 403, "forbidden");
    await expectProblem(await api("/tickets", { headers: user }), 403, "forbidden");
    expect((await postJson("/tickets", validTicket(), asAdmin)).status).toBe(200);
    expect((await api("/tickets", { headers: asAdmin })).status).toBe(200);
  });

  it("lets a user buy only for themselves; the admin buys for anyone", async () => {
    const ticket = await createTicket({ stock: 10 });
    const mine = await buy({ user_id: 11, ticket_id: ticket.id }, await asUser(11));
    expect(mine.status).toBe(200);
    expect(mine.body.user_id).toBe(11);
    const res = await postJson("/tickets/buy", { user_id: 12, ticket_id: ticket.id }, await asUser(11));
    await expectProblem(res, 403, "forbidden");
    expect((await buy({ user_id: 12, ticket_id: ticket.id }, asAdmin)).status).toBe(200);
    const sold = await env.DB.prepare("SELECT sold FROM tickets WHERE id = ?").bind(ticket.id).first();
    expect(sold).toEqual({ sold: 2 }); // the forbidden order bought nothing
  });

  it("lets a user read only their own purchases; the admin reads anyone's", async () => {
    const ticket = await createTicket();
    await buy({ user_id: 21, ticket_id: ticket.id }, await asUser(21));
    expect((await api("/tickets/user/21", { headers: await asUser(21) })).status).toBe(200);
    await expectProblem(await api("/tickets/user/22", { headers: await asUser(21) }), 403, "forbidden");
    expect((await api("/tickets/user/21", { headers: asAdmin })).status).toBe(200);
  });

  it("keeps the catalogue public", async () => {
    const ticket = await createTicket();
    expect((await api(`/tickets/${ticket.id}`)).status).toBe(200);
    expect((await api(`/tickets/game/${ticket.game_id}`)).status).toBe(200);
    expect((await api("/health")).status).toBe(200);
  });
});

describe("a deployment missing its secrets", () => {
  it("fails closed and says why in the log", async () => {
    const { app } = await import("../src/index");
    const bare = { ...env, ADMIN_TOKEN: undefined, JWT_SECRET: undefined, JWKS_URL: "" };
    const errors: string[] = [];
    const original = console.error;
    console.error = (line: string) => errors.push(line);
    try {
      const call = (path: string, headers: Record<string, string>, body: unknown) =>
        app.fetch(
          new Request(`http://tickets.test${path}`, {
            method: "POST",
            headers: { "Content-Type": "application/json", ...headers },
            body: JSON.stringify(body),
          }),
          bare,
        );
      await expectProblem(await call("/tickets", asAdmin, validTicket()), 401, "unauthorized");
      await expectProblem(
        await call("/tickets/buy", await asUser(5), { user_id: 5, ticket_id: 1 }),
        401,
        "unauthorized",
      );
      await expectProblem(
        await call("/tickets/buy", bearer(await rs256Token({ sub: "5" })), { user_id: 5, ticket_id: 1 }),
        401,
        "unauthorized",
      );
    } finally {
      console.error = original;
    }
    expect(errors.join("\n")).toMatch(/ADMIN_TOKEN is not set/);
    expect(errors.join("\n")).toMatch(/JWT_SECRET is not set/);
    expect(errors.join("\n")).toMatch(/JWKS_URL is not set/);
  });
});
