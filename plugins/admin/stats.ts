/**
 * Node statistics for the console: totals now, and a one-second sample kept for the last five minutes in
 * a ring buffer. The sampling timer also measures event-loop lag (how late it fires).
 *
 * @module
 */
import type { BrokerApi } from "../../mod.ts";

/** Totals and rates now. */
export interface NodeStats {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  connections: number;
  destinations: number;
  pending: number;
  /** Messages in per second over the last sample. */
  enqueueRate: number;
  /** Messages out per second over the last sample. */
  dequeueRate: number;
  /** Store writes that failed since start (publishes refused, acks retried): the disk wants a look. */
  storeFailures: number;
}

/** One point of the time series. */
export interface SeriesPoint {
  t: number;
  messagesIn: number;
  messagesOut: number;
  enqueueRate: number;
  dequeueRate: number;
  connections: number;
  pending: number;
}

export const INTERVAL_MS = 1000;
const POINTS = 300;

function pendingOf(dests: readonly { pending: number }[]): number {
  let n = 0;
  for (const d of dests) n += d.pending;
  return n;
}

/** Samples the broker once a second while it runs. */
export class StatsSampler {
  readonly #broker: BrokerApi;
  readonly #ring: (SeriesPoint | undefined)[] = new Array(POINTS);
  #next = 0;
  #count = 0;
  #last: SeriesPoint | undefined;
  #lagMs = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #listeners = new Set<(p: SeriesPoint) => void>();

  constructor(broker: BrokerApi) {
    this.#broker = broker;
  }

  start(): void {
    this.#sample();
    this.#schedule(Date.now() + INTERVAL_MS);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#listeners.clear();
  }

  /** Called after every sample; returns the unsubscribe function. */
  onSample(fn: (p: SeriesPoint) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** How late the last sampling timer fired, in ms. */
  get eventLoopLagMs(): number {
    return this.#lagMs;
  }

  /** The totals now, rates from the last sample. */
  current(): NodeStats {
    const b = this.#broker, s = b.stats;
    const dests = b.destinations();
    return {
      messagesIn: s.messagesIn,
      messagesOut: s.messagesOut,
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      connections: b.connections().length,
      destinations: dests.length,
      pending: pendingOf(dests),
      enqueueRate: this.#last?.enqueueRate ?? 0,
      dequeueRate: this.#last?.dequeueRate ?? 0,
      storeFailures: s.storeFailures,
    };
  }

  /** The samples, oldest first. */
  series(): SeriesPoint[] {
    const out: SeriesPoint[] = [];
    for (let i = 0; i < this.#count; i++) {
      out.push(this.#ring[(this.#next - this.#count + i + POINTS) % POINTS]!);
    }
    return out;
  }

  #schedule(due: number): void {
    this.#timer = setTimeout(() => {
      const now = Date.now();
      this.#lagMs = Math.max(0, now - due);
      this.#sample();
      // Aim at the next whole interval so lag does not accumulate into the series' spacing.
      this.#schedule(Math.max(due + INTERVAL_MS, now + 1));
    }, Math.max(0, due - Date.now()));
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  #sample(): void {
    const b = this.#broker, t = Date.now();
    const prev = this.#last;
    const secs = prev ? Math.max(0.001, (t - prev.t) / 1000) : 1;
    const p: SeriesPoint = {
      t,
      messagesIn: b.stats.messagesIn,
      messagesOut: b.stats.messagesOut,
      enqueueRate: prev ? Math.round((b.stats.messagesIn - prev.messagesIn) / secs) : 0,
      dequeueRate: prev ? Math.round((b.stats.messagesOut - prev.messagesOut) / secs) : 0,
      connections: b.connections().length,
      pending: pendingOf(b.destinations()),
    };
    this.#last = p;
    this.#ring[this.#next] = p;
    this.#next = (this.#next + 1) % POINTS;
    if (this.#count < POINTS) this.#count++;
    for (const fn of this.#listeners) fn(p);
  }
}
