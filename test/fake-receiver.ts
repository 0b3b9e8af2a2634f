// Webhook endpoints at https://hooks.test, served to the worker's outbound
// fetch by the test runtime (vitest.config.ts). The first path segment says
// how it answers: /ok → 204, /gone → 410, /fail → 500, /redirect → 302 (to
// /ok, which must never be followed), /flaky → 500 on the first attempt of
// each event, then 204. Every request is recorded, raw, and read by tests at
// GET https://hooks.test/__fake/requests; signatures are checked there, in
// the test, by code independent of the worker's.
import { Response } from "miniflare";

export interface ReceivedWebhook {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export function fakeReceiver() {
  const received: ReceivedWebhook[] = [];
  const failedOnce = new Set<string>();
  return async (request: { method: string; url: string; headers: Headers; text(): Promise<string> }) => {
    const url = new URL(request.url);
    if (url.pathname === "/__fake/requests") return Response.json(received);
    const body = await request.text();
    const headers = Object.fromEntries([...request.headers].map(([k, v]) => [k.toLowerCase(), v]));
    received.push({ path: url.pathname, headers, body });
    const id = headers["webhook-id"] ?? "";
    switch (url.pathname.split("/")[1]) {
      case "ok":
        return new Response(null, { status: 204 });
      case "gone":
        return new Response("gone", { status: 410 });
      case "redirect":
        return new Response(null, { status: 302, headers: { Location: `https://hooks.test/ok${url.pathname}` } });
      case "flaky":
        if (failedOnce.has(id)) return new Response(null, { status: 204 });
        failedOnce.add(id);
        return new Response("try later", { status: 500 });
      default:
        return new Response("broken", { status: 500 });
    }
  };
}
