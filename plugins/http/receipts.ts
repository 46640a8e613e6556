/**
 * Outcomes of asynchronous publishes: kept for `receiptTtlMs`, readable by id, and pushed to a
 * callback URL when one was given.
 *
 * @module
 */
import type { Logger, Reject } from "../../mod.ts";
import { type Problem, problemJson } from "./problems.ts";

/** One receipt as GET /api/v1/receipts/{id} shows it. */
export interface Receipt {
  id: string;
  status: "pending" | "confirmed" | "failed";
  /** What a synchronous publish would have answered. */
  error?: Problem;
}

/** The receipt book. */
export class Receipts {
  readonly #byId = new Map<string, { receipt: Receipt; at: number }>();
  readonly #ttlMs: number;
  readonly #log: Logger;
  readonly #sweep: ReturnType<typeof setInterval>;

  constructor(ttlMs: number, log: Logger) {
    this.#ttlMs = ttlMs;
    this.#log = log;
    this.#sweep = setInterval(() => {
      const old = Date.now() - this.#ttlMs;
      for (const [id, r] of this.#byId) if (r.at < old) this.#byId.delete(id);
    }, Math.min(ttlMs, 60_000));
  }

  /** Follows a publish; `callback` (http or https) receives the final receipt as a JSON POST. */
  track(id: string, done: Promise<void | Reject>, callback?: string): void {
    const entry = { receipt: { id, status: "pending" } as Receipt, at: Date.now() };
    this.#byId.set(id, entry);
    done.then(
      (r) => {
        entry.receipt = r
          ? { id, status: "failed", error: problemJson(r.code, r.reason) }
          : { id, status: "confirmed" };
      },
      (e) => {
        entry.receipt = { id, status: "failed", error: problemJson("server_busy", String(e)) };
      },
    ).then(() => {
      if (!callback || !/^https?:\/\//.test(callback)) return;
      return fetch(callback, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(entry.receipt),
      })
        .then((res) => res.body?.cancel())
        .catch((e) => this.#log.warn(`receipt callback ${callback} failed`, { error: e }));
    });
  }

  get(id: string): Receipt | undefined {
    return this.#byId.get(id)?.receipt;
  }

  stop(): void {
    clearInterval(this.#sweep);
  }
}
