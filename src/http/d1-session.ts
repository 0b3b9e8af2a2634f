import type { MiddlewareHandler } from "hono";
import { newerBookmark } from "../db/queries";
import type { AppEnv } from "./context";
import { invalid } from "./problem";

// Reads near the fan: every request's D1 queries run in one D1 session
// (Sessions API). Without a bookmark it reads the nearest replica; with the
// X-D1-Bookmark header a client sent back, at least as fresh as that point.
// Each answer carries the newest bookmark it knows of: its own session's,
// or that of the projection which carried a ticket object's write.

export const BOOKMARK_HEADER = "X-D1-Bookmark";
// Bookmarks are opaque to clients (today "<hex>-<hex>-<hex>-<hex>"); anything else is refused up front.
const BOOKMARK = /^[0-9A-Za-z-]{1,256}$/;

export const d1Session: MiddlewareHandler<AppEnv> = async (c, next) => {
  const given = c.req.header(BOOKMARK_HEADER);
  if (given !== undefined && !BOOKMARK.test(given)) {
    throw invalid([{ field: BOOKMARK_HEADER, message: "must be a bookmark this API answered with" }]);
  }
  let session: D1DatabaseSession | undefined; // made on first use: most writes never read D1
  c.set("d1", {
    given,
    get session() {
      session ??= c.env.DB.withSession(given ?? "first-unconstrained");
      return session;
    },
  });
  await next();
  const latest = newerBookmark(session?.getBookmark(), c.get("bookmark"));
  if (latest) c.res.headers.set(BOOKMARK_HEADER, latest);
};
