import assert from "node:assert/strict";
import { smallest, type Timed, TimerHeap } from "../../../plugins/delay/heap.ts";

interface Item extends Timed {
  name: string;
}
let seq = 0;
const item = (at: number, name = String(at)): Item => ({ at, seq: seq++, index: -1, name });

Deno.test("TimerHeap pops in due order, ties in arrival order", () => {
  const h = new TimerHeap<Item>();
  const items = [item(5, "a"), item(1), item(5, "b"), item(3), item(0), item(5, "c"), item(2)];
  for (const it of items) h.push(it);
  const out: string[] = [];
  for (let it = h.pop(); it; it = h.pop()) out.push(it.name);
  assert.deepEqual(out, ["0", "1", "2", "3", "a", "b", "c"]);
  assert.equal(h.size, 0);
});

Deno.test("TimerHeap.remove() takes an item from anywhere and keeps the order of the rest", () => {
  const h = new TimerHeap<Item>();
  const rand = mulberry(7);
  const all: Item[] = [];
  for (let i = 0; i < 2000; i++) {
    const it = item(Math.floor(rand() * 500));
    all.push(it);
    h.push(it);
  }
  const removed = new Set<Item>();
  for (let i = 0; i < all.length; i += 3) {
    assert.ok(h.remove(all[i]));
    assert.equal(all[i].index, -1);
    assert.equal(h.remove(all[i]), false, "removing twice");
    removed.add(all[i]);
  }
  const expected = all.filter((x) => !removed.has(x)).sort((a, b) => a.at - b.at || a.seq - b.seq);
  const got: Item[] = [];
  for (let it = h.pop(); it; it = h.pop()) got.push(it);
  assert.deepEqual(got.map((x) => x.seq), expected.map((x) => x.seq));
});

Deno.test("smallest() returns one page in due order without sorting everything", () => {
  const rand = mulberry(3);
  const all = Array.from({ length: 5000 }, () => item(Math.floor(rand() * 10_000)));
  const sorted = [...all].sort((a, b) => a.at - b.at || a.seq - b.seq);
  assert.deepEqual(smallest(all, 0, 10).map((x) => x.seq), sorted.slice(0, 10).map((x) => x.seq));
  assert.deepEqual(smallest(all, 100, 25).map((x) => x.seq), sorted.slice(100, 125).map((x) => x.seq));
  assert.deepEqual(smallest(all, 4990, 100).length, 10);
  assert.deepEqual(smallest([], 0, 10), []);
});

function mulberry(a: number): () => number {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
