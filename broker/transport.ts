/**
 * Byte transports under a protocol connection: a TCP socket, a TLS socket or a WebSocket. All coalesce writes: every
 * chunk queued during one turn of the event loop leaves in one socket write, and a write in progress
 * collects the next batch behind it. Reads are pulled; a TCP reader stops pulling while its own
 * output is congested, so a client that does not read cannot make the broker buffer without bound.
 *
 * @module
 */

/** What a connection needs from its transport. */
export interface Transport {
  /** "ip:port" of the peer. */
  readonly remote: string;
  /** Queues bytes for the next coalesced write. The transport keeps a reference: do not reuse `chunk`. */
  write(chunk: Uint8Array): void;
  /** Bytes queued or in the OS send path not yet confirmed. */
  readonly buffered: number;
  /** Resolves once buffered output is below `lowWater`. */
  drained(): Promise<void>;
  /** Starts reading; `onData` gets views that are only valid during the call. */
  start(onData: (bytes: Uint8Array) => void, onClose: () => void): void;
  /** Flushes queued output (bounded by a timeout), then closes. */
  end(): void;
  /** Closes at once; queued output is dropped. */
  close(): void;
  readonly closed: boolean;
  /** Subject of the verified TLS client certificate, on TLS listeners that ask for one. */
  readonly certificateSubject?: string;
  /** The WebSocket subprotocol agreed at the upgrade (a protocol version, for STOMP), on WebSocket listeners. */
  readonly subprotocol?: string;
}

/**
 * The host of a peer's "ip:port" or "[ip6]:port" (as the transports write `remote`), without brackets: what
 * stays the same across a client's connections, for limits and decisions kept per address.
 */
export function hostOf(remote: string): string {
  return remote.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
}

const READ_SIZE = 64 * 1024;
// Most connections at scale are idle, and a pending read holds its buffer: they start small, and a buffer
// grows 16-fold each time a read fills it (128 B, 2 KiB, 32 KiB, 64 KiB).
const FIRST_READ_SIZE = 128;
const textEncoder = new TextEncoder();
const END_TIMEOUT_MS = 2000;

/** What a send returns when its bytes are out but the next send should wait for `until`. */
export class Held {
  constructor(readonly until: Promise<void>) {}
}

/** Write coalescing and flow control every transport shares; subclasses move the bytes. */
export abstract class Coalescer {
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #scheduled = false;
  #inFlight = 0;
  /** A send went out whole but asked the next one to wait (see {@linkcode Held}). */
  #held = false;
  #drainWaiters: (() => void)[] | undefined;
  protected readonly lowWater: number;
  #ending = false;
  closed = false;

  constructor(lowWater: number) {
    this.lowWater = lowWater;
  }

  get buffered(): number {
    return this.#pendingBytes + this.#inFlight + this.osBuffered();
  }

  protected osBuffered(): number {
    return 0;
  }

  /**
   * Moves `data` to the OS. A promise: bytes still on their way, counted as buffered until it settles. A
   * {@linkcode Held}: all out, but the next send waits for it.
   */
  protected abstract send(data: Uint8Array): Promise<void> | Held | void;
  protected abstract shut(): void;

