import assert from "node:assert/strict";
import { SeqDeque } from "../../broker/deque.ts";

const item = (seq: number) => ({ seq });

Deno.test("SeqDeque.remove() takes out the very item by its seq, over holes, and nothing it does not hold", () => {
  const d = new SeqDeque<{ seq: number }>();
  const items = Array.from({ length: 2000 }, (_, i) => item(i * 2));
  for (const it of items) d.push(it);
  // Holes left by removals in place, at the front and in the middle.
  for (const [pos, it] of d.entries()) if (it.seq < 100 || (it.seq > 1000 && it.seq < 1200)) d.removeAt(pos);
  assert.equal(d.remove(items[10]), false, "removed already");
  assert.equal(d.remove(item(items[700].seq)), false, "another item with the same seq");
  assert.equal(d.remove(item(1001)), false, "a seq it never held");
  assert.equal(d.remove(items[700]), true);
  assert.equal(d.remove(items[700]), false);
  assert.equal(d.remove(items[1999]), true);
  assert.equal(d.remove(items[50]), true, "the first live item");
  const left = [...d.entries()].map(([, it]) => it.seq);
  assert.equal(left.length, 2000 - 50 - 99 - 3);
  assert.ok(!left.includes(1400) && !left.includes(3998) && !left.includes(100));
  assert.deepEqual(left, [...left].sort((a, b) => a - b));
  assert.equal(d.size, left.length);
});
