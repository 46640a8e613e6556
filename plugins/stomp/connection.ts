/**
 * One STOMP connection: CONNECT and version negotiation, heart-beats, SEND / SUBSCRIBE / ACK / NACK,
 * transactions, receipts and ERROR frames. Frames are handled in order; SEND receipts follow the
 * store's commits.
 *
 * @module
 */
import {
  type BrokerApi,
  type Delivery,
  type DeliverySink,
  isReject,
  type Logger,
  type MessageInit,
  type Session,
  type Subscription,
  type SubscriptionSpec,
  type Transport,
} from "../../mod.ts";
import { encodeFrame } from "./frame_encoder.ts";
import {
  type Frame,
  FrameError,
  type FrameLimits,
  FrameParser,
  negotiate,
  SUPPORTED_VERSIONS,
} from "./frame_parser.ts";
import { messageHeaders, parseDestination, type Prefixes, sendInit } from "./message_map.ts";

/** Plugin options a connection uses. */
export interface StompOptions extends FrameLimits, Prefixes {
  heartBeatMs: number;
  defaultPrefetch: number;
  connectTimeoutMs: number;
}

interface Sub {
  readonly id: string;
  readonly mode: "auto" | "client" | "client-individual";
  readonly sub: Subscription;
  /** Delivered, unacked tags in delivery order (client modes). */
  readonly pending: number[];
  /** An auto-ack subscription waiting for its client to read what was written (its credit is 0 meanwhile). */
  paused?: boolean;
  /** 1.0 and 1.1 ack by message-id: the tag of each pending message's delivery, and back (client modes). */
  byMessage?: Map<string, number>;
  messageOf?: Map<number, string>;
}

type TxOp = { kind: "send"; init: MessageInit } | { kind: "ack" | "nack"; frame: Frame };

/** A STOMP client connection. */
export class StompConnection implements DeliverySink {
  readonly #broker: BrokerApi;
  readonly #t: Transport;
  readonly #o: StompOptions;
  readonly #log: Logger;
  readonly #listener: string;
  readonly #parser: FrameParser;
  #version = "1.0";
  #session: Session | undefined;
  #state: "new" | "connecting" | "open" | "closed" = "new";
  #subs = new Map<string, Sub>();
  #bySub = new Map<Subscription, Sub>();
  #early = new Map<Subscription, Delivery[]>();
  #tx = new Map<string, TxOp[]>();
  #queue: Promise<void> = Promise.resolve();
  #lastIn = Date.now();
  readonly #openedAt = Date.now();
  #lastOut = Date.now();
  #sendEvery = 0;
  #expectEvery = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #tickMs = TICK_MS;
  /** CONNECT named the client (client-id), as a durable subscription needs. */
  #namedClient = false;
  /** The input had a frame that does not parse: what follows it is not read. */
  #unparsable = false;
  #endedResolve!: () => void;
  readonly ended: Promise<void> = new Promise((r) => this.#endedResolve = r);

  constructor(
    init: { broker: BrokerApi; transport: Transport; options: StompOptions; log: Logger; listener: string },
  ) {
    this.#broker = init.broker;
    this.#t = init.transport;
    this.#o = init.options;
    this.#log = init.log;
    this.#listener = init.listener;
    this.#parser = new FrameParser(init.options);
  }

  get listener(): string {
    return this.#listener;
  }
  get closed(): boolean {
    return this.#state === "closed";
  }

  start(ended: (c: StompConnection) => void): void {
    this.ended.then(() => ended(this));
    this.#t.start((b) => this.#onBytes(b), () => void this.#end("connection lost"));
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  #onBytes(bytes: Uint8Array): void {
    this.#lastIn = Date.now();
    if (this.#unparsable) return;
    try {
      this.#parser.push(bytes, (f) => {
        this.#enqueue(f);
        return this.#state !== "closed";
      });
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      // The frames before the bad one are handled first (a CONNECT answered, SENDs published), then the ERROR.
      this.#unparsable = true;
      this.#queue = this.#queue.then(() => this.#error(e.message));
    }
  }

