/**
 * What to do per destination pattern: seal with a key, sign with a key, add an SM3 digest, and who may
 * read. The first rule whose pattern matches a destination applies. Lookups are cached per
 * destination, so the hot path does one Map lookup instead of matching every pattern.
 *
 * @module
 */
import { matchesPattern, type Principal } from "../../mod.ts";

/** One rule as configured in broker.json. */
export interface RuleConfig {
  /** Destination pattern in the core form ("payments.>"). */
  pattern: string;
  /** Id of the symmetric key to seal with; its cipher comes from the key. */
  seal?: string;
  /** Id of the signing key. */
  sign?: string;
  /** Add an SM3 digest of the plain body (`x-sm3`) and check it on delivery. */
  digest?: boolean;
  /** Who may receive the plain body; absent = every consumer the ACL lets subscribe. */
  readers?: { users?: string[]; groups?: string[] };
}

/** A rule in force. `seal` may change at run time (key rotation). */
export interface Rule {
  readonly pattern: string;
  seal?: string;
  readonly sign?: string;
  readonly digest: boolean;
  readonly readers?: { readonly users: ReadonlySet<string>; readonly groups: readonly string[] };
}

const CACHE_MAX = 4096;

/** First-match rule table with a bounded per-destination cache. */
export class RuleTable {
  readonly rules: readonly Rule[];
  readonly #cache = new Map<string, Rule | null>();

  constructor(configs: readonly RuleConfig[]) {
    this.rules = configs.map((c) => ({
      pattern: c.pattern,
      seal: c.seal,
      sign: c.sign,
      digest: c.digest === true,
      readers: c.readers && { users: new Set(c.readers.users ?? []), groups: c.readers.groups ?? [] },
    }));
  }

  /** The rule for `destination`, or undefined. */
  for(destination: string): Rule | undefined {
    let r = this.#cache.get(destination);
    if (r === undefined) {
      r = this.rules.find((x) => matchesPattern(x.pattern, destination)) ?? null;
      if (this.#cache.size >= CACHE_MAX) this.#cache.clear();
      this.#cache.set(destination, r);
    }
    return r ?? undefined;
  }

  /** Whether any rule restricts readers (the subscribe hook is only needed then). */
  get restrictsReaders(): boolean {
    return this.rules.some((r) => r.readers !== undefined);
  }
}

/** Whether `p` may read plain bodies under `rule`. */
export function isReader(rule: Rule, p: Principal | undefined): boolean {
  if (!rule.readers) return true;
  if (!p) return false;
  return rule.readers.users.has(p.id) || rule.readers.groups.some((g) => p.groups?.includes(g) ?? false);
}
