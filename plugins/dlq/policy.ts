/**
 * Dead-letter policies per destination pattern: where a dead letter goes (one DLQ per destination, a
 * shared DLQ, or nowhere), which reasons are kept, and the redelivery limit and backoff the core
 * applies before a message is dead-lettered for too many redeliveries.
 *
 * @module
 */
import { matchesPattern as matches, type Message } from "../../mod.ts";

/** Backoff between redeliveries: initialDelayMs x multiplier^(n-1), at most maxDelayMs. */
export interface Backoff {
  initialDelayMs: number;
  multiplier: number;
  maxDelayMs: number;
}

/** One policy; entries in options.policies override the default field by field. */
export interface DeadLetterPolicy {
  /** "individual": `<prefix><queue>`; "shared": one queue `sharedQueue`; "discard": drop dead letters. */
  strategy: "individual" | "shared" | "discard";
  prefix: string;
  sharedQueue: string;
  /** What happens to expired messages. */
  expired: "dlq" | "discard";
  /** What happens to messages a consumer rejected without requeue. */
  rejected: "dlq" | "discard";
  /** Dead-letter non-persistent messages too (ActiveMQ processNonPersistent). */
  nonPersistent: boolean;
  /** Redeliveries allowed before a message is dead-lettered; -1 = unlimited. */
  maxRedeliveries: number;
  redelivery: Backoff;
  /** Whether DLQ copies are persistent: "keep" the original's mode, or always true. */
  persistence: "keep" | "persistent";
}

/** A policy that applies to destinations matching `pattern` ("orders.>", "*.audit"). */
export interface PatternPolicy extends Partial<DeadLetterPolicy> {
  pattern: string;
}

/** The plugin's options (plugin.json schema, defaults filled). */
export interface DlqOptions {
  default: DeadLetterPolicy;
  policies: PatternPolicy[];
  /** Dead letters of non-durable subscriptions ($tmp queues): "discard" or "dlq". */
  temporary: "dlq" | "discard";
}

/** The built-in default policy (used for fields options.default leaves out). */
export const DEFAULT_POLICY: DeadLetterPolicy = Object.freeze({
  strategy: "individual",
  prefix: "DLQ.",
  sharedQueue: "DLQ",
  expired: "dlq",
  rejected: "dlq",
  nonPersistent: true,
  maxRedeliveries: 6,
  redelivery: Object.freeze({ initialDelayMs: 0, multiplier: 2, maxDelayMs: 60_000 }),
  persistence: "keep",
}) as DeadLetterPolicy;

/** Resolves the policy for a queue/destination; cached per name, rebuilt when options change. */
export class PolicyTable {
  readonly #default: DeadLetterPolicy;
  readonly #rules: { pattern: string; policy: DeadLetterPolicy }[];
  readonly temporary: "dlq" | "discard";
  readonly #cache = new Map<string, DeadLetterPolicy>();

  constructor(opts: Partial<DlqOptions>) {
    this.#default = merge(DEFAULT_POLICY, opts.default ?? {});
    this.#rules = (opts.policies ?? []).map(({ pattern, ...p }) => ({
      pattern,
      policy: merge(this.#default, p),
    }));
    this.temporary = opts.temporary ?? "discard";
  }

  /** The policy for a message held in `queue`: the first pattern matching the queue or the destination. */
  for(queue: string, m: Message): DeadLetterPolicy {
    const key = queue === m.destination ? queue : `${queue}\u0000${m.destination}`;
    let p = this.#cache.get(key);
    if (p === undefined) {
      p = this.#default;
      for (const r of this.#rules) {
        if (matches(r.pattern, queue) || matches(r.pattern, m.destination)) {
          p = r.policy;
          break;
        }
      }
      if (this.#cache.size >= 10_000) this.#cache.clear();
      this.#cache.set(key, p);
    }
    return p;
  }

  /** True when `queue` is a dead-letter queue of some policy (its dead letters are dropped, not looped). */
  isDlq(queue: string): boolean {
    if (isDlqOf(this.#default, queue)) return true;
    for (const r of this.#rules) if (isDlqOf(r.policy, queue)) return true;
    return false;
  }

  /** Every prefix and shared queue name, for listing DLQs. */
  names(): { prefixes: string[]; shared: string[] } {
    const all = [this.#default, ...this.#rules.map((r) => r.policy)].filter((p) => p.strategy !== "discard");
    return {
      prefixes: [...new Set(all.filter((p) => p.strategy === "individual").map((p) => p.prefix))],
      shared: [...new Set(all.filter((p) => p.strategy === "shared").map((p) => p.sharedQueue))],
    };
  }
}

function isDlqOf(p: DeadLetterPolicy, queue: string): boolean {
  return queue === p.sharedQueue || (p.prefix !== "" && queue.startsWith(p.prefix));
}

function merge(base: DeadLetterPolicy, over: Partial<DeadLetterPolicy>): DeadLetterPolicy {
  const out = { ...base };
  for (const k of Object.keys(over) as (keyof DeadLetterPolicy)[]) {
    if (over[k] !== undefined) (out as Record<string, unknown>)[k] = over[k];
  }
  out.redelivery = { ...base.redelivery, ...over.redelivery };
  return Object.freeze(out);
}

/** The delay before the n-th redelivery (n >= 1). */
export function backoffDelay(b: Backoff, n: number): number {
  if (b.initialDelayMs <= 0) return 0;
  const d = b.initialDelayMs * Math.pow(b.multiplier, Math.max(0, n - 1));
  return Math.min(Number.isFinite(d) ? d : b.maxDelayMs, b.maxDelayMs);
}
