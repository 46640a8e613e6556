import assert from "node:assert/strict";
import { Framer } from "../../../plugins/mqtt/framing.ts";

/** A PUBLISH-shaped packet (type 3) of `size` payload bytes, filled with `fill`. */
function packet(size: number, fill: number): Uint8Array {
  const len: number[] = [];
  let n = size;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    len.push(b);
  } while (n > 0);
  return new Uint8Array([0x30, ...len, ...new Uint8Array(size).fill(fill)]);
}

Deno.test("mqtt framer: packets split anywhere come out whole, small and large alike", () => {
  const stream = new Uint8Array([
    ...packet(10, 1),
    ...packet(200_000, 2),
    ...packet(3, 3),
    ...packet(70_000, 4),
  ]);
  for (const step of [1, 7, 1000, 65536, stream.length]) {
    const framer = new Framer(1 << 20);
    const sizes: number[] = [];
    for (let at = 0; at < stream.length; at += step) {
      const err = framer.push(stream.subarray(at, at + step), (p) => (sizes.push(p.length), true));
      assert.equal(err, undefined);
    }
    assert.deepEqual(sizes, [12, 200_004, 5, 70_004], `read ${step} bytes at a time`);
  }
});

Deno.test("mqtt framer: a packet over the maximum is refused from its fixed header; a 5-byte length is malformed", () => {
  assert.equal(new Framer(1000).push(packet(2000, 0).subarray(0, 4), () => true), "too_large");
  assert.equal(
    new Framer(1000).push(new Uint8Array([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), () => true),
    "malformed",
  );
});

Deno.test("mqtt framer: a large packet read in pieces leaves no large buffer behind; a connection that never splits holds none", () => {
  const framer = new Framer(1 << 20);
  const big = packet(300_000, 5);
  for (let at = 0; at < big.length; at += 65536) framer.push(big.subarray(at, at + 65536), () => true);
  assert.equal(framer.buffered, 0);
  // Whole packets are cut from the read buffer itself.
  const whole = new Framer(1 << 20);
  whole.push(new Uint8Array([...packet(10, 1), ...packet(20, 2)]), () => true);
  assert.equal(whole.buffered, 0);
  // A partial small packet keeps a small buffer, not the largest it ever needed.
  whole.push(packet(100, 3).subarray(0, 50), () => true);
  assert.ok(whole.buffered <= 256);
});
