/**
 * A FIFO of entries ordered by sequence number, with O(1) push/shift, removal in place by tombstone,
 * and ordered re-insertion for redeliveries (which are rare and usually land at the front).
 *
 * @module
 */

/** Anything with an increasing sequence number. */
export interface Sequenced {
  readonly seq: number;
}

/** The ordered list behind one priority level of a queue. */
export class SeqDeque<T extends Sequenced> {
  #items: (T | undefined)[] = [];
  #head = 0;
  #size = 0;
  // Open iterators: positions they hand out must stay valid, so no compaction meanwhile.
  #iterating = 0;

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    const n = this.#items.length;
    if (n > this.#head && (this.#items[n - 1]?.seq ?? -1) > item.seq) {
      this.insert(item);
      return;
    }
    this.#items.push(item);
    this.#size++;
  }

  /** Puts an entry back in sequence order (redelivery). Not while iterating: positions would move. */
  insert(item: T): void {
    if (this.#iterating !== 0) throw new Error("SeqDeque.insert() while iterating");
    const items = this.#items;
    if (this.#head > 0 && (this.#size === 0 || firstLive(items, this.#head).seq > item.seq)) {
      items[--this.#head] = item;
      this.#size++;
      return;
    }
    let lo = this.#head, hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = seqAt(items, mid, hi);
      if (s < item.seq) lo = mid + 1;
      else hi = mid;
    }
    items.splice(lo, 0, item);
    this.#size++;
  }

  /** The first live entry, without removing it. */
  peek(): T | undefined {
    this.#skipHoles();
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    this.#skipHoles();
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    this.#size--;
    this.#maybeCompact();
    return item;
  }

  /** Removes `item` (found by its seq); false when it is not here. */
  remove(item: T): boolean {
    const items = this.#items;
    let lo = this.#head, hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqAt(items, mid, hi) < item.seq) lo = mid + 1;
      else hi = mid;
    }
    while (lo < items.length && items[lo] === undefined) lo++;
    if (items[lo] !== item) return false;
    this.removeAt(lo);
    return true;
  }

  /** Removes the entry at a position handed out by {@linkcode SeqDeque.entries}. */
  removeAt(index: number): void {
    if (this.#items[index] === undefined) return;
    this.#items[index] = undefined;
    this.#size--;
    if (index === this.#head) this.#skipHoles();
    this.#maybeCompact();
  }

  /** Live entries with their positions, oldest first; positions stay valid until the next mutation other than removeAt. */
  *entries(): IterableIterator<[number, T]> {
    this.#iterating++;
    try {
      const items = this.#items;
      for (let i = this.#head; i < items.length; i++) {
        const it = items[i];
        if (it !== undefined) yield [i, it];
      }
    } finally {
      // Entries removed during the walk left holes at the front: step over them now, or every later
      // walk would start by scanning them again.
      if (--this.#iterating === 0) {
        this.#skipHoles();
        this.#maybeCompact();
      }
    }
  }

  /** Removes every entry and returns them. */
  clear(): T[] {
    const out: T[] = [];
    for (const [, it] of this.entries()) out.push(it);
    this.#items = [];
    this.#head = 0;
    this.#size = 0;
    return out;
  }

  #skipHoles() {
    if (this.#iterating !== 0) return;
    const items = this.#items;
    while (this.#head < items.length && items[this.#head] === undefined) this.#head++;
    if (this.#head === items.length && this.#head > 0) {
      this.#items = [];
      this.#head = 0;
    }
  }

  #maybeCompact() {
    if (this.#iterating !== 0) return;
    const items = this.#items;
    if (this.#head > 1024 && this.#head * 2 > items.length) {
      this.#items = items.slice(this.#head).filter((x) => x !== undefined);
      this.#head = 0;
    } else if (items.length > 1024 && this.#size * 4 < items.length - this.#head) {
      this.#items = items.slice(this.#head).filter((x) => x !== undefined);
      this.#head = 0;
    }
  }
}

function firstLive<T extends Sequenced>(items: (T | undefined)[], from: number): T {
  for (let i = from; i < items.length; i++) {
    const it = items[i];
    if (it !== undefined) return it;
  }
  throw new Error("unreachable: no live entry");
}

// Sequence number at or after `i` (holes take the next live seq) so binary search stays ordered.
function seqAt<T extends Sequenced>(items: (T | undefined)[], i: number, end: number): number {
  for (let j = i; j < end; j++) {
    const it = items[j];
    if (it !== undefined) return it.seq;
  }
  return Infinity;
}