  // Frames run one after another; only those that wait on the core (CONNECT, SUBSCRIBE) hold the line.
  #enqueue(f: Frame): void {
    this.#queue = this.#queue.then(() => this.#state === "closed" ? undefined : this.#handle(f)).catch((e) =>
      this.#error(`internal error: ${(e as Error)?.message ?? e}`)
    );
  }

  async #handle(f: Frame): Promise<void> {
    if (this.#state === "new") {
      if (f.command !== "CONNECT" && f.command !== "STOMP") return this.#error(`${f.command} before CONNECT`);
      this.#state = "connecting";
      return await this.#connect(f);
    }
    if (f.command === "CONNECT" || f.command === "STOMP") return this.#error("already connected");
    const h = f.headers;
    const tx = h.transaction;
    switch (f.command) {
      case "SEND": {
        const dest = parseDestination(h.destination, this.#o);
        if (isReject(dest)) return this.#error(dest.reason, h.receipt);
        // A body is a view into the parser's buffer: a small one in a large buffer (grown by a big frame
        // before it) is copied, or the queued message would keep the whole buffer alive.
        const body = f.body.byteLength < 4096 || f.body.byteLength * 4 < f.body.buffer.byteLength
          ? f.body.slice()
          : f.body;
        const init = sendInit(h, body, dest, this.#o);
        if (isReject(init)) return this.#error(init.reason, h.receipt);
        if (tx !== undefined) return this.#inTx(tx, { kind: "send", init }, h.receipt);
        const receipt = h.receipt;
        const seq = this.#issued++;
        this.#session!.publish(init).then((r) => {
          this.#answer(seq, () => r ? this.#error(r.reason, receipt) : this.#writeReceipt(receipt));
        }, (e) => {
          this.#answer(seq, () => this.#error(String(e?.message ?? e), receipt));
        });
        return;
      }
      case "SUBSCRIBE":
        return await this.#subscribe(f);
      case "UNSUBSCRIBE": {
        const id = h.id ?? h.destination;
        const s = id === undefined ? undefined : this.#subs.get(id);
        if (!s) return this.#error(`No subscription "${id}"`, h.receipt);
        this.#subs.delete(s.id);
        this.#bySub.delete(s.sub);
        await s.sub.cancel();
        return this.#receipt(h.receipt);
      }
      case "ACK":
      case "NACK":
        if (tx !== undefined) {
          return this.#inTx(tx, { kind: f.command === "ACK" ? "ack" : "nack", frame: f }, h.receipt);
        }
        if (!this.#settle(f)) return this.#error(`Unknown message to ${f.command.toLowerCase()}`, h.receipt);
        return this.#receipt(h.receipt);
      case "BEGIN":
        if (!tx) return this.#error("BEGIN without a transaction header", h.receipt);
        if (this.#tx.has(tx)) return this.#error(`Transaction "${tx}" is already open`, h.receipt);
        this.#tx.set(tx, []);
        return this.#receipt(h.receipt);
      case "COMMIT":
        return await this.#commit(tx, h.receipt);
      case "ABORT":
        if (!tx || !this.#tx.delete(tx)) return this.#error(`No transaction "${tx}"`, h.receipt);
        return this.#receipt(h.receipt);
      case "DISCONNECT":
        // Its receipt says every frame before it was processed: the SENDs still being stored first.
        if (this.#answered !== this.#issued) await new Promise<void>((r) => this.#idle = r);
        this.#writeReceipt(h.receipt);
        this.#t.end();
        return await this.#end("client disconnected");
    }
  }

  async #connect(f: Frame): Promise<void> {
    const h = f.headers;
    // Over WebSocket the subprotocol agreed at the upgrade names the version (v10.stomp is STOMP 1.0).
    const allowed = WS_VERSIONS[this.#t.subprotocol ?? ""] ?? SUPPORTED_VERSIONS;
    const version = negotiate(h["accept-version"], allowed);
    if (!version) {
      this.#write("ERROR", {
        version: allowed.join(","),
        message: `Supported protocol versions are ${allowed.join(" ")}`,
      });
      return this.#close("unsupported version");
    }
    this.#version = this.#parser.version = version;
    const enc = new TextEncoder();
    this.#namedClient = h["client-id"] !== undefined;
    const session = await this.#broker.openSession({
      clientId: h["client-id"] ?? `stomp-${crypto.randomUUID()}`,
      protocol: "stomp",
      remote: this.#t.remote,
      listener: this.#listener,
      certificateSubject: this.#t.certificateSubject,
      username: h.login,
      password: h.passcode === undefined ? undefined : enc.encode(h.passcode),
    }, this);
    if (isReject(session)) {
      return this.#error(session.code === "bad_credentials" ? "Bad login or passcode" : session.reason);
    }
    if (this.#t.closed) return void await session.close("connection lost during CONNECT");
    this.#session = session;
    const [cx, cy] = (h["heart-beat"] ?? "0,0").split(",").map((n) => Number(n) || 0);
    const hb = this.#o.heartBeatMs;
    this.#sendEvery = cy > 0 && hb > 0 ? Math.max(cy, hb) : 0;
    this.#expectEvery = cx > 0 && hb > 0 ? Math.max(cx, hb) : 0;
    if (this.#sendEvery > 0 && this.#sendEvery < 2 * TICK_MS) {
      // Beats under two ticks apart need a faster clock, or they go out late.
      clearInterval(this.#timer);
      this.#tickMs = Math.max(10, Math.floor(this.#sendEvery / 2));
      this.#timer = setInterval(() => this.#tick(), this.#tickMs);
    }
    this.#state = "open";
    this.#write("CONNECTED", {
      version,
      server: "FerryMQ/0.1",
      session: session.id,
      "heart-beat": `${hb},${hb}`,
    });
  }

  async #subscribe(f: Frame): Promise<void> {
    const h = f.headers;
    const dest = parseDestination(h.destination, this.#o);
    if (isReject(dest)) return this.#error(dest.reason, h.receipt);
    const id = h.id ?? (this.#version === "1.0" ? h.destination : undefined);
    if (id === undefined) return this.#error("SUBSCRIBE needs an id header", h.receipt);
    if (this.#subs.has(id)) return this.#error(`Subscription "${id}" exists`, h.receipt);
    const mode = (h.ack ?? "auto") as Sub["mode"];
    if (mode !== "auto" && mode !== "client" && mode !== "client-individual") {
      return this.#error(`Unknown ack mode "${mode}"`, h.receipt);
    }
    const prefetch = Number(h["prefetch-count"] ?? h["activemq.prefetchSize"] ?? this.#o.defaultPrefetch);
    if (!(prefetch > 0)) return this.#error(`Bad prefetch-count "${h["prefetch-count"]}"`, h.receipt);
    const durable = h["durable-subscription-name"] ?? h["activemq.subscriptionName"];
    if (durable && dest.kind === "topic" && !this.#namedClient) {
      // Its name is kept under the client id: a generated one would be lost with the connection.
      return this.#error("A durable subscription needs a client-id header on CONNECT", h.receipt);
    }
    const spec: SubscriptionSpec = {
      kind: dest.kind,
      destination: dest.name,
      selector: h.selector,
      ack: mode === "auto" ? "auto" : "client",
      prefetch: mode === "auto" ? Infinity : prefetch,
      durable: dest.kind === "topic" && durable
        // Under the principal too: another user naming the same client-id gets a subscription of their own.
        ? `$stomp.durable.${encodeURIComponent(this.#session!.principal.id)}.${
          encodeURIComponent(this.#session!.client.clientId)
        }.${durable}`
        : undefined,
    };
    const sub = await this.#session!.subscribe(spec);
    if (isReject(sub)) return this.#error(sub.reason, h.receipt);
    const s: Sub = { id, mode, sub, pending: [] };
    this.#subs.set(id, s);
    this.#bySub.set(sub, s);
    this.#receipt(h.receipt);
    const early = this.#early.get(sub);
    if (early) {
      this.#early.delete(sub);
      for (const d of early) this.deliver(sub, d);
    }
  }

  deliver(sub: Subscription, d: Delivery): void {
    const s = this.#bySub.get(sub);
    if (!s) {
      const list = this.#early.get(sub) ?? [];
      list.push(d);
      this.#early.set(sub, list);
      return;
    }
    let ack: string | undefined;
    if (s.mode !== "auto") {
      s.pending.push(d.tag);
      if (this.#version === "1.2") ack = `${s.id}:${d.tag}`;
      else {
        (s.byMessage ??= new Map()).set(d.message.id, d.tag);
        (s.messageOf ??= new Map()).set(d.tag, d.message.id);
      }
    }
    this.#write("MESSAGE", messageHeaders(d, s.id, ack, this.#o), d.message.body);
    // Auto-acked deliveries have no window: a client that does not read stops them at the socket, and the
    // rest wait in their queue (visible, under its limits) rather than in the broker's write buffer.
    if (s.mode === "auto" && !s.paused && this.#t.buffered > AUTO_PAUSE_BYTES) {
      s.paused = true;
      s.sub.setCredit(0);
      void this.#t.drained().then(() => {
        s.paused = false;
        if (!this.closed) s.sub.setCredit(Infinity);
      });
    }
  }

  // ACK/NACK name a delivery: 1.2 by its "id" ("<subscription>:<tag>", the MESSAGE's ack header); 1.1 by
  // "subscription" and "message-id"; 1.0 by "message-id" alone.
  #target(f: Frame): { s: Sub; tag: number } | undefined {
    const h = f.headers;
    if (this.#version !== "1.2") {
      const id = h["message-id"];
      if (id === undefined) return;
      const candidates = h.subscription !== undefined
        ? [this.#subs.get(h.subscription)]
        : this.#subs.values();
      for (const s of candidates) {
        const tag = s?.byMessage?.get(id);
        if (tag !== undefined && s!.pending.includes(tag)) return { s: s!, tag };
      }
      return;
    }
    const ref = h.id;
    const colon = ref?.lastIndexOf(":") ?? -1;
    if (!ref || colon < 0) return;
    const s = this.#subs.get(ref.slice(0, colon));
    const tag = Number(ref.slice(colon + 1));
    if (!s || s.mode === "auto" || !s.pending.includes(tag)) return;
    return { s, tag };
  }

  #settle(f: Frame): boolean {
    const target = this.#target(f);
    if (!target) return false;
    const { s, tag } = target;
    const at = s.pending.indexOf(tag);
    if (at < 0) return true; // an earlier cumulative ACK of the same transaction took it
    const tags = s.mode === "client" ? s.pending.splice(0, at + 1) : s.pending.splice(at, 1); // client = cumulative
    if (s.messageOf) {
      for (const t of tags) {
        const id = s.messageOf.get(t)!;
        s.messageOf.delete(t);
        if (s.byMessage!.get(id) === t) s.byMessage!.delete(id);
      }
    }
    if (f.command === "ACK") s.sub.ack(tags);
    else s.sub.nack(tags, true);
    s.sub.credit(tags.length);
    return true;
  }

  // Receipts go out in the order of their frames, so a receipt says every frame before it was processed
  // [STOMP 1.2 "RECEIPT"]: a SEND's answer waits for the store, and answers that come sooner wait behind it.
  /** Answers handed a place in that order. */
  #issued = 0;
  /** Answers written. */
  #answered = 0;
  /** Answers ready before an earlier one, by place. */
  readonly #held = new Map<number, () => void>();
  /** A DISCONNECT waiting for every answer before it. */
  #idle: (() => void) | undefined;

  /** Writes the answer at place `seq` once every earlier one is out. */
  #answer(seq: number, write: () => void): void {
    if (seq !== this.#answered) {
      this.#held.set(seq, write);
      return;
    }
    write();
    for (let next = this.#held.get(++this.#answered); next; next = this.#held.get(++this.#answered)) {
      this.#held.delete(this.#answered);
      next();
    }
    if (this.#answered === this.#issued && this.#idle) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
  }

  #inTx(tx: string, op: TxOp, receipt: string | undefined): void {
    const ops = this.#tx.get(tx);
    if (!ops) return this.#error(`No transaction "${tx}"`, receipt);
    ops.push(op);
    this.#receipt(receipt);
  }

  // Sends and acks of a transaction apply together: every send is published (and committed by the
  // store in one turn) before the receipt; acks are applied after the sends were accepted.
  async #commit(tx: string | undefined, receipt: string | undefined): Promise<void> {
    const ops = tx === undefined ? undefined : this.#tx.get(tx);
    if (!ops) return this.#error(`No transaction "${tx}"`, receipt);
    this.#tx.delete(tx!);
    const sends = ops.filter((o): o is { kind: "send"; init: MessageInit } => o.kind === "send");
    // Every ACK and NACK names a delivery before anything applies: a bad one fails the whole COMMIT.
    if (ops.some((o) => o.kind !== "send" && !this.#target(o.frame))) {
      return this.#error(`Transaction "${tx}": unknown message`, receipt);
    }
    // All or none: every send is checked (authorized, valid, its queue there) before any is published, and
    // the persistent ones share one store commit.
    const failed = await this.#session!.publishBatch(sends.map((o) => o.init));
    if (failed) return this.#error(`Transaction "${tx}" refused: ${failed.reason}`, receipt);
    for (const o of ops) if (o.kind !== "send") this.#settle(o.frame);
    this.#receipt(receipt);
  }

  /** The RECEIPT of a frame handled now, behind the answers of SENDs before it still being stored. */
  #receipt(id: string | undefined): void {
    if (id === undefined) return;
    if (this.#answered === this.#issued) this.#writeReceipt(id);
    else this.#answer(this.#issued++, () => this.#writeReceipt(id));
  }

  #writeReceipt(id: string | undefined): void {
    if (id !== undefined) this.#write("RECEIPT", { "receipt-id": id });
  }

  #write(
    command: string,
    headers: Record<string, string | number | boolean | undefined>,
    body?: Uint8Array,
  ): void {
    if (this.#t.closed) return;
    this.#lastOut = Date.now();
    this.#t.write(encodeFrame(command, headers, body, this.#version));
  }

  /** ERROR with a message header, then close [STOMP 1.2 "ERROR"]. */
  #error(message: string, receipt?: string): void {
    if (this.#state === "closed") return;
    this.#log.debug(`ERROR to ${this.#t.remote}: ${message}`);
    this.#write("ERROR", { message: message.replace(/[\r\n]/g, " ").slice(0, 256), "receipt-id": receipt });
    this.#close(message);
  }

  #close(reason: string): void {
    this.#t.end();
    void this.#end(reason);
  }

  #tick(): void {
    const now = Date.now();
    // From the accept, not the last byte: a peer trickling bytes must still CONNECT in time.
    if (this.#state === "new" && now - this.#openedAt > this.#o.connectTimeoutMs) {
      return this.#close("no CONNECT in time");
    }
    if (this.#state !== "open") return;
    if (this.#expectEvery > 0 && now - this.#lastIn > this.#expectEvery * 2) {
      this.#log.debug(`${this.#t.remote} went silent`);
      this.#t.close();
      void this.#end("heart-beat timeout");
      return;
    }
    // A beat is due when waiting for the next tick would make it late.
    if (this.#sendEvery > 0 && now - this.#lastOut + this.#tickMs > this.#sendEvery) {
      this.#lastOut = now;
      this.#t.write(EOL);
    }
  }

  /** Closes from the broker side. */
  async close(reason: string): Promise<void> {
    // An open client is told why (an operator, a removed user), as for any ERROR.
    if (this.#state === "open") this.#error(reason);
    else this.#close(reason);
    await this.ended;
  }

  #ending: Promise<void> | undefined;
  #end(reason: string): Promise<void> {
    this.#ending ??= (async () => {
      this.#state = "closed";
      clearInterval(this.#timer);
      this.#t.end();
      await this.#session?.close(reason);
      this.#endedResolve();
    })();
    return this.#ending;
  }
}

const EOL = new Uint8Array([10]);
/** The STOMP version each WebSocket subprotocol stands for. */
const WS_VERSIONS: Record<string, readonly string[]> = {
  "v10.stomp": ["1.0"],
  "v11.stomp": ["1.1"],
  "v12.stomp": ["1.2"],
};
/** Output a client may leave unread before its auto-ack subscriptions pause. */
const AUTO_PAUSE_BYTES = 1024 * 1024;
/** How often a connection checks its CONNECT deadline and heart-beats. */
const TICK_MS = 1000;
