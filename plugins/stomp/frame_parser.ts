/**
 * A streaming STOMP frame parser: a byte state machine over an accumulating buffer. Bodies are handed
 * out as views (no copy) that stay valid: consumed bytes are never overwritten. Limits bound every
 * part of a frame so a hostile peer cannot make the broker buffer without end.
 *
 * @module
 */

/** One decoded frame. Repeated headers keep the first value (STOMP 1.2 section "Repeated Header Entries"). */
export interface Frame {
  command: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Parser limits (plugin options). */
export interface FrameLimits {
  maxCommandLength: number;
  maxHeaders: number;
  maxHeaderLength: number;
  maxBodySize: number;
}

/** Why a stream was refused; the connection answers with an ERROR frame and closes. */
export class FrameError extends Error {
  override name = "FrameError";
}

const LF = 10, CR = 13, NUL = 0;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const COMMANDS = new Set([
  "CONNECT",
  "STOMP",
  "SEND",
  "SUBSCRIBE",
  "UNSUBSCRIBE",
  "ACK",
  "NACK",
  "BEGIN",
  "COMMIT",
  "ABORT",
  "DISCONNECT",
]);

/** Versions this broker speaks, preferred first. */
export const SUPPORTED_VERSIONS = ["1.2", "1.1", "1.0"] as const;

/** The version to speak for a CONNECT's accept-version header (absent = 1.0), or undefined. */
export function negotiate(
  acceptVersion: string | undefined,
  allowed: readonly string[] = SUPPORTED_VERSIONS,
): string | undefined {
  const offered = (acceptVersion ?? "1.0").split(",").map((v) => v.trim());
  return allowed.find((v) => offered.includes(v));
}

const EMPTY = new Uint8Array(0);

/** Parses frames from a byte stream. `version` selects header escaping (set after CONNECT). */
export class FrameParser {
  version = "1.0";
  readonly #limits: FrameLimits;
  #buf = EMPTY;
  #start = 0;
  #end = 0;
  /**
   * The frame at #start whose headers are parsed but whose body is not all here: kept so that a large
   * body arriving in many reads is not parsed again from its command line each time. Offsets are from
   * #start, which buffer growth moves.
   */
  #partial: { command: string; headers: Record<string, string>; body: number; scanned: number } | undefined;
  /** The same for a frame whose head (command and header lines) is not all here: offsets from #start. */
  #heads: { lines: string[]; lineStart: number; scanned: number } | undefined;

  constructor(limits: FrameLimits) {
    this.#limits = limits;
  }

  /** Appends bytes and returns the complete frames; throws {@linkcode FrameError} on bad input. */
  push(bytes: Uint8Array, onFrame: (f: Frame) => boolean): void {
    this.#append(bytes);
    while (this.#start < this.#end) {
      const f = this.#next();
      if (f === undefined) break;
      if (f !== null && !onFrame(f)) return;
    }
    // An idle connection keeps no buffer: the next bytes get one of their own size.
    if (this.#start === this.#end) {
      this.#buf = EMPTY;
      this.#start = this.#end = 0;
    }
  }

