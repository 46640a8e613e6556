/**
 * WebSocket framing by hand, for tests that must send what no WebSocket client would: reserved opcodes,
 * unmasked client frames, lying length fields, oversized control frames, bad UTF-8, bad close codes.
 *
 * @module
 */
import { exchange } from "./raw.ts";

const enc = new TextEncoder();

/** The HTTP upgrade request of a WebSocket on `path`, offering `protocol` when given. */
export function upgradeRequest(port: number, path: string, protocol?: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
    (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : "") + "\r\n";
}

/** Frame options: defaults make a valid, final, masked client frame. */
export interface FrameOptions {
  fin?: boolean;
  /** RSV1-3 bits (0-7). */
  rsv?: number;
  mask?: boolean;
  /** The length field to claim instead of the payload's (a lie). */
  length?: number | bigint;
}

/** One WebSocket frame (RFC 6455 5.2). */
export function wsFrame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(),
  o: FrameOptions = {},
) {
  const data = typeof payload === "string" ? enc.encode(payload) : payload;
  const len = BigInt(o.length ?? data.length);
  const mask = o.mask ?? true;
  const head: number[] = [((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | (opcode & 0x0f)];
  const m = mask ? 0x80 : 0;
  if (len < 126n) head.push(m | Number(len));
  else if (len < 65536n) head.push(m | 126, Number(len >> 8n), Number(len & 0xffn));
  else {
    head.push(m | 127);
    for (let i = 7; i >= 0; i--) head.push(Number((len >> BigInt(8 * i)) & 0xffn));
  }
  const key = [0x12, 0x34, 0x56, 0x78];
  if (mask) head.push(...key);
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  for (let i = 0; i < data.length; i++) out[head.length + i] = mask ? data[i] ^ key[i & 3] : data[i];
  return out;
}

/** Opcodes of RFC 6455 5.2. */
export const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** A close frame with `code` (and `reason` bytes). */
export const closeFrame = (code: number, reason: Uint8Array = new Uint8Array()): Uint8Array =>
  wsFrame(OP.close, new Uint8Array([code >> 8, code & 0xff, ...reason]));

/**
 * Malformed framing, one case each: every one is a protocol error the server must answer with a close. An
 * unmasked client frame is not among them: Deno's WebSocket server takes it as data (RFC 6455 5.1 says
 * close), so what ends that connection is the protocol's own limits.
 */
export const BAD_FRAMING: readonly [string, Uint8Array[]][] = [
  ["a reserved data opcode", [wsFrame(0x3, "x")]],
  ["a reserved control opcode", [wsFrame(0xb)]],
  ["RSV bits without an extension", [wsFrame(OP.binary, "x", { rsv: 4 })]],
  ["a 64-bit length with the top bit set", [wsFrame(OP.binary, "x", { length: 0x8000_0000_0000_0000n })]],
  ["a length field of a terabyte", [wsFrame(OP.binary, "x", { length: 2n ** 40n })]],
  ["a ping of 126 bytes", [wsFrame(OP.ping, new Uint8Array(126))]],
  ["a fragmented ping", [wsFrame(OP.ping, "x", { fin: false })]],
  ["bad UTF-8 in a text frame", [wsFrame(OP.text, new Uint8Array([0x43, 0xff, 0xfe, 0x0a]))]],
  ["bad UTF-8 across text fragments", [
    wsFrame(OP.text, new Uint8Array([0x43, 0xe2]), { fin: false }),
    wsFrame(OP.cont, new Uint8Array([0x28, 0xa1])),
  ]],
  ["a continuation without a start", [wsFrame(OP.cont, "x")]],
  ["a new message inside a fragmented one", [wsFrame(OP.text, "a", { fin: false }), wsFrame(OP.binary, "b")]],
  ["a close with code 999", [closeFrame(999)]],
  ["a close with code 1005 (reserved)", [closeFrame(1005)]],
  ["a close with code 5000", [closeFrame(5000)]],
  ["a close with a one-byte body", [wsFrame(OP.close, new Uint8Array([3]))]],
  ["a close with a bad UTF-8 reason", [closeFrame(1000, new Uint8Array([0xff]))]],
];

/** A frame the server sent. */
export interface ServerFrame {
  opcode: number;
  payload: Uint8Array;
}

/**
 * Upgrades a raw connection on `path`, writes `frames` and collects what the server sent until it ended the
 * TCP connection (rejects after `timeoutMs`: a hang). Returns the response head and the server's frames.
 */
export async function wsExchange(
  port: number,
  path: string,
  protocol: string | undefined,
  frames: Uint8Array[],
  opts: { timeoutMs?: number } = {},
): Promise<{ head: string; frames: ServerFrame[] }> {
  const out = await exchange(port, [upgradeRequest(port, path, protocol), ...frames], {
    replyFirst: true,
    timeoutMs: opts.timeoutMs,
  });
  const end = out.findIndex((_, i) =>
    out[i] === 13 && out[i + 1] === 10 && out[i + 2] === 13 && out[i + 3] === 10
  );
  const head = new TextDecoder().decode(out.subarray(0, end < 0 ? out.length : end));
  return { head, frames: end < 0 ? [] : parseFrames(out.subarray(end + 4)) };
}

/** The (unmasked) frames in `bytes`; a truncated last frame is left out. */
export function parseFrames(bytes: Uint8Array): ServerFrame[] {
  const frames: ServerFrame[] = [];
  for (let at = 0; at + 2 <= bytes.length;) {
    let len = bytes[at + 1] & 0x7f, off = at + 2;
    if (len === 126) (len = (bytes[off] << 8) | bytes[off + 1], off += 2);
    else if (len === 127) {
      len = Number(new DataView(bytes.buffer, bytes.byteOffset + off).getBigUint64(0));
      off += 8;
    }
    if (off + len > bytes.length) break;
    frames.push({ opcode: bytes[at] & 0x0f, payload: bytes.subarray(off, off + len) });
    at = off + len;
  }
  return frames;
}

/** The status code of a close frame's payload (1005 when it has none). */
export const closeCode = (f: ServerFrame): number =>
  f.payload.length >= 2 ? (f.payload[0] << 8) | f.payload[1] : 1005;

/**
 * Fuzz units in WebSocket messages: mostly binary, some text (the unit decoded as UTF-8, so the frame is
 * valid and reaches the protocol), some split across a fragmented message, some empty, some of
 * `oversize` bytes.
 */
export function fuzzFrame(rnd: (n: number) => number, unit: Uint8Array, oversize: number): Uint8Array[] {
  switch (rnd(10)) {
    case 0:
      return [wsFrame(OP.text, new TextDecoder().decode(unit))];
    case 1: {
      const cut = rnd(unit.length + 1);
      return [
        wsFrame(OP.binary, unit.subarray(0, cut), { fin: false }),
        wsFrame(OP.cont, unit.subarray(cut)),
      ];
    }
    case 2:
      return [wsFrame(rnd(2) ? OP.binary : OP.text)];
    case 3:
      if (rnd(4) === 0) {
        return [wsFrame(OP.binary, new Uint8Array(oversize).map((_, i) => unit[i % unit.length]))];
      }
      // falls through
    default:
      return [wsFrame(OP.binary, unit)];
  }
}

/**
 * Sends each case of {@linkcode BAD_FRAMING} on its own upgraded connection and checks the server ends it
 * (a close frame, if any, is 1002 or 1007), none hanging past `timeoutMs`.
 */
export async function expectBadFramingCloses(
  port: number,
  path: string,
  protocol: string,
  before: Uint8Array[] = [],
  timeoutMs = 3000,
): Promise<void> {
  for (const [what, frames] of BAD_FRAMING) {
    const r = await wsExchange(port, path, protocol, [...before, ...frames], { timeoutMs }).catch((e) => {
      throw new Error(`${what}: ${e.message}`);
    });
    if (!r.head.startsWith("HTTP/1.1 101")) throw new Error(`${what}: no upgrade: ${r.head}`);
    const close = r.frames.find((f) => f.opcode === OP.close);
    if (close && ![1002, 1007].includes(closeCode(close))) {
      throw new Error(`${what}: closed with ${closeCode(close)}`);
    }
  }
}
