import { invalid } from "./problem";

// Opaque cursors of newest-first pages: the last row's (created_at, id), as base64url JSON.

export const cursorOf = (createdAt: string, id: string | number) =>
  btoa(JSON.stringify([createdAt, id]))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replaceAll("=", "");

export function afterCursor<Id extends string | number>(cursor: string, id: "string" | "number"): [string, Id] {
  try {
    const value = JSON.parse(atob(cursor.replaceAll("-", "+").replaceAll("_", "/"))) as unknown;
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && typeof value[1] === id) {
      return value as [string, Id];
    }
  } catch {}
  throw invalid([{ field: "cursor", message: "must be a cursor this API answered with" }]);
}
