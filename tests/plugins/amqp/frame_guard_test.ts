import assert from "node:assert/strict";
import { frameGuard, type InputStop } from "../../../plugins/amqp/frame_guard.ts";

const header = (id: number) => new Uint8Array([0x41, 0x4d, 0x51, 0x50, id, 1, 0, 0]);
const frame = (size: number) => {
  const f = new Uint8Array(size);
  new DataView(f.buffer).setUint32(0, size);
  return f;
};
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
};

Deno.test("amqp frame guard: follows headers and frames across any split, and names the first frame over the limit", () => {
  // SASL header and frames, the AMQP header, frames up to the limit, then one over it.
  const stream = concat(
    header(3),
    frame(40),
    frame(8),
    header(0),
    frame(1024),
    frame(100),
    frame(1025),
    frame(9),
  );
  for (const step of [1, 3, 7, 64, stream.length]) {
    const check = frameGuard(1024);
    let found: InputStop | undefined;
    let at = 0;
    for (; at < stream.length && found === undefined; at += step) {
      found = check(stream.subarray(at, at + step));
    }
    assert.equal(found?.kind === "oversize" && found.size, 1025, `read ${step} bytes at a time`);
    // Where the frame starts, counted in the chunk that completed its size field.
    assert.equal(
      at - step + found!.offset,
      Math.max(at - step, stream.length - 1025 - 9),
      `offset, by ${step}`,
    );
  }
  const check = frameGuard(1024);
  assert.equal(check(concat(header(0), frame(1024), frame(8))), undefined);
  // A size field whose first byte is "A" is read as a header only at a frame boundary.
  assert.deepEqual(check(new Uint8Array([0, 0x41, 0, 0])), { kind: "oversize", size: 0x410000, offset: 0 });
});

Deno.test("amqp frame guard: a header after SASL other than AMQP 1.0.0's stops the input where it begins, across any split", () => {
  const good = concat(header(3), frame(40), frame(8));
  for (const bad of [header(3), new Uint8Array([0x41, 0x4d, 0x51, 0x50, 0, 2, 0, 0])]) {
    const stream = concat(good, bad, frame(20));
    for (const step of [1, 3, 5, stream.length]) {
      const check = frameGuard(1024);
      let found: InputStop | undefined;
      let at = 0;
      for (; at < stream.length && found === undefined; at += step) {
        found = check(stream.subarray(at, at + step));
      }
      assert.equal(found?.kind, "header", `read ${step} bytes at a time`);
      // The bytes before it in the chunk it began in go on to the reader: the SASL exchange is answered.
      assert.equal(found!.offset, Math.max(0, good.length - (at - step)));
    }
  }
  // AMQP 1.0.0's header after SASL is the protocol going on.
  assert.equal(frameGuard(1024)(concat(header(3), frame(40), header(0), frame(30))), undefined);
});
