/**
 * Subscription matching: a trie of levels with the wildcard children kept outside the literal map,
 * and a bounded cache of results per literal name, invalidated by a generation counter (the NATS
 * sublist design). Fan-out to N subscribers costs O(N), not O(all subscriptions).
 *
 * @module
 */
import { ONE, REST, SEPARATOR } from "./address.ts";

class TrieNode<T> {
  readonly literal = new Map<string, TrieNode<T>>();
  one: TrieNode<T> | undefined;
  rest: T[] | undefined;
  values: T[] | undefined;

  get empty(): boolean {
    return this.literal.size === 0 && this.one === undefined && !this.rest?.length && !this.values?.length;
  }
}

const EMPTY: readonly never[] = Object.freeze([]);

/**
 * Maps patterns to values and names to every value whose pattern matches.
 *
 * @example
 * ```ts
 * const m = new Matcher<string>();
 * m.add("a.*", "s1");
 * m.add("a.>", "s2");
 * m.match("a.b"); // ["s1", "s2"]
 * ```
 */
export class Matcher<T> {
  readonly #root = new TrieNode<T>();
  readonly #cache = new Map<string, readonly T[]>();
  readonly #cacheSize: number;
  #size = 0;
  #patterns = new Map<string, T[]>();

  constructor(opts: { cacheSize?: number } = {}) {
    this.#cacheSize = opts.cacheSize ?? 4096;
  }

  get size(): number {
    return this.#size;
  }

  /** Adds `value` under `pattern`; the same pair twice counts once. */
  add(pattern: string, value: T): void {
    let node = this.#root;
    const levels = pattern.split(SEPARATOR);
    for (let i = 0; i < levels.length; i++) {
      const l = levels[i];
      if (l === REST && i === levels.length - 1) {
        node.rest ??= [];
        if (node.rest.includes(value)) return;
        node.rest.push(value);
        this.#added(pattern, value);
        return;
      }
      if (l === ONE) node = node.one ??= new TrieNode<T>();
      else {
        let next = node.literal.get(l);
        if (!next) {
          next = new TrieNode<T>();
          node.literal.set(l, next);
        }
        node = next;
      }
    }
    node.values ??= [];
    if (node.values.includes(value)) return;
    node.values.push(value);
    this.#added(pattern, value);
  }

  /** Removes `value` from `pattern`; prunes empty nodes. */
  remove(pattern: string, value: T): boolean {
    const levels = pattern.split(SEPARATOR);
    const path: [TrieNode<T>, string][] = [];
    let node: TrieNode<T> | undefined = this.#root;
    let removed = false;
    for (let i = 0; i < levels.length && node; i++) {
      const l = levels[i];
      if (l === REST && i === levels.length - 1) {
        removed = removeFrom(node.rest, value);
        break;
      }
      path.push([node, l]);
      node = l === ONE ? node.one : node.literal.get(l);
      if (node && i === levels.length - 1) removed = removeFrom(node.values, value);
    }
    if (!removed) return false;
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, l] = path[i];
      const child = l === ONE ? parent.one : parent.literal.get(l);
      if (!child || !child.empty) break;
      if (l === ONE) parent.one = undefined;
      else parent.literal.delete(l);
    }
    this.#size--;
    const list = this.#patterns.get(pattern);
    if (list) {
      removeFrom(list, value);
      if (list.length === 0) this.#patterns.delete(pattern);
    }
    this.#cache.clear();
    return true;
  }

  /** Every value whose pattern matches `name`, each once. Callers must not mutate the result. */
  match(name: string): readonly T[] {
    const hit = this.#cache.get(name);
    if (hit !== undefined) return hit;
    const out: T[] = [];
    const levels = name.split(SEPARATOR);
    collect(this.#root, levels, 0, out, levels[0].charCodeAt(0) === 36 /* $ */);
    let result: readonly T[];
    if (out.length === 0) result = EMPTY;
    else if (out.length === 1) result = Object.freeze(out);
    else result = Object.freeze([...new Set(out)]);
    if (this.#cache.size >= this.#cacheSize) this.#cache.clear();
    this.#cache.set(name, result);
    return result;
  }

  /** Every pattern with its values, for the console. */
  patterns(): IterableIterator<[string, readonly T[]]> {
    return this.#patterns.entries();
  }

  #added(pattern: string, value: T) {
    this.#size++;
    const list = this.#patterns.get(pattern);
    if (list) list.push(value);
    else this.#patterns.set(pattern, [value]);
    this.#cache.clear();
  }
}

function collect<T>(node: TrieNode<T>, levels: string[], i: number, out: T[], dollar: boolean): void {
  const wild = !(dollar && i === 0);
  if (wild && node.rest) { for (const v of node.rest) out.push(v); }
  if (i === levels.length) {
    if (node.values) { for (const v of node.values) out.push(v); }
    return;
  }
  const lit = node.literal.get(levels[i]);
  if (lit) collect(lit, levels, i + 1, out, dollar);
  if (wild && node.one) collect(node.one, levels, i + 1, out, dollar);
}

function removeFrom<T>(list: T[] | undefined, value: T): boolean {
  if (!list) return false;
  const i = list.indexOf(value);
  if (i < 0) return false;
  list.splice(i, 1);
  return true;
}
