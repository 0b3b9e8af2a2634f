import { describe, expect, it } from "vitest";
import { EVENT_TYPES } from "../src/events/types";
import { app } from "../src/index";
import { api } from "./helpers";

interface Operation {
  operationId?: string;
  tags?: string[];
  responses: Record<string, unknown>;
  security?: unknown[];
}
interface Doc {
  openapi: string;
  info: { description: string };
  servers: { url: string; description?: string; variables?: Record<string, { default: string }> }[];
  tags: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, { description?: string }> };
}

const load = async () => (await (await api("/openapi.json")).json()) as Doc;

describe("GET /openapi.json", () => {
  it("documents every route the app serves", async () => {
    const doc = await load();
    expect(doc.openapi).toBe("3.1.0");
    const served = app.routes
      .filter((r) => r.method !== "ALL" && !["/openapi.json", "/docs", "/docs/"].includes(r.path))
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}").replace(/(.)\/$/, "$1")}`);
    expect(served.length).toBeGreaterThanOrEqual(7);
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((m) => `${m} ${path}`),
    );
    expect(documented.sort()).toEqual([...new Set(served)].sort());
  });

  it("names every status code of the contract", async () => {
    const { paths } = await load();
    const statuses = (path: string, method: string) => Object.keys(paths[path]![method]!.responses).sort();
    expect(statuses("/tickets", "post")).toEqual(expect.arrayContaining(["200", "400", "401", "403", "422"]));
    expect(statuses("/tickets/buy", "post")).toEqual(
      expect.arrayContaining(["200", "400", "401", "403", "404", "409", "422", "503"]),
    );
    expect(statuses("/tickets/user/{user_id}", "get")).toEqual(expect.arrayContaining(["200", "400", "404"]));
    expect(statuses("/tickets/{ticket_id}", "get")).toEqual(expect.arrayContaining(["200", "304", "400", "404"]));
    expect(statuses("/tickets/game/{game_id}", "get")).toEqual(expect.arrayContaining(["200", "304", "400", "404"]));
    expect(statuses("/tickets", "get")).toEqual(expect.arrayContaining(["200", "400"]));
    expect(statuses("/tickets/{ticket_id}", "patch")).toEqual(
      expect.arrayContaining(["200", "400", "401", "403", "404", "409", "503"]),
    );
    expect(statuses("/tickets/{ticket_id}/resync", "post")).toEqual(
      expect.arrayContaining(["200", "401", "403", "404", "503"]),
    );
    // Every read of the read model says it may be unavailable.
    for (const path of ["/tickets", "/tickets/{ticket_id}", "/tickets/game/{game_id}", "/tickets/user/{user_id}"]) {
      expect(statuses(path, "get")).toContain("503");
    }
  });

  it("documents the codes and media types of a ticket owned by its object", async () => {
    const doc = (await load()) as Doc & {
      components: { schemas: { Problem: { properties: { code: { enum: string[] } } } } };
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>>;
    };
    expect(doc.components.schemas.Problem.properties.code.enum).toEqual(
      expect.arrayContaining(["overloaded", "outcome_unknown", "stock_below_sold", "currency_locked"]),
    );
    expect(Object.keys(doc.paths["/tickets/{ticket_id}"]!.patch!.requestBody!.content)).toEqual(
      expect.arrayContaining(["application/merge-patch+json", "application/json"]),
    );
  });

  it("describes the problem shape, the auth scheme and which routes need it", async () => {
    const doc = await load();
    expect(doc.components.schemas.Problem).toBeDefined();
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.paths["/tickets/buy"]!.post!.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths["/tickets/{ticket_id}"]!.get!.security).toEqual([]);
  });

  it("declares security on every operation: a bearer token, or none on the public ones", async () => {
    const doc = await load();
    const open: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        expect(op.security, `${method} ${path}`).toBeDefined();
        if (op.security!.length === 0) open.push(`${method} ${path}`);
        else {
          expect(op.security, `${method} ${path}`).toEqual([{ bearerAuth: [] }]);
          // A user's token cannot be checked while the identity provider is down: 503 unavailable, anywhere.
          const answer = op.responses["503"] as { content: Record<string, { examples: object }> } | undefined;
          expect(
            Object.keys(answer?.content["application/problem+json"]?.examples ?? {}),
            `${method} ${path}`,
          ).toContain("unavailable");
        }
      }
    }
    expect(open.sort()).toEqual(
      [
        "get /health",
        "get /",
        "get /tickets/{ticket_id}",
        "get /tickets/game/{game_id}",
        "get /games/{game_id}/gate-keys",
        "get /games/{game_id}/seatmap",
        "get /games/{game_id}/seats",
        "post /payments/stripe/webhook",
      ].sort(),
    );
  });

  it("names every operation with a unique operationId that generated clients use as the method name", async () => {
    const doc = await load();
    const ids = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => [`${method} ${path}`, op.operationId] as const),
    );
    for (const [where, id] of ids) expect(id, where).toMatch(/^[a-z][A-Za-z]+$/);
    expect(new Set(ids.map(([, id]) => id)).size).toBe(ids.length);
    expect(Object.fromEntries(ids)).toMatchObject({
      "post /tickets": "createTicket",
      "post /tickets/buy": "buyTicket",
      "post /tickets/hold": "holdTicket",
      "get /tickets/{ticket_id}": "getTicket",
      "patch /tickets/{ticket_id}": "updateTicket",
      "get /purchases/{purchase_id}": "getPurchase",
      "post /purchases/{purchase_id}/confirm": "confirmPurchase",
      "post /checkins": "checkIn",
      "post /webhooks": "createWebhook",
      "get /health": "getHealth",
    });
  });

  it("names the local dev server and how to address a deployment", async () => {
    const { servers } = await load();
    expect(servers[0]).toMatchObject({
      url: "http://localhost:8787",
      description: expect.stringContaining("npm run dev"),
    });
    expect(servers[1]).toMatchObject({ url: "https://{host}", variables: { host: { default: expect.any(String) } } });
  });

  it("describes every tag the operations use, and says how to get a token locally", async () => {
    const doc = await load();
    const used = new Set(
      Object.values(doc.paths).flatMap((item) => Object.values(item).flatMap((op) => op.tags ?? [])),
    );
    const described = doc.tags.filter((t) => (t.description ?? "").length > 20).map((t) => t.name);
    expect([...used].sort()).toEqual(described.sort());
    for (const text of [doc.info.description, doc.components.securitySchemes.bearerAuth!.description]) {
      for (const command of ["npm run -s token -- --admin", "--user 42", "--gate 1"]) expect(text).toContain(command);
    }
  });
});

