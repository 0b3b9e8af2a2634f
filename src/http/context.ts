import type { Principal } from "./auth";

/** The Hono environment of this app: bindings and per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    principal: Principal;
    requestId: string;
    ticketId?: number; // for the request log
  };
}
