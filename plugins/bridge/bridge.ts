/**
 * One bridge: an AMQP 1.0 client connection (rhea) to a peer broker and the forward links that feed it.
 * A single anonymous sender carries every link's messages (each names its address in `to`); each link
 * consumes only while the connection is open. When the connection drops, what was in flight goes back to
 * the local queues and the bridge reconnects with exponential backoff.
 *
 * @module
 */
import rhea from "rhea";
import type { BrokerApi, Logger } from "../../mod.ts";
import type { ForwardLink, ForwardRule, InFlight } from "./link.ts";

// deno-lint-ignore no-explicit-any
type Rhea = any;

/** The bridge's options, as validated against plugin.json. */
export interface BridgeOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  tls: boolean | { ca?: string; servername?: string; verify?: boolean };
  forward: ForwardRule[];
  credit: number;
  reconnect: { initialMs: number; maxMs: number };
  idleTimeoutMs: number;
}

/** What the bridge reports: for the admin API and the console. */
export interface BridgeStatus {
  /** Plugin instance id (`as` in broker.json). */
  readonly id: string;
  /** "host:port" of the peer. */
  readonly peer: string;
  /** The peer's node id, from its AMQP container id, once it is known. */
  readonly peerNodeId?: string;
  /** The AMQP connection is open and the sender attached. */
  readonly connected: boolean;
  /** Messages the peer accepted. */
  readonly forwarded: number;
  /** Messages not forwarded because their route holds this node or the peer (loop guard). */
  readonly skipped: number;
  /** Messages the peer rejected (dead-lettered here). */
  readonly rejected: number;
  /** Messages the peer released or modified (back to their queue here). */
  readonly redelivered: number;
  /** Messages waiting to be forwarded: in the local queues plus those held or in flight. */
  readonly pending: number;
  /** Connection attempts that failed or connections lost since start. */
  readonly failures: number;
  readonly lastError?: string;
  /** When lastError happened, ms since the epoch. */
  readonly lastErrorAt?: number;
  /** When the next connection attempt is due, while disconnected. */
  readonly nextAttemptAt?: number;
  /** Per forward rule. */
  readonly links: readonly {
    readonly from: string;
    readonly queue: string;
    readonly forwarded: number;
    /** Of this rule's messages, rejected and released or modified by the peer. */
    readonly rejected: number;
    readonly redelivered: number;
    readonly pending: number;
    /** The peer's last refusal of one of them: "rejected: <condition>: <description>", "released". */
    readonly lastRefusal?: string;
    /** While paused after a release: when it takes messages again, ms since the epoch. */
    readonly retryAt?: number;
  }[];
}

/** The delay before attempt `n` (0-based) after a failure: initialMs doubled per attempt, at most maxMs. */
export function backoff(n: number, o: { initialMs: number; maxMs: number }): number {
  return Math.min(o.maxMs, o.initialMs * 2 ** Math.min(n, 30));
}

/** A bridge to one peer. */
export class Bridge {
  readonly #id: string;
  readonly #o: BridgeOptions;
  readonly #broker: BrokerApi;
  readonly #log: Logger;
  readonly #links: readonly ForwardLink[];
  readonly #tls: Record<string, unknown> | undefined;
  #conn: Rhea | undefined;
  #sender: Rhea | undefined;
  #connected = false;
  #stopped = false;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  #lastError: string | undefined;
  #lastErrorAt: number | undefined;
  #nextAttemptAt: number | undefined;
  #peerNodeId: string | undefined;
  readonly #inflight = new Map<Rhea, InFlight>();
  /** Settles when the current connection's socket is closed. */
  #closed: Promise<void> = Promise.resolve();

