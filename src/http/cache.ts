import type { MiddlewareHandler } from "hono";

/**
 * Lets browsers and proxies reuse a catalogue answer for a few seconds; with
 * the ETag after it, a revalidation that finds nothing new is a bodyless 304.
 */
export const cacheFor =
  (seconds: number): MiddlewareHandler =>
  async (c, next) => {
    await next();
    if (c.res.status === 200 || c.res.status === 304) {
      c.res.headers.set("Cache-Control", `public, max-age=${seconds}, must-revalidate`);
    }
  };
