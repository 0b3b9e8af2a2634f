import { env, exports } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { expect } from "vitest";

// Every test goes through the worker's real entry point.

export const BASE = "http://tickets.test";

export function api(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`${BASE}${path}`, init));
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
  return { status: res.status, body: (await res.json()) as any };
}

/** Asserts the RFC 9457 problem shape and returns the document. */
export async function expectProblem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("Content-Type")).toMatch(/^application\/problem\+json/);
  const body = (await res.json()) as Problem;
  expect(body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
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
}
