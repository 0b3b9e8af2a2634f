import { Validator } from "@seriousme/openapi-schema-validator";
import { expect, inject, it } from "vitest";

it("serves an OpenAPI 3.1 document that a real validator accepts", async () => {
  const doc = (await (await fetch(`${inject("apiUrl")}/openapi.json`)).json()) as { openapi: string };
  expect(doc.openapi).toBe("3.1.0");
  const result = await new Validator().validate(doc);
  expect(result.errors ?? []).toEqual([]);
  expect(result.valid).toBe(true);
});
