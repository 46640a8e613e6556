/**
 * STOMP frame encoding: command, escaped headers, body, NUL. Header escaping follows the version
 * (none on 1.0 and on CONNECTED).
 *
 * @module
 */

const encoder = new TextEncoder();

function escape(s: string, version: string): string {
  if (version === "1.0") return s.replace(/\n/g, " ");
  let out = "";
  for (const c of s) {
    if (c === "\\") out += "\\\\";
    else if (c === "\n") out += "\\n";
    else if (c === ":") out += "\\c";
    else if (c === "\r") out += version === "1.2" ? "\\r" : " ";
    else out += c;
  }
  return out;
}

/** Encodes one frame; `content-length` is added when there is a body. */
export function encodeFrame(
  command: string,
  headers: Record<string, string | number | boolean | undefined>,
  body: Uint8Array | undefined,
  version: string,
): Uint8Array {
  const raw = command === "CONNECTED";
  let head = command + "\n";
  for (const k in headers) {
    const v = headers[k];
    // STOMP 1.0 has no escapes: a name with a colon cannot be written.
    if (v === undefined || (version === "1.0" && k.includes(":"))) continue;
    const value = String(v);
    head += raw ? `${k}:${value}\n` : `${escape(k, version)}:${escape(value, version)}\n`;
  }
  if (body && body.byteLength > 0) head += `content-length:${body.byteLength}\n`;
  head += "\n";
  const h = encoder.encode(head);
  const n = body?.byteLength ?? 0;
  const out = new Uint8Array(h.byteLength + n + 1);
  out.set(h, 0);
  if (body) out.set(body, h.byteLength);
  out[out.length - 1] = 0;
  return out;
}
