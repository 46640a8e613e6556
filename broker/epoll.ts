/**
 * Plain TCP on Linux through the kernel's epoll, called by FFI. `Deno.listen` keeps a read pending on
 * every connection, and each pending read holds a buffer and a runtime future: about 5 KB of a broker's
 * memory for a connection that says nothing. Here one `epoll_wait` on a runtime thread watches every
 * socket; the event loop reads and writes the ready ones without blocking, into one shared read buffer,
 * so an idle connection costs its kernel socket and a few small objects.
 *
 * Used when a listener asks for `io: "epoll"` (or `"auto"` on Linux with the FFI permission); everything
 * else about a connection is the same {@linkcode Transport} as on `Deno.listen`.
 *
 * @module
 */
import { Coalescer, Held, type Transport } from "./transport.ts";

const EPOLLIN = 0x1, EPOLLOUT = 0x4, EPOLLRDHUP = 0x2000;
const EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
const EINTR = 4, EAGAIN = 11, EMFILE = 24, ENFILE = 23;
const AF_INET = 2, AF_INET6 = 10, SOCK_STREAM = 1, SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1, SO_REUSEADDR = 2, IPPROTO_TCP = 6, TCP_NODELAY = 1, IPPROTO_IPV6 = 41, IPV6_V6ONLY = 26;
const SHUT_WR = 1;
const EFD_NONBLOCK = 0o4000, EFD_CLOEXEC = 0o2000000;

// struct epoll_event is packed on x86-64 (12 bytes) and naturally aligned elsewhere (16).
const PACKED = Deno.build.arch === "x86_64";
const EVENT_SIZE = PACKED ? 12 : 16;
const DATA_OFFSET = PACKED ? 4 : 8;
const MAX_EVENTS = 512;
const READ_SIZE = 64 * 1024;
const LINGER_MS = 2000;
const SYNC_POLLS = 8;
const ACCEPT_RETRY_MS = 100;

