import type { Principal } from "./auth";
import type { RequestD1 } from "./d1-session";

/** The Hono environment of this app: bindings and per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    principal: Principal;
    requestId: string;
    ticketId?: number; // for the request log
    d1: RequestD1; // this request's D1 sessions (d1-session.ts)
    bookmark?: string; // of the projection that carried a ticket object's write
  };
}