  // Returns a frame, null for a heart-beat EOL, or undefined when more bytes are needed.
  #next(): Frame | null | undefined {
    const b = this.#buf;
    let i = this.#start;
    if (b[i] === LF) {
      this.#start = i + 1;
      return null;
    }
    if (b[i] === CR) {
      if (i + 1 >= this.#end) return undefined;
      if (b[i + 1] !== LF) throw new FrameError("CR not followed by LF");
      this.#start = i + 2;
      return null;
    }
    const lim = this.#limits;
    const partial = this.#partial;
    if (partial) return this.#body(partial.command, partial.headers, this.#start + partial.body);
    // Header lines read in an earlier call are not read again: a peer sending a large head a byte at a time
    // costs each byte once.
    const heads = this.#heads;
    this.#heads = undefined;
    const lines: string[] = heads?.lines ?? [];
    let lineStart = heads ? this.#start + heads.lineStart : i;
    if (heads) i = this.#start + heads.scanned;
    for (;; i++) {
      if (i >= this.#end) {
        this.#checkPartial(lines, i - lineStart);
        this.#heads = { lines, lineStart: lineStart - this.#start, scanned: i - this.#start };
        return undefined;
      }
      if (b[i] !== LF) continue;
      const lineEnd = i > lineStart && b[i - 1] === CR ? i - 1 : i;
      if (lineEnd === lineStart) break; // the empty line before the body
      lines.push(this.#text(lineStart, lineEnd));
      lineStart = i + 1;
      if (lines.length > lim.maxHeaders + 1) throw new FrameError(`more than ${lim.maxHeaders} headers`);
    }
    const bodyStart = i + 1;
    const command = lines[0];
    if (!COMMANDS.has(command)) throw new FrameError(`unknown command "${command.slice(0, 32)}"`);
    const raw = command === "CONNECT" || command === "STOMP";
    const headers: Record<string, string> = {};
    for (let h = 1; h < lines.length; h++) {
      const line = lines[h];
      const colon = line.indexOf(":");
      if (colon <= 0) throw new FrameError(`header line without a name: "${line.slice(0, 64)}"`);
      const name = this.#unescape(line.slice(0, colon), raw);
      // Own properties only: a header named "constructor" or "toString" is a header like any other.
      if (!Object.hasOwn(headers, name)) headers[name] = this.#unescape(line.slice(colon + 1), raw);
    }
    return this.#body(command, headers, bodyStart);
  }

  #body(command: string, headers: Record<string, string>, bodyStart: number): Frame | undefined {
    const b = this.#buf, lim = this.#limits;
    let bodyEnd: number;
    const cl = headers["content-length"];
    if (cl !== undefined) {
      const n = Number(cl);
      if (!/^\d+$/.test(cl) || !Number.isSafeInteger(n)) throw new FrameError(`bad content-length "${cl}"`);
      if (n > lim.maxBodySize) throw new FrameError(`body of ${n} bytes exceeds ${lim.maxBodySize}`);
      if (this.#end - bodyStart < n + 1) return this.#wait(command, headers, bodyStart, bodyStart);
      bodyEnd = bodyStart + n;
      if (b[bodyEnd] !== NUL) throw new FrameError("body longer than content-length");
    } else {
      // The search goes on where the last read's ended.
      const from = Math.max(bodyStart, this.#start + (this.#partial?.scanned ?? 0));
      bodyEnd = b.subarray(0, this.#end).indexOf(NUL, from);
      const seen = bodyEnd < 0 ? this.#end - bodyStart : bodyEnd - bodyStart;
      if (seen > lim.maxBodySize) throw new FrameError(`body exceeds ${lim.maxBodySize} bytes`);
      if (bodyEnd < 0) return this.#wait(command, headers, bodyStart, this.#end);
    }
    this.#partial = undefined;
    this.#start = bodyEnd + 1;
    // Escaping depends on the version CONNECT negotiates, and later frames may already be buffered.
    if (command === "CONNECT" || command === "STOMP") {
      this.version = negotiate(headers["accept-version"]) ?? this.version;
    }
    return { command, headers, body: b.subarray(bodyStart, bodyEnd) };
  }

  #wait(command: string, headers: Record<string, string>, bodyStart: number, scannedTo: number): undefined {
    this.#partial = { command, headers, body: bodyStart - this.#start, scanned: scannedTo - this.#start };
  }

  #checkPartial(lines: string[], partial: number): void {
    const lim = this.#limits;
    const max = lines.length === 0 ? lim.maxCommandLength : lim.maxHeaderLength;
    if (partial > max) {
      throw new FrameError(lines.length === 0 ? "command line too long" : "header line too long");
    }
  }

  #text(from: number, to: number): string {
    if (to - from > this.#limits.maxHeaderLength) throw new FrameError("header line too long");
    try {
      return utf8.decode(this.#buf.subarray(from, to));
    } catch {
      throw new FrameError("header is not valid UTF-8");
    }
  }

  // STOMP 1.1+ escapes: \\ \n \c, and \r in 1.2; CONNECT/CONNECTED are never escaped.
  #unescape(s: string, raw: boolean): string {
    if (raw || this.version === "1.0" || !s.includes("\\")) return s;
    let out = "";
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (c !== "\\") {
        out += c;
        continue;
      }
      const n = s[++i];
      if (n === "n") out += "\n";
      else if (n === "c") out += ":";
      else if (n === "\\") out += "\\";
      else if (n === "r" && this.version === "1.2") out += "\r";
      else throw new FrameError(`undefined escape "\\${n ?? ""}"`);
    }
    return out;
  }

  // Bytes before #start were handed out as body views: they are never written again. A drained
  // buffer is replaced, not reused, and growth copies the live part into a new buffer.
  #append(bytes: Uint8Array): void {
    if (this.#start === this.#end) {
      // The caller's view is only valid during the call, and bodies are views of this buffer: a copy.
      this.#buf = bytes.slice();
      this.#start = 0;
      this.#end = bytes.byteLength;
      return;
    }
    if (this.#end + bytes.byteLength > this.#buf.byteLength) {
      const live = this.#end - this.#start;
      const size = Math.max(this.#buf.byteLength, (live + bytes.byteLength) * 2);
      const next = new Uint8Array(size);
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#start = 0;
      this.#end = live;
    }
    this.#buf.set(bytes, this.#end);
    this.#end += bytes.byteLength;
  }
}
