/**
 * Polling helpers for tests: wait until an (async) condition holds.
 */

export interface WaitForOptions {
  /** Give up after this long (default 30 000 ms; be generous, CI is a loaded 2-core VM). */
  timeoutMs?: number;
  /** Pause between attempts (default 200 ms). */
  intervalMs?: number;
  /** What is being waited for, used in the timeout error ("host 2 to see 3 peers"). */
  what?: string;
}

export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
  constructor(
    message: string,
    /** The last error thrown by the predicate, if its last attempt threw. */
    readonly lastError?: unknown,
  ) {
    super(message, lastError === undefined ? undefined : { cause: lastError });
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `fn` until it returns a truthy value, and returns that value.
 * An attempt that throws counts as "not yet" (the last error is reported on timeout).
 * A single attempt that hangs past the deadline does not stall the wait.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  opts: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 200;
  const what = opts.what ?? 'condition';
  const started = Date.now();
  const deadline = started + timeoutMs;
  let attempts = 0;
  let lastError: unknown;
  let lastValue: unknown;
  for (;;) {
    attempts++;
    const remaining = deadline - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const expired = Symbol('expired');
    try {
      const result = await Promise.race([
        Promise.resolve().then(fn),
        new Promise<typeof expired>((resolve) => {
          timer = setTimeout(() => resolve(expired), Math.max(remaining, 0));
        }),
      ]);
      if (result !== expired) {
        lastError = undefined;
        lastValue = result;
        if (result) return result as NonNullable<T>;
      }
    } catch (err) {
      lastError = err;
    } finally {
      clearTimeout(timer);
    }
    if (Date.now() >= deadline) {
      const last =
        lastError !== undefined
          ? `; last attempt threw: ${lastError instanceof Error ? lastError.message : String(lastError)}`
          : `; last value: ${describe(lastValue)}`;
      throw new WaitTimeoutError(
        `Timed out after ${Date.now() - started} ms (${attempts} attempts) waiting for ${what}${last}`,
        lastError,
      );
    }
    await sleep(Math.min(intervalMs, Math.max(deadline - Date.now(), 0)));
  }
}

function describe(v: unknown): string {
  try {
    const s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
    return s.length > 200 ? `${s.slice(0, 200)}…` : s;
  } catch {
    return String(v);
  }
}
