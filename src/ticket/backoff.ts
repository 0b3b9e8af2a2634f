/** Exponential backoff for calls to D1: 250 ms doubling to 5 s while it keeps failing. */
export class Backoff {
  static readonly MIN_MS = 250;
  static readonly MAX_MS = 5_000;
  #failures = 0;
  /** While D1 is known to fail: when to try it again (epoch ms); 0 otherwise. */
  retryAt = 0;

  get waiting(): boolean {
    return Date.now() < this.retryAt;
  }

  failed(): number {
    this.#failures++;
    const delay = Math.min(Backoff.MIN_MS * 2 ** (this.#failures - 1), Backoff.MAX_MS);
    this.retryAt = Date.now() + delay;
    return delay;
  }

  succeeded(): void {
    this.#failures = 0;
    this.retryAt = 0;
  }
}

export const logError = (message: string, fields: Record<string, unknown>, err: unknown) =>
  console.error(JSON.stringify({ level: "error", message, ...fields, error: String(err) }));

/** A D1 call that has not answered within `ms` counts as failed (it may still land: every write is idempotent). */
export function withTimeout<T>(call: Promise<T>, ms = 5_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`D1 did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([call, late]).finally(() => clearTimeout(timer));
}