  constructor(
    id: string,
    o: BridgeOptions,
    deps: { broker: BrokerApi; log: Logger; links: readonly ForwardLink[]; tls?: Record<string, unknown> },
  ) {
    this.#id = id;
    this.#o = o;
    this.#broker = deps.broker;
    this.#log = deps.log;
    this.#links = deps.links;
    this.#tls = deps.tls;
    for (const l of this.#links) l.onDelivery = () => this.#pump();
  }

  /** Prepares the sources (durable subscription queues for topics) and starts connecting. */
  async start(): Promise<void> {
    for (const l of this.#links) await l.prepare();
    this.#connect();
  }

  status(): BridgeStatus {
    let forwarded = 0, skipped = 0, rejected = 0, redelivered = 0, pending = 0;
    const links = this.#links.map((l) => {
      forwarded += l.counters.forwarded;
      skipped += l.counters.skipped;
      rejected += l.counters.rejected;
      redelivered += l.counters.redelivered;
      const p = l.queued() + l.inMemory;
      pending += p;
      return {
        from: `${l.kind}://${l.source}`,
        queue: l.queue,
        forwarded: l.counters.forwarded,
        rejected: l.counters.rejected,
        redelivered: l.counters.redelivered,
        pending: p,
        lastRefusal: l.lastRefusal,
        retryAt: l.retryAt,
      };
    });
    return {
      id: this.#id,
      peer: `${this.#o.host}:${this.#o.port}`,
      peerNodeId: this.#peerNodeId,
      connected: this.#connected,
      forwarded,
      skipped,
      rejected,
      redelivered,
      pending,
      failures: this.#failures,
      lastError: this.#lastError,
      lastErrorAt: this.#lastErrorAt,
      nextAttemptAt: this.#connected ? undefined : this.#nextAttemptAt,
      links,
    };
  }

