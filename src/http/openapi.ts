import { OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import type { AppEnv } from "./context";
import { invalid } from "./problem";
import { problemSchema } from "./schemas";
import { fieldErrors, type Issue } from "./validate";

/** A router whose zod validation failures become the one 400 problem shape. */
export const openApiRouter = () =>
  new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw invalid(fieldErrors(result.error.issues as Issue[]));
    },
  });

// Pieces of route definitions shared by the routers.

export const json = <T>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

const descriptions: Record<number, string> = {
  400: "Invalid request: the failing fields are listed in `errors`",
  401: "Missing or invalid credentials",
  403: "These credentials may not do this",
  404: "Not found",
  409: "Refused",
  413: "Body too large",
  415: "Body not sent as JSON",
  422: "Idempotency-Key already used with another body",
  503: "`unavailable`: the read model (D1) is down; retry after `Retry-After` seconds",
};

/** Problem responses for `statuses`, with route-specific descriptions where given. */
export const problems = (statuses: number[], overrides: Record<number, string> = {}): RouteConfig["responses"] =>
  Object.fromEntries(
    statuses.map((s) => [
      s,
      {
        content: { "application/problem+json": { schema: problemSchema } },
        description: overrides[s] ?? descriptions[s]!,
      },
    ]),
  );

export const bearer = [{ bearerAuth: [] }];

export const RETRY_WITH_KEY =
  "`unavailable` or `overloaded`: nothing was done, for certain; retry after `Retry-After` seconds. " +
  "`outcome_unknown`: the ticket's object did not answer, so this may or may not have been done; " +
  "retry with the same `Idempotency-Key`, which answers the first result if there was one.";
