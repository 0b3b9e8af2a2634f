import type { Principal } from "./auth";

/** The Hono environment of this app: bindings and per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    principal: Principal;
    requestId: string;
    ticketId?: number; // for the request log
    d1: { session: D1DatabaseSession; given: string | undefined }; // this request's D1 session (d1-session.ts)
    bookmark?: string; // of the projection that carried a ticket object's write
  };
}
