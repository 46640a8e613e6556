import assert from "node:assert/strict";
import { type Frame, FrameParser } from "../../../plugins/stomp/frame_parser.ts";

const limits = { maxCommandLength: 64, maxHeaders: 16, maxHeaderLength: 1024, maxBodySize: 1 << 20 };
const enc = new TextEncoder();
const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("stomp frame parser: frames split anywhere; bodies stay intact while the caller reuses its buffer", () => {
  const stream = enc.encode(
    "SEND\ndestination:/queue/a\n\nfirst\0\nSEND\ndestination:/queue/b\ncontent-length:6\n\nsec\0nd\0" +
      "SEND\ndestination:/queue/c\n\nthird\0",
  );
  for (const step of [1, 2, 5, 17, stream.length]) {
    const parser = new FrameParser(limits);
    const frames: Frame[] = [];
    // One reused read buffer, as the transports hand out: what the parser keeps must be its own copy.
    const reused = new Uint8Array(step);
    for (let at = 0; at < stream.length; at += step) {
      const chunk = stream.subarray(at, at + step);
      reused.set(chunk);
      parser.push(reused.subarray(0, chunk.length), (f) => (frames.push(f), true));
      reused.fill(0x58);
    }
    assert.deepEqual(
      frames.map((f) => `${f.headers.destination}=${text(f.body)}`),
      ["/queue/a=first", "/queue/b=sec\0nd", "/queue/c=third"],
      `read ${step} bytes at a time`,
    );
  }
});

Deno.test("stomp frame parser: a body without content-length arriving in many reads is held to the limit", () => {
  const parser = new FrameParser({ ...limits, maxBodySize: 1000 });
  parser.push(enc.encode("SEND\ndestination:/queue/a\n\n"), () => true);
  const chunk = enc.encode("x".repeat(100));
  assert.throws(() => {
    for (let i = 0; i < 20; i++) parser.push(chunk, () => true);
  }, /body exceeds 1000 bytes/);
});
