import { expect, it } from "vitest";

// wrangler.toml aliases "zod" to build/zod-lean.js (made on install) so the
// worker bundle leaves out zod's locale packs, its schema compiler and its
// JSON Schema importer. It must stay all of zod else.
const LEFT_OUT = ["locales", "compile", "withParser", "INVALID", "ZodCompileAsyncError", "ZodCompileUnsupportedError"];

it("the lean zod the worker is built with exports everything zod does but its locales, compiler and importer", async () => {
  // @ts-expect-error: generated JavaScript, untyped
  const lean = await import("../../build/zod-lean.js");
  const zod = await import("zod");
  const names = (m: object) => Object.keys(m).sort();
  expect(names(lean)).toEqual(names(zod).filter((n) => ![...LEFT_OUT, "fromJSONSchema"].includes(n)));
  expect(names(lean.core)).toEqual(names(zod.core).filter((n) => ![...LEFT_OUT, "compileFn"].includes(n)));
  expect(lean.z.string).toBe(zod.z.string); // the same classes, not copies
  expect(lean.z.string().safeParse(5).error?.issues[0]?.message).toBe(
    "Invalid input: expected string, received number",
  );
});