  write(chunk: Uint8Array): void {
    if (this.closed) return;
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (!this.#scheduled && this.#inFlight === 0 && !this.#held) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  #flush = (): void => {
    this.#scheduled = false;
    if (this.closed || this.#pending.length === 0) return this.#afterWrite();
    const data = takeAll(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#inFlight = data.length;
    let r: Promise<void> | Held | void;
    try {
      r = this.send(data);
    } catch {
      this.close();
      return;
    }
    if (r instanceof Held) {
      this.#inFlight = 0;
      this.#held = true;
      r.until.then(this.#sent);
    } else if (r instanceof Promise) r.then(this.#sent, () => this.close());
    else this.#sent();
  };

  /** The last send is over: what was written meanwhile goes next, or the transport is idle. */
  #sent = (): void => {
    this.#inFlight = 0;
    this.#held = false;
    if (this.#pending.length !== 0) this.#flush();
    else this.#afterWrite();
  };

  #afterWrite(): void {
    if (this.#ending && this.#pending.length === 0) {
      this.close();
      return;
    }
    if (this.#drainWaiters && this.buffered <= this.lowWater) this.#wake();
  }

  protected wakeIfDrained(): void {
    if (this.#drainWaiters && this.buffered <= this.lowWater) this.#wake();
  }

  #wake(): void {
    const ws = this.#drainWaiters;
    this.#drainWaiters = undefined;
    if (ws) { for (const w of ws) w(); }
  }

  drained(): Promise<void> {
    if (this.closed || this.buffered <= this.lowWater) return Promise.resolve();
    return new Promise((resolve) => (this.#drainWaiters ??= []).push(resolve));
  }

  end(): void {
    if (this.closed || this.#ending) return;
    this.#ending = true;
    if (this.#pending.length === 0 && this.#inFlight === 0 && !this.#held && !this.#scheduled) {
      this.close();
      return;
    }
    const t = setTimeout(() => this.close(), END_TIMEOUT_MS);
    Deno.unrefTimer(t);
  }

  /** A callback that closes the transport and calls `onClose`, once however often it runs. */
  protected finisher(onClose: () => void): () => void {
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.close();
      onClose();
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#wake();
    try {
      this.shut();
    } catch {
      // already closed by the peer
    }
  }
}

function takeAll(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/** A TCP connection from `Deno.listen`. */
export class TcpTransport extends Coalescer implements Transport {
  readonly remote: string;
  readonly #conn: Deno.TcpConn;
  #onClose: (() => void) | undefined;
  #reading = false;
  #linger: ReturnType<typeof setTimeout> | undefined;

  constructor(conn: Deno.TcpConn, lowWater: number) {
    super(lowWater);
    this.#conn = conn;
    const a = conn.remoteAddr;
    this.remote = a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
    try {
      conn.setNoDelay(true);
    } catch {
      // not fatal: latency only
    }
  }

  protected async send(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.length) off += await this.#conn.write(off === 0 ? data : data.subarray(off));
  }

  protected shut(): void {
    if (!this.#reading) return this.#release();
    // Half-close: the peer reads everything we wrote, and what it still sends is read and dropped until it
    // closes too, instead of being answered with a reset that can destroy our last bytes on its side.
    try {
      this.#conn.closeWrite();
    } catch {
      return this.#release();
    }
    this.#linger = setTimeout(() => this.#release(), END_TIMEOUT_MS);
    Deno.unrefTimer(this.#linger);
  }

  #release(): void {
    clearTimeout(this.#linger);
    try {
      this.#conn.close();
    } catch {
      // closed already
    }
  }

  start(onData: (bytes: Uint8Array) => void, onClose: () => void): void {
    this.#onClose = onClose;
    this.#reading = true;
    void this.#readLoop(onData);
  }

  async #readLoop(onData: (bytes: Uint8Array) => void): Promise<void> {
    let buf = new Uint8Array(FIRST_READ_SIZE);
    try {
      while (true) {
        if (!this.closed && this.buffered > this.lowWater * 4) await this.drained();
        const n = await this.#conn.read(buf);
        if (n === null) break;
        if (this.closed) continue; // closing: discard until the peer closes its side
        onData(buf.subarray(0, n));
        if (n === buf.length && n < READ_SIZE) buf = new Uint8Array(Math.min(n * 16, READ_SIZE));
      }
    } catch {
      // reset by peer or released by us: both end the connection
    }
    this.close();
    this.#release();
    const cb = this.#onClose;
    this.#onClose = undefined;
    cb?.();
  }
}

/**
 * A WebSocket from `Deno.upgradeWebSocket`. Output goes in binary frames; input in binary frames only
 * (MQTT [MQTT-6.0.0-1]) unless `text` also accepts text frames (STOMP).
 */
export class WsTransport extends Coalescer implements Transport {
  readonly remote: string;
  readonly #ws: WebSocket;
  readonly #text: boolean;
  #poll: ReturnType<typeof setInterval> | undefined;

  readonly certificateSubject?: string;
  readonly subprotocol?: string;

  constructor(
    ws: WebSocket,
    remote: string,
    lowWater: number,
    opts: { text?: boolean; certificateSubject?: string; subprotocol?: string } = {},
  ) {
    super(lowWater);
    this.#ws = ws;
    this.remote = remote;
    this.#text = opts.text === true;
    this.certificateSubject = opts.certificateSubject;
    this.subprotocol = opts.subprotocol;
    ws.binaryType = "arraybuffer";
  }

  protected override osBuffered(): number {
    return this.#ws.bufferedAmount;
  }

  protected send(data: Uint8Array): void {
    if (this.#ws.readyState !== WebSocket.OPEN) throw new Error("socket not open");
    this.#ws.send(data);
  }

  protected shut(): void {
    clearInterval(this.#poll);
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) {
      this.#ws.close();
    }
  }

  override drained(): Promise<void> {
    // WebSocket has no drain event: poll bufferedAmount while someone waits.
    if (this.#poll === undefined && !this.closed) {
      this.#poll = setInterval(() => {
        this.wakeIfDrained();
        if (this.buffered <= this.lowWater || this.closed) {
          clearInterval(this.#poll);
          this.#poll = undefined;
        }
      }, 5);
    }
    return super.drained();
  }

  start(onData: (bytes: Uint8Array) => void, onClose: () => void): void {
    const finish = this.finisher(onClose);
    this.#ws.onmessage = (e) => {
      if (this.closed) return;
      if (e.data instanceof ArrayBuffer) onData(new Uint8Array(e.data));
      else if (this.#text && typeof e.data === "string") onData(textEncoder.encode(e.data));
      else finish(); // text frames are a protocol error for MQTT over WebSocket
    };
    this.#ws.onclose = finish;
    this.#ws.onerror = finish;
    if (this.#ws.readyState === WebSocket.CLOSED || this.#ws.readyState === WebSocket.CLOSING) finish();
  }
}

/** The part of a `node:net` / `node:tls` socket a {@linkcode SocketTransport} uses. */
export interface NodeSocket {
  write(data: Uint8Array, cb: (err?: Error | null) => void): boolean;
  readonly writableLength: number;
  on(event: "data", fn: (chunk: Uint8Array) => void): unknown;
  on(event: "close" | "error", fn: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
  destroy(): unknown;
  setNoDelay?(on: boolean): unknown;
}

/**
 * A `node:tls` (or `node:net`) socket, for listeners that need what `Deno.listenTls` lacks: client
 * certificates and certificate reload. Reading pauses while the socket's own output is congested.
 */
export class SocketTransport extends Coalescer implements Transport {
  readonly remote: string;
  readonly certificateSubject?: string;
  readonly #socket: NodeSocket;

  constructor(socket: NodeSocket, peer: { remote: string; certificateSubject?: string }, lowWater: number) {
    super(lowWater);
    this.#socket = socket;
    this.remote = peer.remote;
    this.certificateSubject = peer.certificateSubject;
    socket.setNoDelay?.(true);
  }

  protected override osBuffered(): number {
    return this.#socket.writableLength;
  }

  protected send(data: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => this.#socket.write(data, (e) => e ? reject(e) : resolve()));
  }

  protected shut(): void {
    this.#socket.destroy();
  }

  start(onData: (bytes: Uint8Array) => void, onClose: () => void): void {
    const finish = this.finisher(onClose);
    this.#socket.on("data", (chunk) => {
      if (this.closed) return;
      onData(chunk);
      if (this.buffered > this.lowWater * 4) {
        this.#socket.pause();
        void this.drained().then(() => this.#socket.resume());
      }
    });
    this.#socket.on("close", finish);
    this.#socket.on("error", finish);
  }
}
