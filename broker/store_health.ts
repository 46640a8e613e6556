/**
 * How the store's writes fare, as the core sees them. Every failure counts in `stats.storeFailures`; only
 * the first of a run is logged, and then the first success after it, so a store that keeps failing (a full
 * disk) neither floods the log nor goes unnoticed.
 *
 * @module
 */
import type { BrokerStats, Logger } from "./api.ts";

/** Counts and reports store write failures and the recovery after them. */
export class StoreHealth {
  readonly #stats: BrokerStats;
  readonly #log: Logger;
  /** Failures since the last write that succeeded. */
  #failing = 0;

  constructor(stats: BrokerStats, log: Logger) {
    this.#stats = stats;
    this.#log = log;
  }

  /** A write went through (a bound function: it is every store promise's fulfilment handler). */
  readonly ok = (): void => {
    if (this.#failing === 0) return;
    this.#log.info(`store writes succeed again, after ${this.#failing} failed`);
    this.#failing = 0;
  };

  /** A write of `what` failed. */
  failed(what: string, error: unknown): void {
    this.#stats.storeFailures++;
    if (this.#failing++ !== 0) return;
    this.#log.error(`cannot store ${what}; persistent publishes fail until the store recovers`, { error });
  }
}