describe("openapi/openapi.json", () => {
  it("is the served document, so what CI lints and generates the client from is current", async () => {
    const served = `${JSON.stringify(await (await api("/openapi.json")).json(), null, 2)}\n`;
    await expect(served).toMatchFileSnapshot(
      "../openapi/openapi.json",
      "openapi/openapi.json differs from /openapi.json: run `npm run openapi` and commit what it writes",
    );
  });
});

describe("the document's webhooks", () => {
  it("lists every event the API sends, with its payload and signature headers", async () => {
    const { webhooks } = (await (await api("/openapi.json")).json()) as {
      webhooks: Record<
        string,
        { post: { operationId: string; parameters: { name: string; in: string }[]; requestBody: unknown } }
      >;
    };
    expect(Object.keys(webhooks)).toEqual([...EVENT_TYPES]);
    for (const [type, { post }] of Object.entries(webhooks)) {
      expect(
        post.parameters.filter((p) => p.in === "header").map((p) => p.name),
        type,
      ).toEqual(["webhook-id", "webhook-timestamp", "webhook-signature"]);
      expect(post.requestBody, type).toMatchObject({
        content: { "application/json": { schema: { $ref: expect.any(String) } } },
      });
    }
    expect(webhooks["entry.reissued"]!.post.operationId).toBe("entryReissued");
  });
});

describe("the document's examples", () => {
  type Media = {
    schema?: unknown;
    example?: unknown;
    examples?: Record<string, { value: { status: number; code: string } }>;
  };
  const problemAnswers = (doc: Doc) =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).flatMap(([method, op]) =>
        Object.entries(op.responses as Record<string, { content?: Record<string, Media> }>).flatMap(([status, r]) => {
          const media = r.content?.["application/problem+json"];
          return media ? [{ where: `${method} ${path} ${status}`, status: Number(status), media }] : [];
        }),
      ),
    );

  it("gives every documented error its own examples, one per code, each with the answer's status", async () => {
    const answers = problemAnswers(await load());
    expect(answers.length).toBeGreaterThan(150);
    for (const { where, status, media } of answers) {
      const examples = Object.entries(media.examples ?? {});
      expect(examples.length, where).toBeGreaterThan(0);
      for (const [name, { value }] of examples) {
        expect(value.status, `${where}: ${name}`).toBe(status);
        expect(value.code, where).toBe(name);
      }
    }
  });

  it("shows each route's own refusals and 503s", async () => {
    const doc = await load();
    const codes = (path: string, method: string, status: number) =>
      Object.keys(
        (doc.paths[path]![method]!.responses[status] as { content: Record<string, Media> }).content[
          "application/problem+json"
        ]!.examples!,
      );
    expect(codes("/tickets/buy", "post", 409)).toEqual([
      "sold_out",
      "sales_closed",
      "user_limit",
      "seat_taken",
      "hold_expired",
    ]);
    expect(codes("/tickets/buy", "post", 503)).toEqual(["unavailable", "overloaded", "outcome_unknown"]);
    expect(codes("/purchases/{purchase_id}/confirm", "post", 409)).toEqual([
      "hold_expired",
      "user_limit",
      "invalid_state",
      "payment_refunded",
      "part_of_order",
    ]);
    expect(codes("/purchases/{purchase_id}/cancel", "post", 409)).toEqual([
      "invalid_state",
      "checked_in",
      "part_of_order",
    ]);
    expect(codes("/orders", "post", 409)).toEqual(["order_refused", "currency_mismatch"]);
    expect(codes("/tickets/{ticket_id}", "patch", 409)).toEqual(["stock_below_sold", "currency_locked"]);
    expect(codes("/tickets/{ticket_id}", "get", 503)).toEqual(["unavailable"]);
    expect(codes("/tickets", "post", 401)).toEqual(["unauthorized"]);
  });
});

describe("GET /docs", () => {
  it("serves the reference page, whose scripts come from this worker", async () => {
    const res = await api("/docs");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('src="/docs/assets/swagger-ui-bundle.js"');
    expect(html).not.toMatch(/https?:\/\//); // no CDN
  });

  it("is found from the root and with a trailing slash", async () => {
    const root = await api("/");
    expect(root.status).toBe(302);
    expect(root.headers.get("Location")).toBe("/docs");
    const slashed = await api("/docs/");
    expect(slashed.status).toBe(200);
    expect(await slashed.text()).toBe(await (await api("/docs")).text());
  });
});
