import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./context";
import { invalid } from "./problem";
import { fieldErrors, type Issue } from "./validate";

/** A router whose zod validation failures become the one 400 problem shape. */
export const openApiRouter = () =>
  new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw invalid(fieldErrors(result.error.issues as Issue[]));
    },
  });
