import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import app from "../src/index";
import { api, BASE, buy, createTicket } from "./helpers";

afterEach(() => vi.restoreAllMocks());

function captureLogs() {
  const lines: Record<string, unknown>[] = [];
  vi.spyOn(console, "log").mockImplementation((line: unknown) => {
    if (typeof line === "string" && line.startsWith("{")) lines.push(JSON.parse(line));
  });
  return lines;
}

/** A request to the app with its request log on (the tests run with it off). */
const logged = (path: string, init?: RequestInit) =>
  app.fetch(new Request(`${BASE}${path}`, init), { ...env, REQUEST_LOG: "on" });

describe("request logs and ids", () => {
  it("echoes a given X-Request-Id and logs one line with the route pattern and ticket", async () => {
    const ticket = await createTicket();
    const logs = captureLogs();
    const res = await logged(`/tickets/${ticket.id}`, { headers: { "X-Request-Id": "req-abc-123" } });
    expect(res.headers.get("X-Request-Id")).toBe("req-abc-123");
    expect(res.headers.get("Server-Timing")).toMatch(/app;dur=\d/);
    expect(logs).toEqual([
      {
        request_id: "req-abc-123",
        method: "GET",
        route: "/tickets/:ticket_id",
        status: 200,
        duration_ms: expect.any(Number),
        ticket_id: ticket.id,
      },
    ]);
  });

  it("generates an id when none is given, and logs errors too", async () => {
    const logs = captureLogs();
    const res = await logged("/tickets/0");
    const id = res.headers.get("X-Request-Id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(logs).toEqual([expect.objectContaining({ request_id: id, status: 400, method: "GET" })]);
  });

  it("writes no request log line when REQUEST_LOG is off, as in the tests", async () => {
    const logs = captureLogs();
    const res = await api("/health");
    expect(res.headers.get("X-Request-Id")).toBeTruthy();
    expect(logs).toEqual([]);
  });
});

describe("catalogue caching", () => {
  it("sends an ETag, answers If-None-Match with 304, and a sale changes the ETag", async () => {
    const ticket = await createTicket({ stock: 5 });
    const first = await api(`/tickets/${ticket.id}`);
    const etag = first.headers.get("ETag");
    expect(etag).toBeTruthy();
    expect(first.headers.get("Cache-Control")).toBe("public, max-age=2, must-revalidate");

    const again = await api(`/tickets/${ticket.id}`, { headers: { "If-None-Match": etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");

    await buy({ user_id: 1, ticket_id: ticket.id });
    const after = await api(`/tickets/${ticket.id}`, { headers: { "If-None-Match": etag! } });
    expect(after.status).toBe(200);
    expect(after.headers.get("ETag")).not.toBe(etag);

    const game = await api(`/tickets/game/${ticket.game_id}`);
    const gameAgain = await api(`/tickets/game/${ticket.game_id}`, {
      headers: { "If-None-Match": game.headers.get("ETag")! },
    });
    expect(gameAgain.status).toBe(304);
  });
});