  #connect(): void {
    this.#timer = undefined;
    this.#nextAttemptAt = undefined;
    if (this.#stopped) return;
    const o = this.#o;
    const container = rhea.create_container({ id: `ferrymq-bridge-${this.#broker.nodeId}-${this.#id}` });
    const opts: Record<string, unknown> = {
      host: o.host,
      port: o.port,
      reconnect: false,
      idle_time_out: o.idleTimeoutMs || undefined,
      ...(this.#tls ? { transport: "tls", ...this.#tls } : {}),
    };
    if (o.username !== undefined && o.password !== undefined) {
      opts.username = o.username;
      opts.password = o.password;
    } else {
      // rhea offers ANONYMOUS for a user name without a password; the name is trace information only.
      opts.username = o.username ?? `bridge-${this.#broker.nodeId}`;
    }
    const conn: Rhea = container.connect(opts as Rhea);
    this.#conn = conn;
    let socketClosed!: () => void;
    this.#closed = new Promise<void>((r) => socketClosed = r);
    const socket = conn.socket;
    if (socket) socket.once("close", () => socketClosed());
    else socketClosed();

    const mine = (fn: (c: Rhea) => void) => (c: Rhea) => {
      if (this.#conn === conn) fn(c);
    };
    conn.on(
      "connection_open",
      mine((c) => {
        const cid: string | undefined = c.connection.remote?.open?.container_id;
        this.#peerNodeId = cid?.startsWith("ferrymq-") ? cid.slice("ferrymq-".length) : cid;
        this.#sender = conn.open_sender({ target: {}, autosettle: true });
      }),
    );
    conn.on(
      "sender_open",
      mine(() => {
        this.#connected = true;
        this.#attempt = 0;
        this.#log.info(`connected to ${o.host}:${o.port}`, { peerNodeId: this.#peerNodeId });
        for (const l of this.#links) {
          l.start(this.#peerNodeId).catch((e) =>
            this.#lost(conn, `cannot consume ${l.source}: ${e.message}`)
          );
        }
      }),
    );
    conn.on("sendable", mine(() => this.#pump()));
    const outcome = (name: "accepted" | "rejected" | "released" | "modified") =>
      mine((c) => {
        const f = this.#inflight.get(c.delivery);
        if (!f) return;
        this.#inflight.delete(c.delivery);
        const e = c.delivery.remote_state?.error;
        const keep = name === "rejected" && refusesRoute(e?.condition);
        if (name === "rejected") {
          this.#log.warn(
            `the peer rejected a message; ${keep ? "kept here to retry" : "dead-lettered here"}`,
            {
              from: `${f.link.kind}://${f.link.source}`,
              condition: e?.condition,
              description: e?.description,
            },
          );
        }
        const counted = name !== "modified" || c.delivery.remote_state?.delivery_failed !== false;
        f.link.settle(f, keep ? "refused" : name, counted, e && errorText(e, ""));
      });
    for (const name of ["accepted", "rejected", "released", "modified"] as const) {
      conn.on(name, outcome(name));
    }
    conn.on(
      "sender_close",
      mine((c) => this.#lost(conn, errorText(c.sender?.remote?.detach?.error, "link closed"))),
    );
    conn.on("sender_error", () => {});
    conn.on(
      "connection_error",
      mine((c) => this.#lost(conn, errorText(c.error ?? c.connection?.error, "connection error"))),
    );
    conn.on(
      "connection_close",
      mine((c) => this.#lost(conn, errorText(c.error ?? c.connection?.error, "closed by the peer"))),
    );
    conn.on(
      "disconnected",
      mine((c) => this.#lost(conn, c.error?.message ?? String(c.error ?? "disconnected"))),
    );
    conn.on("error", mine((e) => this.#lost(conn, (e as Error)?.message ?? String(e))));
  }

  /** Sends what the links hold while the sender has credit. */
  #pump(): void {
    const sender = this.#sender;
    if (!this.#connected || !sender) return;
    let progress = true;
    while (progress && sender.sendable()) {
      progress = false;
      for (const l of this.#links) {
        if (!sender.sendable()) break;
        const out = l.next();
        if (!out) continue;
        progress = true;
        this.#inflight.set(sender.send(out.message), out.inflight);
      }
    }
  }

  /** The connection failed or dropped: requeue, log, schedule the next attempt. Once per connection. */
  #lost(conn: Rhea, why: string): void {
    if (this.#conn !== conn) return;
    this.#conn = undefined;
    this.#sender = undefined;
    const was = this.#connected;
    this.#connected = false;
    this.#inflight.clear();
    if (!this.#stopped) {
      this.#failures++;
      this.#lastError = why;
      this.#lastErrorAt = Date.now();
    }
    for (const l of this.#links) {
      l.stop().catch((e) => this.#log.warn(`cannot stop consuming ${l.source}`, { error: e }));
    }
    closeQuietly(conn);
    if (this.#stopped) return;
    const delay = backoff(this.#attempt++, this.#o.reconnect);
    this.#nextAttemptAt = Date.now() + delay;
    this.#log.warn(
      was
        ? `link to ${this.#o.host}:${this.#o.port} dropped: ${why}`
        : `cannot connect to ${this.#o.host}:${this.#o.port}: ${why}`,
      { retryInMs: delay },
    );
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  /** Closes the connection and the local consumers; nothing is left running. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const conn = this.#conn;
    if (conn) {
      const closed = this.#closed;
      this.#lost(conn, "bridge stopped");
      let t: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([closed, new Promise((r) => t = setTimeout(r, 2000))]);
      clearTimeout(t);
      conn.socket?.destroy?.();
    }
    await Promise.all(this.#links.map((l) => l.close()));
  }
}

// Rejections that name the route, not the message (the peer's ACL, a missing or reserved destination): every
// message of the rule would get the same until the peer's configuration or ours changes, so they wait in
// their queue rather than being dead-lettered one by one (dropped, without the dlq plugin).
const ROUTE_REFUSALS = new Set([
  "amqp:unauthorized-access",
  "amqp:not-found",
  "amqp:invalid-field",
  "amqp:not-allowed",
]);
const refusesRoute = (condition: string | undefined) =>
  condition !== undefined && ROUTE_REFUSALS.has(condition);

function errorText(e: { condition?: string; description?: string } | undefined, fallback: string): string {
  if (!e) return fallback;
  return [e.condition, e.description].filter(Boolean).join(": ") || fallback;
}

/** Closes a connection that may be half open; the socket follows. */
function closeQuietly(conn: Rhea): void {
  try {
    if (conn.is_open?.()) conn.close();
    else conn.socket?.end?.();
  } catch {
    conn.socket?.destroy?.();
  }
}
