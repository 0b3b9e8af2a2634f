import { env } from "cloudflare:workers";
import type { QueueMessage } from "../src/events/types";
import worker from "../src/index";

// The API exactly as src/index.ts serves it, plus one development-only route
// that cuts it off from D1 for a while: `npm run outage` runs
// `npm run dev -- test/outage-worker.ts`. (A lock on the local D1 file cannot
// do this: workerd holds that file's lock itself.) Every D1 call of this
// isolate, the worker's and the ticket objects', goes through one method of
// the binding's session class; while cut off, it fails as a lost connection.

export { OrderCoordinator, SeatBlock, TicketSeller } from "../src/index";

type Session = { _wrappedFetch: (this: unknown, input: string, init: RequestInit) => Promise<Response> };
const session = Object.getPrototypeOf(env.DB.withSession()) as Session;
const realFetch = session._wrappedFetch;
let downUntil = 0;
session._wrappedFetch = function (input, init) {
  if (Date.now() < downUntil) return Promise.reject(new Error("D1_ERROR: Network connection lost."));
  return realFetch.call(this, input, init);
};

export default {
  ...worker,
  fetch(request, ...rest) {
    const url = new URL(request.url);
    if (url.pathname === "/__outage" && request.method === "POST") {
      downUntil = Date.now() + Number(url.searchParams.get("ms") ?? 0);
      return Response.json({ down_until: new Date(downUntil).toISOString() });
    }
    return worker.fetch(request, ...rest);
  },
} satisfies ExportedHandler<Env, QueueMessage>;
