import { env } from "cloudflare:workers";

// Faults in the real D1 binding: every D1 call of this isolate (the worker's
// and the ticket objects') goes through one method of the binding's session
// class, so wrapping it lets a test watch, delay, fail or lose any call while
// the database itself stays real.

export interface D1Call {
  statements: { sql: string; params: unknown[] }[];
  /** The call writes (INSERT, UPDATE or DELETE). */
  writes: boolean;
  /** The bookmark (or constraint: "first-primary"...) of the session the call is made in, if any. */
  bookmark: string | null;
}
type Forward = () => Promise<Response>;
export type D1Interceptor = (call: D1Call, forward: Forward) => Promise<Response>;

type Session = { _wrappedFetch: (this: unknown, input: string, init: RequestInit) => Promise<Response> };
const session = Object.getPrototypeOf(env.DB.withSession()) as Session;
const realFetch = session._wrappedFetch;

/** Routes every D1 call through `interceptor` until the returned function is called. */
export function interceptD1(interceptor: D1Interceptor): () => void {
  session._wrappedFetch = function (input, init) {
    const body = JSON.parse(String(init.body)) as D1Call["statements"][number] | D1Call["statements"];
    const statements = Array.isArray(body) ? body : [body];
    const writes = statements.some((s) => /^\s*(insert|update|delete)\b/i.test(s.sql));
    const bookmark = (this as { bookmarkOrConstraint?: string }).bookmarkOrConstraint ?? null;
    return interceptor({ statements, writes, bookmark }, () => realFetch.call(this, input, init));
  };
  return () => {
    session._wrappedFetch = realFetch;
  };
}

export const outage = () => new Error("D1_ERROR: injected outage: Network connection lost.");

/** D1 answers nothing until restored. */
export const d1Down = () =>
  interceptD1(async () => {
    throw outage();
  });

/** The webhook consumer's and event sender's statements: background work of the same isolate. */
export const EVENTS_WORK = /"(webhooks|webhook_events|webhook_deliveries|event_outbox)"/;

/** Counts D1 calls (and writes) while letting them through, but for those matching `except`. */
export function countD1(except?: RegExp) {
  const counts = { calls: 0, writes: 0 };
  const restore = interceptD1((call, forward) => {
    if (except && call.statements.some((s) => except.test(s.sql))) return forward();
    counts.calls++;
    if (call.writes) counts.writes++;
    return forward();
  });
  return { counts, restore };
}
