/**
 * Raw sockets for bad-input and fuzz tests: send bytes, collect what the broker answers until it
 * closes the connection.
 *
 * @module
 */
import { within } from "./wait.ts";

const encoder = new TextEncoder();

/**
 * Connects to `port`, writes `chunks` in order (after the first, waits for one read when
 * `replyFirst`; then ends its side when `endInput`), and returns every byte the broker wrote until it
 * closed the socket.
 */
export async function exchange(
  port: number,
  chunks: (Uint8Array | string)[],
  opts: { replyFirst?: boolean; endInput?: boolean; timeoutMs?: number } = {},
): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const out: number[] = [];
  const buf = new Uint8Array(4096);
  try {
    for (const [i, c] of chunks.entries()) {
      const b = typeof c === "string" ? encoder.encode(c) : c;
      for (let off = 0; off < b.length;) off += await conn.write(b.subarray(off));
      if (i === 0 && opts.replyFirst) {
        const n = await conn.read(buf);
        if (n) out.push(...buf.subarray(0, n));
      }
    }
    if (opts.endInput) await conn.closeWrite();
  } catch { /* the broker may close first */ }
  await within(
    (async () => {
      while (true) {
        let n: number | null;
        try {
          n = await conn.read(buf);
        } catch {
          break;
        }
        if (n === null) break;
        out.push(...buf.subarray(0, n));
      }
    })(),
    opts.timeoutMs ?? 5000,
    "the broker to close the connection",
  );
  try {
    conn.close();
  } catch { /* closed */ }
  return new Uint8Array(out);
}
