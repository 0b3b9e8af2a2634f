import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ApiError, type FieldError, invalid } from "./problem";

export const MAX_BODY_BYTES = 16 * 1024;

export type Issue = { path: PropertyKey[]; message: string; keys?: string[] };

/** zod issues as the problem's list of failing fields. */
export function fieldErrors(issues: Issue[]): FieldError[] {
  return issues.flatMap((issue) => {
    const at = issue.path.map(String).join(".");
    // An unknown key is reported under its own name.
    if (issue.keys?.length) {
      return issue.keys.map((key) => ({ field: at ? `${at}.${key}` : key, message: "unknown field" }));
    }
    return [{ field: at || "body", message: issue.message }];
  });
}

/**
 * Numbers JSON.parse would silently reshape: exponents (1e3) and negative
 * zero. The reviver's `source` is the number as written.
 */
function reshapedNumbers(text: string): FieldError[] {
  const found: FieldError[] = [];
  try {
    JSON.parse(text, (key, value, context?: { source?: string }) => {
      if (typeof value === "number" && context?.source && /[eE]|^-0(?:\.0*)?$/.test(context.source)) {
        found.push({ field: key, message: "write numbers in plain decimal notation" });
      }
      return value;
    });
  } catch {
    throw invalid([{ field: "body", message: "malformed JSON" }]);
  }
  return found;
}

export const tooLarge = (maxSize: number) =>
  new ApiError(413, "payload_too_large", `The body must be at most ${maxSize} bytes.`);

const limitBody = (maxSize: number) =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw tooLarge(maxSize);
    },
  });

/** Guards a JSON endpoint before its body is validated: media type, size (16 KiB unless given), syntax. */
export const jsonBodyOf =
  (maxSize = MAX_BODY_BYTES): MiddlewareHandler =>
  async (c, next) => {
    const type = c.req.header("Content-Type") ?? "";
    if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i.test(type)) {
      throw new ApiError(415, "unsupported_media_type", "Send the body as application/json.");
    }
    return limitBody(maxSize)(c, async () => {
      // Hono caches the text, so the validator after this does not read the body again.
      const reshaped = reshapedNumbers(await c.req.text());
      if (reshaped.length > 0) throw invalid(reshaped);
      await next();
    });
  };

export const jsonBody = jsonBodyOf();
