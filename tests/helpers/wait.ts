/**
 * Waiting on events with a timeout, never on time alone.
 *
 * @module
 */

/** Resolves when `check()` returns a truthy value; rejects with `what` after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 5000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  while (true) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 20);
  }
}

/** A promise with its resolve function exposed, for events that arrive through callbacks. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void, reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Rejects after `ms` unless `p` settles first. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

/** Collects values pushed by a callback and lets a test await the n-th one. */
export class Collector<T> {
  readonly items: T[] = [];
  #waiters: { n: number; resolve: () => void }[] = [];

  push = (v: T): void => {
    this.items.push(v);
    this.#waiters = this.#waiters.filter((w) => {
      if (this.items.length >= w.n) {
        w.resolve();
        return false;
      }
      return true;
    });
  };

  /** Resolves once `n` items have arrived. */
  async atLeast(n: number, timeoutMs = 5000): Promise<T[]> {
    if (this.items.length < n) {
      const d = deferred();
      this.#waiters.push({ n, resolve: d.resolve });
      await within(d.promise, timeoutMs, `${n} items (have ${this.items.length})`);
    }
    return this.items;
  }
}
