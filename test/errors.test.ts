import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, asAdmin, expectProblem, postJson } from "./helpers";

describe("errors", () => {
  it("answers an unknown route with a 404 problem", async () => {
    const problem = await expectProblem(await api("/nope"), 404, "not_found");
    expect(problem.title).toBe("Not found");
    await expectProblem(await api("/tickets/1", { method: "DELETE" }), 404, "not_found");
  });

  it("names the failing fields of a validation error", async () => {
    const problem = await expectProblem(await postJson("/tickets", { name: "" }), 400, "validation_error");
    expect(problem.errors).toEqual(
      expect.arrayContaining([
        { field: "game_id", message: expect.any(String) },
        { field: "name", message: expect.any(String) },
        { field: "price", message: expect.any(String) },
        { field: "stock", message: expect.any(String) },
      ]),
    );
  });
});

describe("GET /health", () => {
  it("answers 200", async () => {
    const res = await api("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });
});

describe("JSON bodies", () => {
  it("refuses a body that is not declared as JSON with 415", async () => {
    const res = await api("/tickets/buy", {
      method: "POST",
      headers: { ...asAdmin, "Content-Type": "text/plain" },
      body: JSON.stringify({ user_id: 1, ticket_id: 1 }),
    });
    await expectProblem(res, 415, "unsupported_media_type");
    await expectProblem(
      await api("/tickets", { method: "POST", body: "{}", headers: asAdmin }),
      415,
      "unsupported_media_type",
    );
  });

  it("accepts a JSON media type with parameters", async () => {
    const res = await postJson(
      "/tickets/buy",
      { user_id: 1, ticket_id: 424242 },
      {
        ...asAdmin,
        "Content-Type": "application/json; charset=utf-8",
      },
    );
    await expectProblem(res, 404, "not_found");
  });

  it("refuses a body over 16 KiB with 413", async () => {
    const body = JSON.stringify({ game_id: 1, name: "x", price: 1, stock: 1, description: "d".repeat(17_000) });
    await expectProblem(await postJson("/tickets", body), 413, "payload_too_large");
  });
});

describe("unexpected failures", () => {
  const secret = "SELECT secret_column FROM internal_table";
  const quietly = async <T>(run: () => T | Promise<T>) => {
    const original = console.error;
    console.error = () => {};
    try {
      return await run();
    } finally {
      console.error = original;
    }
  };

  it("answer 500 in the problem shape, and leak neither the error nor its stack", async () => {
    const { app } = await import("../src/index");
    // Configuration that fails in a way no handler expects.
    const broken = {
      split: () => {
        throw new Error(secret);
      },
    } as unknown as string;
    const res = await quietly(() =>
      app.fetch(new Request("http://tickets.test/health", { headers: { Origin: "https://club.example" } }), {
        ...env,
        CORS_ORIGINS: broken,
      }),
    );
    const text = await res.clone().text();
    const problem = await expectProblem(res, 500, "internal");
    expect(problem.detail).toBe("An unexpected error occurred.");
    expect(text).not.toContain(secret);
    expect(text).not.toMatch(/\bat\b.*\.(ts|js):\d+/);
  });

  it("a failing read model is a 503 that leaks nothing either", async () => {
    const { app } = await import("../src/index");
    const brokenDb = new Proxy({} as D1Database, {
      get: () => () => {
        throw new Error(secret);
      },
    });
    const res = await quietly(() => app.fetch(new Request("http://tickets.test/tickets/1"), { ...env, DB: brokenDb }));
    const text = await res.clone().text();
    await expectProblem(res, 503, "unavailable");
    expect(text).not.toContain(secret);
  });
});
