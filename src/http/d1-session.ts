import type { MiddlewareHandler } from "hono";
import { newerBookmark } from "../db/queries";
import type { AppEnv } from "./context";
import { invalid } from "./problem";

// Reads near the fan: a request's D1 reads run in one D1 session (Sessions
// API), at the nearest replica unless the client sent back an X-D1-Bookmark,
// then at least that fresh. Writes go to the primary. Each answer carries the
// newest bookmark the request knows of: its sessions', or that of the
// projection which carried a ticket object's write.

export const BOOKMARK_HEADER = "X-D1-Bookmark";
// Bookmarks are opaque to clients (today "<hex>-<hex>-<hex>-<hex>"); anything else is refused up front.
const BOOKMARK = /^[0-9A-Za-z-]{1,256}$/;

/** A request's D1 sessions, made on first use: most writes never read D1. */
export class RequestD1 {
  #replica: D1DatabaseSession | undefined;
  #primary: D1DatabaseSession | undefined;
  #replicaFailed = false;

  constructor(
    private readonly db: D1Database,
    /** The bookmark the client sent. */
    readonly given: string | undefined,
  ) {}

  /** For reads: the nearest replica, at least as fresh as the client's bookmark. */
  get replica(): D1DatabaseSession {
    this.#replica ??= this.db.withSession(this.given ?? "first-unconstrained");
    return this.#replica;
  }

  /** For writes, and for reads the replica session could not serve. */
  get primary(): D1DatabaseSession {
    this.#primary ??= this.db.withSession("first-primary");
    return this.#primary;
  }

  /** The replica session failed (a bookmark D1 could not serve): its bookmark is not one to hand back. */
  replicaFailed(): void {
    this.#replicaFailed = true;
  }

  bookmark(): string | null {
    return newerBookmark(this.#replicaFailed ? null : this.#replica?.getBookmark(), this.#primary?.getBookmark());
  }
}

export const d1Session: MiddlewareHandler<AppEnv> = async (c, next) => {
  const given = c.req.header(BOOKMARK_HEADER);
  if (given !== undefined && !BOOKMARK.test(given)) {
    throw invalid([{ field: BOOKMARK_HEADER, message: "must be a bookmark this API answered with" }]);
  }
  const d1 = new RequestD1(c.env.DB, given);
  c.set("d1", d1);
  await next();
  const latest = newerBookmark(d1.bookmark(), c.get("bookmark"));
  if (latest) c.res.headers.set(BOOKMARK_HEADER, latest);
  // A cached answer is only as fresh as the bookmark it was read at.
  c.res.headers.append("Vary", BOOKMARK_HEADER);
};