// Lengths go as u32 though C takes size_t: a 32-bit register write clears the upper half on x86-64 and
// arm64, and "usize" would make every call convert a BigInt.
const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32", nonblocking: true },
  epoll_poll: { name: "epoll_wait", parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libc: Libc | undefined;
let errnoView: Deno.UnsafePointerView | undefined;

function lib(): Libc {
  if (!libc) {
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
    errnoView = new Deno.UnsafePointerView(libc.__errno_location()!);
  }
  return libc;
}

/** errno of the last failed call on this thread (every call but epoll_wait runs on the event loop's). */
const errno = (): number => errnoView!.getInt32();

/** Whether this process can use the epoll transport: Linux, and the FFI permission granted. */
export function epollAvailable(): boolean {
  return Deno.build.os === "linux" && Deno.permissions.querySync({ name: "ffi" }).state === "granted";
}

interface Watched {
  /** `events` are epoll's flags: hints only, the handler finds out by reading and writing. */
  ready(events: number): void;
  /** `ready` threw (a listener's cannot: it refuses the one connection its plugin failed to take). */
  failed?(): void;
}

/** The process's one epoll set and the wait on it, running while anything is watched. */
class Poller {
  readonly #ep: number;
  readonly #wakeFd: number;
  readonly #watched = new Map<number, Watched>();
  readonly #events = new Uint8Array(EVENT_SIZE * MAX_EVENTS);
  readonly #eventsView = new DataView(this.#events.buffer);
  readonly #ctlEvent = new Uint8Array(EVENT_SIZE);
  readonly #ctlView = new DataView(this.#ctlEvent.buffer);
  #running = false;
  /** What writes that went out whole wait for: the next socket of the batch, or the event loop's next turn. */
  #heldWrites: { held: Held; release: () => void } | undefined;
  /** In the blocking wait, which may last until the next socket event: no write may wait for it. */
  #parked = false;

  constructor() {
    const c = lib();
    this.#ep = c.epoll_create1(0o2000000);
    if (this.#ep < 0) throw new Error(`epoll_create1 failed (errno ${errno()})`);
    this.#wakeFd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (this.#wakeFd < 0) throw new Error(`eventfd failed (errno ${errno()})`);
    this.#ctl(EPOLL_CTL_ADD, this.#wakeFd, EPOLLIN);
  }

  #ctl(op: number, fd: number, events: number): void {
    this.#ctlView.setUint32(0, events, true);
    this.#ctlView.setInt32(DATA_OFFSET, fd, true);
    this.#ctlView.setInt32(DATA_OFFSET + 4, 0, true);
    if (libc!.epoll_ctl(this.#ep, op, fd, this.#ctlEvent) < 0) {
      throw new Error(`epoll_ctl failed (errno ${errno()})`);
    }
  }

  watch(fd: number, events: number, w: Watched): void {
    this.#watched.set(fd, w);
    this.#ctl(EPOLL_CTL_ADD, fd, events);
    if (!this.#running) {
      this.#running = true;
      void this.#run();
    }
  }

  /**
   * What the next write of a socket whose write went out whole waits for: the next socket of the batch, or
   * the event loop's next turn before parking. The messages made meanwhile leave in one write, as they do
   * behind an async write on Deno.listen. Nothing while parked: nothing would release it soon.
   */
  afterWrite(): Held | void {
    if (!this.#running || this.#parked) return;
    if (!this.#heldWrites) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#heldWrites = { held: new Held(promise), release: resolve };
    }
    return this.#heldWrites.held;
  }

  #releaseWrites(): void {
    const held = this.#heldWrites;
    this.#heldWrites = undefined;
    held?.release();
  }

  change(fd: number, events: number): void {
    this.#ctl(EPOLL_CTL_MOD, fd, events);
  }

  /** Stops watching `fd`; the caller closes it afterwards. */
  forget(fd: number): void {
    if (!this.#watched.delete(fd)) return;
    this.#ctl(EPOLL_CTL_DEL, fd, 0);
    // The last one out wakes the wait, so a stopped broker leaves nothing pending in the runtime.
    if (this.#watched.size === 0) libc!.write(this.#wakeFd, WAKE, 8);
  }

  async #run(): Promise<void> {
    const c = libc!;
    let polled = 0;
    /** A batch was handled since the last wait: its work may still run on in microtasks. */
    let handled = false;
    while (this.#watched.size > 0) {
      // Under load there is usually more ready by the time a batch is done: take it here, without the
      // hop to a runtime thread and back that the blocking wait costs. Every few batches the blocking
      // wait runs anyway, so timers and the runtime's own I/O get their turn.
      let n = polled < SYNC_POLLS ? c.epoll_poll(this.#ep, this.#events, MAX_EVENTS, 0) : 0;
      if (n < 0) {
        if (errno() === EINTR) continue;
        throw new Error(`epoll_wait failed (errno ${errno()})`);
      }
      if (n > 0) polled++;
      else if (handled || this.#heldWrites) {
        // Before parking, one turn of the event loop: what the last batch started may go on in microtasks
        // (a protocol that awaits per frame), and its writes are held meanwhile, to leave together.
        polled = 0;
        handled = false;
        n = await c.epoll_wait(this.#ep, this.#events, MAX_EVENTS, 0);
        this.#releaseWrites();
        if (n < 0) continue;
      } else {
        polled = 0;
        this.#parked = true;
        n = await c.epoll_wait(this.#ep, this.#events, MAX_EVENTS, -1);
        this.#parked = false;
        // The blocking wait ran on another thread, whose errno is out of reach: the poll that opens the next
        // iteration tells a lasting failure from an interruption.
        if (n < 0) continue;
      }
      for (let i = 0; i < n; i++) {
        const at = i * EVENT_SIZE;
        const fd = this.#eventsView.getInt32(at + DATA_OFFSET, true);
        if (fd === this.#wakeFd) {
          c.read(this.#wakeFd, DRAIN, 8);
          continue;
        }
        // A socket closed earlier in this batch is gone from the map; its number may already belong to
        // a new connection, which then only reads nothing (EAGAIN).
        const w = this.#watched.get(fd);
        try {
          w?.ready(this.#eventsView.getUint32(at, true));
        } catch {
          // A protocol handler that throws on its input fails its own connection, not every other one.
          w?.failed?.();
        }
        // What that read produced leaves (coalesced writes are microtasks) before the next socket is read:
        // a batch of many busy sockets would otherwise hold all their messages at once.
        await undefined;
        this.#releaseWrites();
      }
      if (n > 0) handled = true;
    }
    this.#releaseWrites();
    this.#running = false;
  }
}

const WAKE = new Uint8Array(new BigUint64Array([1n]).buffer);
const DRAIN = new Uint8Array(8);
// Reads are synchronous and `onData` may only use its view during the call: one buffer serves all.
const readBuffer = new Uint8Array(READ_SIZE);

let poller: Poller | undefined;
const thePoller = (): Poller => poller ??= new Poller();

/** An accepted connection on the epoll set. */
export class EpollTransport extends Coalescer implements Transport, Watched {
  readonly remote: string;
  readonly #fd: number;
  #onData: ((bytes: Uint8Array) => void) | undefined;
  #onClose: (() => void) | undefined;
  /** Output the socket did not take yet, and who waits for it. */
  #unsent: Uint8Array | undefined;
  #sent: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #interest = 0;
  #paused = false;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #released = false;

  constructor(fd: number, remote: string, lowWater: number) {
    super(lowWater);
    this.#fd = fd;
    this.remote = remote;
  }

  start(onData: (bytes: Uint8Array) => void, onClose: () => void): void {
    this.#onData = onData;
    this.#onClose = onClose;
    this.#interest = EPOLLIN | EPOLLRDHUP;
    thePoller().watch(this.#fd, this.#interest, this);
  }

  #want(interest: number): void {
    if (interest === this.#interest || this.#released) return;
    this.#interest = interest;
    thePoller().change(this.#fd, interest);
  }

  ready(events: number): void {
    if (events & EPOLLOUT) this.#writeMore();
    if (!this.#paused && !this.#released) this.#readSome();
  }

  failed(): void {
    this.#end();
  }

  /** One read per wake-up: epoll is level-triggered, so a socket with more to read is reported again. */
  #readSome(): void {
    let n = libc!.read(this.#fd, readBuffer, READ_SIZE);
    while (n < 0 && errno() === EINTR) n = libc!.read(this.#fd, readBuffer, READ_SIZE);
    if (n > 0) {
      if (this.closed) return; // closing: read and drop
      this.#onData!(readBuffer.subarray(0, n));
      if (!this.closed && this.buffered > this.lowWater * 4) this.#pause();
    } else if (n === 0 || errno() !== EAGAIN) {
      this.#end();
    }
  }

  // A client that does not read its output stops being read, until the output drains.
  #pause(): void {
    this.#paused = true;
    this.#want(this.#unsent ? EPOLLOUT : 0);
    void this.drained().then(() => {
      this.#paused = false;
      if (this.#released) return;
      this.#want(EPOLLIN | EPOLLRDHUP | (this.#unsent ? EPOLLOUT : 0));
      this.#readSome();
    });
  }

  protected override osBuffered(): number {
    return this.#unsent?.length ?? 0;
  }

  protected send(data: Uint8Array): Promise<void> | Held | void {
    const n = libc!.write(this.#fd, data, data.length);
    if (n === data.length) return thePoller().afterWrite();
    if (n < 0 && errno() !== EAGAIN && errno() !== EINTR) throw new Error(`write failed (errno ${errno()})`);
    this.#unsent = n > 0 ? data.subarray(n) : data;
    this.#want(this.#interest | EPOLLOUT);
    return new Promise((resolve, reject) => this.#sent = { resolve, reject });
  }

  #writeMore(): void {
    const data = this.#unsent;
    if (!data) return this.#want(this.#interest & ~EPOLLOUT);
    const n = libc!.write(this.#fd, data, data.length);
    if (n === data.length) {
      this.#unsent = undefined;
      this.#want(this.#interest & ~EPOLLOUT);
      const sent = this.#sent;
      this.#sent = undefined;
      sent?.resolve();
    } else if (n > 0) {
      this.#unsent = data.subarray(n);
    } else if (errno() !== EAGAIN && errno() !== EINTR) {
      this.#end();
    }
  }

  protected shut(): void {
    // Half-close, as on Deno.listen: the peer reads everything we wrote; what it still sends is read and
    // dropped until it closes too (LINGER_MS at most), instead of a reset that can destroy our last bytes.
    if (this.#released) return;
    if (this.#onData === undefined || libc!.shutdown(this.#fd, SHUT_WR) < 0) return this.#release();
    this.#linger = setTimeout(() => this.#end(), LINGER_MS);
    Deno.unrefTimer(this.#linger);
  }

  /** The connection is over: stop watching, close the socket, tell the owner once. */
  #end(): void {
    this.close();
    this.#release();
    const cb = this.#onClose;
    this.#onClose = undefined;
    cb?.();
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    clearTimeout(this.#linger);
    if (this.#onData !== undefined) thePoller().forget(this.#fd);
    libc!.close(this.#fd);
    const sent = this.#sent;
    this.#sent = undefined;
    this.#unsent = undefined;
    sent?.reject(new Error("connection closed"));
  }
}

/** A listening socket on the epoll set. */
class EpollListener implements Watched {
  readonly port: number;
  readonly #fd: number;
  readonly #v6: boolean;
  readonly #addr: Uint8Array;
  readonly #addrLen = new Uint32Array(1);
  readonly #onConnection: (t: Transport) => void;
  readonly #lowWater: number;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(hostname: string, port: number, lowWater: number, onConnection: (t: Transport) => void) {
    const c = lib();
    const address = parseAddress(hostname);
    this.#v6 = address.length === 16;
    this.#addr = new Uint8Array(this.#v6 ? 28 : 16);
    this.#onConnection = onConnection;
    this.#lowWater = lowWater;
    const fd = c.socket(this.#v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`socket failed (errno ${errno()})`);
    try {
      const one = new Int32Array([1]);
      c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, 4);
      if (this.#v6) c.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, new Int32Array([0]), 4);
      const sa = sockaddr(address, port);
      if (c.bind(fd, sa, sa.length) < 0) throw addrError("bind", hostname, port);
      if (c.listen(fd, 4096) < 0) throw addrError("listen", hostname, port);
      const len = new Uint32Array([sa.length]);
      c.getsockname(fd, sa, len);
      this.port = (sa[2] << 8) | sa[3];
    } catch (e) {
      c.close(fd);
      throw e;
    }
    this.#fd = fd;
    thePoller().watch(fd, EPOLLIN, this);
  }

  ready(): void {
    const c = libc!;
    while (!this.#closed) {
      this.#addrLen[0] = this.#addr.length;
      const fd = c.accept4(this.#fd, this.#addr, this.#addrLen, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        const e = errno();
        if (e === EINTR) continue;
        if (e === EMFILE || e === ENFILE) this.#pauseAccepting();
        return;
      }
      c.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, NODELAY, 4);
      const t = new EpollTransport(fd, formatRemote(this.#addr), this.#lowWater);
      try {
        this.#onConnection(t);
      } catch {
        t.close(); // the plugin could not take it: the one connection is refused, accepting goes on
      }
    }
  }

  // Out of file descriptors: the pending connection stays ready, so stop asking for a while.
  #pauseAccepting(): void {
    thePoller().change(this.#fd, 0);
    this.#retry = setTimeout(() => {
      if (!this.#closed) thePoller().change(this.#fd, EPOLLIN);
    }, ACCEPT_RETRY_MS);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retry);
    thePoller().forget(this.#fd);
    libc!.close(this.#fd);
  }
}

const NODELAY = new Int32Array([1]);

/** Listens on `hostname:port` (an IP address or "localhost"); `port` 0 picks a free one. */
export function listenEpoll(
  hostname: string,
  port: number,
  lowWater: number,
  onConnection: (t: Transport) => void,
): { readonly port: number; close(): void } {
  return new EpollListener(hostname, port, lowWater, onConnection);
}

function addrError(call: string, hostname: string, port: number): Error {
  const e = errno();
  const why = e === 98 ? "address in use" : e === 99 ? "address not available" : `errno ${e}`;
  return new Error(`${call} ${hostname}:${port} failed: ${why}`);
}

/** The 4 or 16 bytes of an IP address literal. */
function parseAddress(hostname: string): Uint8Array {
  const host = hostname === "localhost" ? "127.0.0.1" : hostname.replace(/^\[|\]$/g, "");
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4) {
    const bytes = v4.slice(1).map(Number);
    if (bytes.every((b) => b <= 255)) return new Uint8Array(bytes);
  } else if (host.includes(":")) {
    const [head, tail = ""] = host.split("::");
    const groups = (s: string) => s === "" ? [] : s.split(":").map((g) => parseInt(g, 16));
    const h = groups(head), t = groups(tail);
    const all = host.includes("::") ? [...h, ...new Array(8 - h.length - t.length).fill(0), ...t] : h;
    if (all.length === 8 && all.every((g) => g >= 0 && g <= 0xffff)) {
      const out = new Uint8Array(16);
      all.forEach((g, i) => {
        out[i * 2] = g >> 8;
        out[i * 2 + 1] = g & 0xff;
      });
      return out;
    }
  }
  throw new Error(`the epoll transport listens on an IP address, not "${hostname}"`);
}

function sockaddr(address: Uint8Array, port: number): Uint8Array {
  const v6 = address.length === 16;
  const sa = new Uint8Array(v6 ? 28 : 16);
  new DataView(sa.buffer).setUint16(0, v6 ? AF_INET6 : AF_INET, true);
  sa[2] = port >> 8;
  sa[3] = port & 0xff;
  sa.set(address, v6 ? 8 : 4);
  return sa;
}

/** "ip:port" of a peer, as Deno.listen's transports write it. */
function formatRemote(sa: Uint8Array): string {
  const port = (sa[2] << 8) | sa[3];
  if (sa[0] === AF_INET) return `${sa[4]}.${sa[5]}.${sa[6]}.${sa[7]}:${port}`;
  const a = sa.subarray(8, 24);
  // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d.
  if (a.subarray(0, 10).every((b) => b === 0) && a[10] === 0xff && a[11] === 0xff) {
    return `${a[12]}.${a[13]}.${a[14]}.${a[15]}:${port}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((a[i] << 8) | a[i + 1]);
  // RFC 5952: the longest run of two or more zero groups becomes "::".
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  const text = best < 0 ? hex(groups) : `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
  return `[${text}]:${port}`;
}
