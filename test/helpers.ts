import { env, exports } from "cloudflare:workers";
import { Validator } from "@cfworker/json-schema";
import { sign } from "hono/jwt";
import { expect } from "vitest";

// Every test goes through the worker's real entry point, and every answer is
// checked against the API's own OpenAPI document.

export const BASE = "http://tickets.test";

// The worker's own answer: a redirect is checked against the document, not followed.
export const api = (path: string, init?: RequestInit): Promise<Response> =>
  fetchWorker(new Request(`${BASE}${path}`, { redirect: "manual", ...init }));

/** The worker's answer to `request`, once checked against the document. */
export async function fetchWorker(request: Request): Promise<Response> {
  const response = await exports.default.fetch(request.clone());
  await expectDocumented(request, response.clone());
  return response;
}

interface OpenApiDoc {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { examples?: Record<string, unknown> }> }> }>
  >;
  webhooks: Record<string, { post: { parameters: { name: string; in: string; required?: boolean }[] } }>;
}
const DOC_URI = "https://tickets.test/openapi.json";
let doc: Promise<OpenApiDoc> | undefined;
// Without its examples: the validator would take an example's `id` for a schema's id.
const documentOnce = () =>
  (doc ??= exports.default
    .fetch(`${BASE}/openapi.json`)
    .then(async (r) => JSON.parse(await r.text(), (k, v) => (k === "example" ? undefined : v)) as OpenApiDoc));
const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");

const validators = new Map<string, Validator>();
/** Errors of `value` against the document's schema at `at` (a JSON pointer's parts). */
async function schemaErrors(at: string[], value: unknown) {
  const ref = `${DOC_URI}#/${pointer(...at)}`;
  let validator = validators.get(ref);
  if (!validator) {
    validator = new Validator({ $ref: ref }, "2020-12", false);
    validator.addSchema((await documentOnce()) as object as Parameters<Validator["addSchema"]>[0], DOC_URI);
    validators.set(ref, validator);
  }
  return validator.validate(value).errors;
}

/** A webhook delivery must be one of the document's `webhooks`: its signature headers, and its event's schema. */
export async function expectDocumentedEvent(delivery: { headers: Record<string, string>; body: string }) {
  const event = JSON.parse(delivery.body) as { type: string };
  const webhook = (await documentOnce()).webhooks[event.type];
  expect(webhook, `${event.type} is not in the document's webhooks`).toBeDefined();
  for (const p of webhook!.post.parameters.filter((p) => p.in === "header" && p.required)) {
    expect(delivery.headers[p.name], `${event.type} without its ${p.name} header`).toBeDefined();
  }
  const at = ["webhooks", event.type, "post", "requestBody", "content", "application/json", "schema"];
  expect(await schemaErrors(at, event), `${event.type} vs the document`).toEqual([]);
}

/** The response's status and body must be the ones the document gives for its route. */
async function expectDocumented(request: Request, response: Response) {
  const { pathname } = new URL(request.url);
  if (
    ["/openapi.json", "/docs", "/docs/"].includes(pathname) ||
    request.method === "OPTIONS" ||
    response.status === 304
  )
    return;
  const { paths } = await documentOnce();
  // Literal paths first, so /tickets/buy is not taken for /tickets/{ticket_id}.
  const templates = Object.keys(paths).sort((a, b) => a.split("{").length - b.split("{").length);
  const template = templates.find((t) => new RegExp(`^${t.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(pathname));
  const method = request.method.toLowerCase();
  const contentType = (response.headers.get("Content-Type") ?? "").split(";")[0]!;
  let at: string[];
  let codes: string[] | undefined; // the problem codes the document shows for this answer
  if (template && paths[template]![method]) {
    const documented = paths[template]![method]!.responses[response.status];
    expect(
      documented,
      `${request.method} ${template} answered ${response.status}, which the document lacks`,
    ).toBeDefined();
    if (response.status === 204 || response.status === 302) {
      expect(documented!.content, `${request.method} ${template} ${response.status} has no body`).toBeUndefined();
      expect(await response.text()).toBe("");
      return;
    }
    expect(
      Object.keys(documented!.content ?? {}),
      `${request.method} ${template} ${response.status} as ${contentType}`,
    ).toContain(contentType);
    if (!contentType.endsWith("json")) return; // an image: its media type is the contract
    at = ["paths", template, method, "responses", String(response.status), "content", contentType, "schema"];
    if (contentType === "application/problem+json")
      codes = Object.keys(documented!.content![contentType]!.examples ?? {});
  } else {
    expect(contentType).toBe("application/problem+json"); // no route: a problem document
    at = ["components", "schemas", "Problem"];
  }
  const body = await response.json();
  expect(await schemaErrors(at, body), `${request.method} ${pathname} ${response.status} body vs the document`).toEqual(
    [],
  );
  if (codes) {
    const { code } = body as { code: string };
    expect(codes, `${request.method} ${template} ${response.status} ${code} has no example in the document`).toContain(
      code,
    );
  }
}

export const asAdmin = { Authorization: `Bearer ${env.ADMIN_TOKEN}` };

/** A user's HS256 token as our own identity service would issue it. */
export async function userToken(userId: number | string, claims: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return sign(
    { sub: String(userId), iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE, iat: now, exp: now + 600, ...claims },
    env.JWT_SECRET!,
    "HS256",
  );
}

export const asUser = async (userId: number, claims?: Record<string, unknown>) => ({
  Authorization: `Bearer ${await userToken(userId, claims)}`,
});

/** Gate staff's token: scans the entries of `games`, as `scanner`. */
export const asGate = async (games: number[], scanner = "scanner-1") => ({
  Authorization: `Bearer ${await userToken(scanner, { role: "gate", games })}`,
});

/** POSTs JSON, as the admin unless other headers say otherwise. */
export function postJson(path: string, body: unknown, headers: Record<string, string> = asAdmin): Promise<Response> {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

let nextGame = 1_000;
/** A game id no other test in this file uses. */
export const freshGameId = () => nextGame++;

export async function createTicket(overrides: Record<string, unknown> = {}) {
  const res = await postJson("/tickets", {
    game_id: freshGameId(),
    name: "North Stand",
    price: 25,
    stock: 100,
    ...overrides,
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Ticket;
}

export async function buy(body: Record<string, unknown>, headers: Record<string, string> = asAdmin) {
  const res = await postJson("/tickets/buy", body, headers);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Asserts the RFC 9457 problem shape and returns the document. */
export async function expectProblem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("Content-Type")).toMatch(/^application\/problem\+json/);
  const body = (await res.json()) as Problem;
  expect(body).toMatchObject({
    status,
    code,
    type: expect.any(String),
    title: expect.any(String),
    detail: expect.any(String),
  });
  expect(JSON.stringify(body)).not.toMatch(/\n\s+at /); // no stack trace
  return body;
}

export const fieldsOf = (problem: Problem) => (problem.errors ?? []).map((e) => e.field);

export interface Ticket {
  id: number;
  game_id: number;
  name: string;
  description: string;
  type: string;
  price: number;
  currency: string;
  stock: number;
  sold: number;
  available: number;
  max_per_order: number;
  max_per_user: number | null;
  active: boolean;
  sales_start: string | null;
  sales_end: string | null;
  created_at: string;
  updated_at: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: { field: string; message: string }[];
  available?: number;
  max_per_user?: number;
  bought?: number;
  sold?: number;
  sales_start?: string | null;
  sales_end?: string | null;
}

export const sellerOf = (ticketId: number) => env.TICKET_SELLER.getByName(String(ticketId));
