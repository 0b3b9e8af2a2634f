import { unavailable } from "./problem";

/** A read of the read model (D1): D1 failing is a 503 (nothing was changed), never a 500. */
export async function read<T>(query: PromiseLike<T>): Promise<T> {
  try {
    return await query;
  } catch (err) {
    console.error(JSON.stringify({ level: "error", message: "read model query failed", error: String(err) }));
    throw unavailable("The read model is unavailable; nothing was changed. Retry shortly.");
  }
}
