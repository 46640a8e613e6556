/**
 * A binary min-heap of timed items ordered by (at, seq). Each item remembers its index, so
 * cancelling one is O(log n) and leaves no tombstones behind: a million scheduled messages cost one
 * array slot and one timer between them, not a million timers.
 *
 * @module
 */

/** Something with a due time; `seq` breaks ties in arrival order. */
export interface Timed {
  at: number;
  readonly seq: number;
  /** Position in the heap; -1 when not in it. Maintained by {@linkcode TimerHeap}. */
  index: number;
}

/** True when `a` is due before `b`. */
function before(a: Timed, b: Timed): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Min-heap by due time, then arrival. */
export class TimerHeap<T extends Timed> {
  #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  /** The earliest item, or undefined when empty. */
  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const items = this.#items;
    item.index = items.length;
    items.push(item);
    this.#up(item.index);
  }

  /** Removes and returns the earliest item. */
  pop(): T | undefined {
    const items = this.#items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    if (items.length !== 0) {
      items[0] = last;
      last.index = 0;
      this.#down(0);
    }
    top.index = -1;
    return top;
  }

  /** Removes `item` wherever it is; false when it is not in the heap. */
  remove(item: T): boolean {
    const i = item.index;
    const items = this.#items;
    if (i < 0 || i >= items.length || items[i] !== item) return false;
    const last = items.pop()!;
    if (i !== items.length) {
      items[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
    item.index = -1;
    return true;
  }

  /** Every item, in heap (not due) order. */
  values(): readonly T[] {
    return this.#items;
  }

  clear(): void {
    for (const it of this.#items) it.index = -1;
    this.#items = [];
  }

  #up(i: number): void {
    const items = this.#items;
    const item = items[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p];
      if (!before(item, parent)) break;
      items[i] = parent;
      parent.index = i;
      i = p;
    }
    items[i] = item;
    item.index = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const item = items[i];
    while (true) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(items[r], items[l]) ? r : l;
      const child = items[c];
      if (!before(child, item)) break;
      items[i] = child;
      child.index = i;
      i = c;
    }
    items[i] = item;
    item.index = i;
  }
}

/**
 * The `k` smallest of `items` in due order, after skipping `offset`; O(n log k) rather than a full
 * sort, so listing the first page of a million scheduled messages stays cheap.
 */
export function smallest<T extends Timed>(items: Iterable<T>, offset: number, limit: number): T[] {
  const k = offset + limit;
  if (k <= 0) return [];
  const best: T[] = []; // sorted ascending, at most k long
  for (const it of items) {
    if (best.length === k && !before(it, best[k - 1])) continue;
    let lo = 0, hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(best[mid], it)) lo = mid + 1;
      else hi = mid;
    }
    best.splice(lo, 0, it);
    if (best.length > k) best.pop();
  }
  return best.slice(offset);
}
