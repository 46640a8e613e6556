/**
 * The runtime that moves messages: queues, topic bindings, sessions, the publish path and the
 * store link. It knows no protocol and no plugin loading; `broker.ts` wires it to the plugin host.
 *
 * @module
 */
import {
  type AccessEvent,
  type AuthMethod,
  BROKER_PRINCIPAL,
  type BrokerApi,
  type BrokerLimits,
  type BrokerStats,
  type ClientInfo,
  type CloseCause,
  type ConnectionInfo,
  type ConsumerInfo,
  type DeliverySink,
  type DestinationDef,
  type DestinationInfo,
  type DestinationKind,
  DROP,
  type Hooks,
  isReject,
  type ListenerInfo,
  type LogControl,
  type Logger,
  type Message,
  type MessageInit,
  type MessageRef,
  type OpenSessionOptions,
  type PluginInfo,
  type Principal,
  type ProducerInfo,
  type Reject,
  type Scheduler,
  type Session,
  type Store,
  type StoredMessage,
  type SubscriptionSpec,
} from "./api.ts";
import { DEFAULT_ADDRESS_LIMITS, validateName, validatePattern } from "./address.ts";
import { ExtraBindings } from "./bindings.ts";
import { BrokerError, isBrokerError } from "./errors.ts";
import type { HookRegistry } from "./hooks.ts";
import { Matcher } from "./matcher.ts";
import { createMessage } from "./message.ts";
import { Consumer, type Entry, Queue, type QueueOwner } from "./queue.ts";
import { DelayedRedeliveries, type RedeliveryDecision, type RedeliveryPolicy } from "./redelivery.ts";
import { compileSelector, type Selector } from "./selector.ts";
import { CoreSession, RESOLVED } from "./session.ts";
import { StoreHealth } from "./store_health.ts";

export { CoreSession };

/** Default core limits; broker.json "limits" overrides any of them. */
export const DEFAULT_LIMITS: BrokerLimits = Object.freeze({
  maxMessageSize: 16 * 1024 * 1024,
  maxDestinationLength: DEFAULT_ADDRESS_LIMITS.maxLength,
  maxDestinationLevels: DEFAULT_ADDRESS_LIMITS.maxLevels,
  defaultPrefetch: 1000,
  autoCreate: true,
  expirySweepMs: 1000,
  pluginTimeoutMs: 10_000,
  maxSessions: 100_000,
});

/** A queue limit as given (none for null or undefined), or throws invalid_argument. */
function queueLimit(
  name: string,
  limit: "maxLength" | "maxRedeliveries",
  value: number | null | undefined,
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const min = limit === "maxLength" ? 1 : 0;
  if (!(Number.isInteger(value) && value >= min)) {
    throw new BrokerError(
      "invalid_argument",
      `Cannot set ${limit} of "${name}" to ${value}: must be an integer >= ${min}`,
    );
  }
  return value;
}

const throwIfReject = (r: void | Reject): void => {
  if (r !== undefined) throw new BrokerError(r.code, r.reason);
};
const ANONYMOUS: Principal = Object.freeze({ id: "anonymous" });
/** "$", which begins the names of the queues the broker makes for subscriptions. */
const DOLLAR = 0x24;

/**
 * Acks the store failed to take are tried again after this long: soon enough to clear a short outage, seldom
 * enough not to hammer a failing disk.
 */
const ACK_RETRY_MS = 1000;

/** A queue entry with its queue: what a failed store append takes back. */
type Routed = readonly [Queue, Entry];

/** Persistent messages routed for one store append, and every entry they made. */
interface Unstored {
  readonly messages: StoredMessage[];
  readonly routed: Routed[];
}

/** A topic binding: the queue behind one topic subscription. */
interface Binding {
  readonly queue: Queue;
  readonly selector?: Selector;
  /** Session id whose own messages are skipped (no-local). */
  readonly noLocal?: string;
}

interface TopicStat {
  enqueued: number;
}

/** The message-moving runtime behind {@linkcode BrokerApi}. */
export class Core implements BrokerApi, QueueOwner {
  readonly nodeId: string;
  readonly limits: BrokerLimits;
  readonly stats: BrokerStats;
  readonly logs: LogControl;
  readonly #hooks: HookRegistry;
  readonly #log: Logger;
  readonly #queues = new Map<string, Queue>();
  readonly #bindings = new Matcher<Binding>();
  readonly #bindingOf = new Map<Queue, { pattern: string; binding: Binding }>();
  readonly #extra = new ExtraBindings<Binding>(
    (p, b) => this.#bindings.add(p, b),
    (p, b) => this.#bindings.remove(p, b),
  );
  readonly #held = new DelayedRedeliveries<{ q: Queue; e: Entry }>(({ q, e }) => this.#releaseHeld(q, e));
  /** Entries whose append failed that were not in their queue then: one held back must stay out. */
  readonly #withdrawn = new WeakSet<Entry>();
  #redelivery: RedeliveryPolicy | undefined;
  readonly #topics = new Map<string, TopicStat>();
  readonly #sessions = new Map<string, CoreSession>();
  /** Sessions of clients: #sessions without the in-process ones, for limits.maxSessions. */
  #clientSessions = 0;
  readonly #listeners = new Set<ListenerInfo>();
  readonly #authMethods = new Map<string, AuthMethod>();
  /** Principals made up because no plugin authenticates: a session opened with one is no login to report. */
  readonly #unverified = new WeakSet<Principal>();
  readonly #addressLimits: { maxLength: number; maxLevels: number };
  #store: Store | undefined;
  #scheduler: Scheduler | undefined;
  #seq = 0;
  #sessionSeq = 0;
  #pendingAcks: MessageRef[] = [];
  #ackScheduled = false;
  /** Acks the store failed to take, for the next retry. */
  #ackRetry: MessageRef[] = [];
  #ackRetryTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #health: StoreHealth;
  #sweep: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(
    opts: { nodeId: string; limits: BrokerLimits; hooks: HookRegistry; log: Logger; logs: LogControl },
  ) {
    this.nodeId = opts.nodeId;
    this.logs = opts.logs;
    this.limits = opts.limits;
    this.#hooks = opts.hooks;
    this.#log = opts.log;
    this.#addressLimits = {
      maxLength: opts.limits.maxDestinationLength,
      maxLevels: opts.limits.maxDestinationLevels,
    };
    const sessions = this.#sessions;
    this.stats = {
      startedAt: Date.now(),
      messagesIn: 0,
      messagesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      storeFailures: 0,
      get sessions() {
        return sessions.size;
      },
    };
    this.#health = new StoreHealth(this.stats, this.#log);
  }

  now(): number {
    return Date.now();
  }

  get store(): Store {
    if (!this.#store) throw new BrokerError("closed", "Cannot use the store before the broker starts");
    return this.#store;
  }

  /** Connects the store (after the store plugin is up) and loads definitions and unacked messages. */
  async attachStore(store: Store): Promise<void> {
    this.#store = store;
    const defs = store.kv<DestinationDef>("definitions");
    for await (const [, def] of defs.entries()) {
      if (def.kind !== "queue") continue;
      const q = this.#createQueue(def.name, {
        durable: def.durable,
        maxRedeliveries: def.maxRedeliveries,
        maxLength: def.maxLength,
        autoDelete: false,
      });
      if (def.bind) this.#bind(q, def.bind.pattern, def.bind.selector, def.bind.noLocalOrigin);
      for (const b of def.binds ?? []) this.#bindExtra(q, b.pattern, b.selector);
    }
    let n = 0;
    for await (const { message, queues } of store.recover()) {
      for (const name of queues) {
        const q = this.#queues.get(name) ??
          this.#createQueue(name, { durable: true, autoDelete: false });
        q.enqueue({ seq: this.#seq++, message, stored: true });
        n++;
      }
    }
    if (n > 0) this.#log.info(`recovered ${n} persistent messages`);
  }

  /** Connects the scheduler that holds messages until their deliverAt. */
  attachScheduler(s: Scheduler | undefined): void {
    this.#scheduler = s;
  }

  start(): void {
    const sweep = setInterval(() => this.sweepExpired(), this.limits.expirySweepMs);
    Deno.unrefTimer(sweep as unknown as number);
    this.#sweep = sweep;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    clearTimeout(this.#ackRetryTimer);
    this.#held.close();
    for (const s of [...this.#sessions.values()]) await s.close("broker stopping");
    // Acks waiting for a retry get a last one, with the rest.
    this.#pendingAcks = this.#pendingAcks.concat(this.#ackRetry);
    this.#flushAcks();
  }

  /** Moves expired pending messages out of every queue; returns how many. */
  sweepExpired(): number {
    const now = this.now();
    let n = 0;
    for (const q of this.#queues.values()) if (q.hasExpiring) n += q.sweepExpired(now);
    return n;
  }

  // ---- BrokerApi ----

  async openSession(
    client: ClientInfo,
    sink: DeliverySink,
    opts?: OpenSessionOptions,
  ): Promise<Session | Reject> {
    const full = this.#sessionsFull();
    if (full) return full;
    const principal = opts?.principal ?? await this.authenticate(client);
    if (isReject(principal)) return principal;
    // Reported here, not by the gate: the login is the session, and its client is the one the session keeps
    // (an AMQP client authenticated by SASL gets its container id only afterwards, with the open).
    if (!this.#unverified.has(principal)) this.#hooks.compiled.authenticated?.({ client, principal });
    // Counted again after the gate: it may have waited, and other sessions opened meanwhile.
    const stillFull = this.#sessionsFull();
    if (stillFull) return stillFull;
    const s = new CoreSession(this, `${client.protocol}-${++this.#sessionSeq}`, client, principal, sink);
    this.#sessions.set(s.id, s);
    this.#clientSessions++;
    this.#hooks.compiled.connected?.({ client, principal });
    return s;
  }

  async authenticate(client: ClientInfo): Promise<Principal | Reject> {
    const authn = this.#hooks.compiled.authenticate;
    if (!authn) {
      const principal = client.username ? { id: client.username } : ANONYMOUS;
      this.#unverified.add(principal);
      return principal;
    }
    const r = await authn({ client });
    if (isReject(r)) this.#hooks.compiled.authFailed?.({ client, code: r.code, reason: r.reason });
    return r;
  }

  #sessionsFull(): Reject | undefined {
    if (this.#clientSessions < this.limits.maxSessions) return undefined;
    return {
      code: "server_busy",
      reason: `Cannot open a session: the broker holds its limit of ${this.limits.maxSessions}`,
    };
  }

  internalSession(name: string, sink?: DeliverySink): Session {
    const client: ClientInfo = { clientId: name, protocol: "internal", remote: "in-process" };
    const s = new CoreSession(
      this,
      `internal-${++this.#sessionSeq}`,
      client,
      BROKER_PRINCIPAL,
      sink ?? NO_SINK,
      true,
    );
    this.#sessions.set(s.id, s);
    return s;
  }

  publish(init: MessageInit): Promise<void> {
    // Not async: the in-memory path completes synchronously and shares one resolved promise.
    let r;
    try {
      r = this.publishAs(undefined, init);
    } catch (e) {
      return Promise.reject(e);
    }
    if (r === undefined) return RESOLVED;
    if (r instanceof Promise) return r.then(throwIfReject);
    return Promise.reject(new BrokerError(r.code, r.reason));
  }

  /** The publish path: validate, authorize, fold, schedule or route. */
  publishAs(s: CoreSession | undefined, init: MessageInit): Promise<void | Reject> | void | Reject {
    const m = this.#accept(s, init);
    if (m instanceof Promise) return m.then((r) => this.#dispatchAccepted(r));
    return this.#dispatchAccepted(m);
  }

  /** {@linkcode Session.publishBatch}: the first refusal stops the batch; later messages are not checked. */
  async publishBatchAs(s: CoreSession, inits: readonly MessageInit[]): Promise<void | Reject> {
    const accepted: Message[] = [];
    for (const init of inits) {
      let m = this.#accept(s, init);
      if (m instanceof Promise) m = await m;
      if (m === DROP) continue;
      if (isReject(m)) return m;
      accepted.push(m);
    }
    // Checked in the turn that routes, so that no queue goes away in between.
    for (const m of accepted) {
      const missing = m.kind === "queue" && !this.#waits(m) ? this.#missingQueue(m.destination) : undefined;
      if (missing) return missing;
    }
    const unstored: Unstored = { messages: [], routed: [] };
    const durable: Promise<void>[] = [];
    for (const m of accepted) {
      if (this.#waits(m)) durable.push(this.#scheduler!.schedule(m));
      else this.routeMessage(m, unstored); // cannot refuse: every queue was checked above
    }
    if (unstored.messages.length !== 0) durable.push(this.#append(unstored.messages, unstored.routed));
    await Promise.all(durable);
  }

  /** Validate, authorize, fold: the message to dispatch, or why not. */
  #accept(
    s: CoreSession | undefined,
    init: MessageInit,
  ): Promise<Message | Reject | typeof DROP> | Message | Reject | typeof DROP {
    let m: Message;
    try {
      m = createMessage(init, this.now(), s?.id);
      if (m.kind === "queue" || m.kind === "topic") validateName(m.destination, this.#addressLimits);
    } catch (e) {
      if (isBrokerError(e)) return { code: e.code, reason: e.message };
      throw e;
    }
    if (m.body.byteLength > this.limits.maxMessageSize) {
      return {
        code: "payload_too_large",
        reason:
          `Cannot accept a message of ${m.body.byteLength} bytes: the limit is ${this.limits.maxMessageSize}`,
      };
    }
    if (s !== undefined && !s.trusted && m.kind === "queue" && m.destination.charCodeAt(0) === DOLLAR) {
      // Straight into a topic subscription's queue would pass by the topic's publish rights.
      const q = this.#queues.get(m.destination);
      if (q?.boundTo !== undefined) {
        return {
          code: "not_authorized",
          reason:
            `Cannot send to queue "${m.destination}": a subscription's queue takes messages only through its topic`,
        };
      }
    }
    s?.countPublish(m);
    const hooks = this.#hooks.compiled;
    if (s !== undefined && !s.trusted && hooks.authorize) {
      const e: AccessEvent = {
        principal: s.principal,
        client: s.client,
        action: "publish",
        destination: m.destination,
        kind: m.kind,
      };
      const a = hooks.authorize(e);
      if (a instanceof Promise) return a.then((r) => r === true ? this.#fold(s, m) : s.refused(e, r));
      if (a !== true) return s.refused(e, a);
    }
    return this.#fold(s, m);
  }

  #fold(
    s: CoreSession | undefined,
    m: Message,
  ): Promise<Message | Reject | typeof DROP> | Message | Reject | typeof DROP {
    const fold = this.#hooks.compiled.publish;
    if (!fold) return m;
    const out = fold({ message: m, principal: s?.principal ?? BROKER_PRINCIPAL, client: s?.client });
    if (out instanceof Promise) return out.then((r) => this.#checkFolded(m, r));
    return this.#checkFolded(m, out);
  }

  #checkFolded(m: Message, r: Message | Reject | typeof DROP): Message | Reject | typeof DROP {
    if (r === DROP || isReject(r) || r.destination === m.destination) return r;
    try {
      validateName(r.destination, this.#addressLimits);
    } catch (e) {
      if (isBrokerError(e)) return { code: e.code, reason: e.message };
      throw e;
    }
    return r;
  }

  #dispatchAccepted(m: Message | Reject | typeof DROP): Promise<void | Reject> | void | Reject {
    if (m === DROP) return;
    if (isReject(m)) return m;
    return this.#waits(m) ? this.#scheduler!.schedule(m) : this.routeMessage(m);
  }

  /** Whether the message waits in the scheduler until its deliverAt. */
  #waits(m: Message): boolean {
    // Later than it was accepted, not later than now: a publish fold may ask for the scheduler with a
    // deliverAt just after acceptance (a repeating job due at once), and the clock may have passed it since.
    return m.deliverAt !== 0 && m.deliverAt > m.timestamp && this.#scheduler !== undefined;
  }

  route(m: Message, queue?: string): Promise<void> {
    const r = queue === undefined ? this.routeMessage(m) : this.#routeToQueue(m, queue);
    if (r === undefined) return RESOLVED;
    if (r instanceof Promise) {
      return r;
    }
    return Promise.reject(new BrokerError(r.code, r.reason));
  }

  #routeToQueue(m: Message, name: string): Promise<void> | Reject | undefined {
    const q = this.#queues.get(name);
    if (q === undefined) {
      return { code: "destination_not_found", reason: `Cannot route to queue "${name}": it does not exist` };
    }
    this.stats.messagesIn++;
    this.stats.bytesIn += m.body.byteLength;
    const e = this.#enqueue(q, m);
    return e.stored ? this.#persist(m, [[q, e]], undefined) : undefined;
  }

  /**
   * Puts a finished message into its queue or its topic's bound queues; resolves when durable. With
   * `into`, what is to be stored is added there for the caller's one append instead.
   */
  routeMessage(m: Message, into?: Unstored): Promise<void> | Reject | undefined {
    this.stats.messagesIn++;
    this.stats.bytesIn += m.body.byteLength;
    if (m.kind === "queue") {
      let q = this.#queues.get(m.destination);
      if (q === undefined) {
        const missing = this.#missingQueue(m.destination);
        if (missing) return missing;
        q = this.#autoCreate(m.destination);
      }
      const e = this.#enqueue(q, m);
      return e.stored ? this.#persist(m, [[q, e]], into) : undefined;
    }
    let stat = this.#topics.get(m.destination);
    if (stat === undefined && this.#topics.size < 10_000) {
      stat = { enqueued: 0 };
      this.#topics.set(m.destination, stat);
    }
    if (stat) stat.enqueued++;
    const bindings = this.#bindings.match(m.destination);
    if (bindings.length === 0) return undefined;
    let routed: Routed[] | undefined;
    let stored = false;
    let multi: Set<Queue> | undefined;
    for (let i = 0; i < bindings.length; i++) {
      const b = bindings[i];
      if (b.noLocal !== undefined && b.noLocal === m.origin) continue;
      if (b.selector !== undefined && !b.selector(m)) continue;
      if ((b.queue as QueueWithSel).extraBound) {
        // A queue bound to several matching patterns takes the message once.
        if (multi?.has(b.queue)) continue;
        (multi ??= new Set()).add(b.queue);
      }
      const e = this.#enqueue(b.queue, m);
      // Its entries in non-durable queues too: a publish that fails is taken back whole.
      if (m.persistent && this.#store !== undefined) (routed ??= []).push([b.queue, e]);
      stored ||= e.stored;
    }
    return stored ? this.#persist(m, routed!, into) : undefined;
  }

  #enqueue(q: Queue, m: Message): Entry {
    const e = {
      seq: this.#seq++,
      message: m,
      stored: m.persistent && q.options.durable && this.#store !== undefined,
    };
    q.enqueue(e);
    return e;
  }

  /** Stores `m` in the queues of its stored entries, or adds it to `into` for the caller's one append. */
  #persist(m: Message, routed: Routed[], into: Unstored | undefined): Promise<void> | undefined {
    const queues: string[] = [];
    for (const [q, e] of routed) if (e.stored) queues.push(q.name);
    const message = { message: m, queues };
    if (into === undefined) return this.#append([message], routed);
    into.messages.push(message);
    for (const r of routed) into.routed.push(r);
  }

  /**
   * One store append. Consumers may have the messages already (they are delivered while the transaction is
   * pending); if it fails, the broker takes back every entry they made before the publisher hears of it,
   * so a publish that failed leaves nothing behind for a consumer to get (later, or again).
   */
  #append(messages: StoredMessage[], routed: readonly Routed[]): Promise<void> {
    return this.#store!.append(messages).then(this.#health.ok, (e) => {
      this.#health.failed("published messages", e);
      this.#withdraw(routed);
      // The code lets each protocol answer in its terms (HTTP 503, an AMQP rejected outcome with a reason).
      throw isBrokerError(e)
        ? e
        : new BrokerError("store_failed", `The store could not keep the message: ${e}`, {
          cause: e,
        });
    });
  }

  #withdraw(routed: readonly Routed[]): void {
    const byQueue = new Map<Queue, Set<Entry>>();
    for (const [q, e] of routed) {
      const entries = byQueue.get(q);
      if (entries) entries.add(e);
      else byQueue.set(q, new Set([e]));
    }
    for (const [q, entries] of byQueue) {
      q.withdraw(entries);
      // What is left has left the queue already (acked, expired, dead-lettered) or is held back.
      for (const e of entries) this.#withdrawn.add(e);
    }
  }

  /** The refusal of a message to a queue that does not exist and may not be created. */
  #missingQueue(name: string): Reject | undefined {
    if (this.#queues.has(name)) return undefined;
    if (!this.limits.autoCreate) {
      return { code: "destination_not_found", reason: `Cannot send to queue "${name}": it does not exist` };
    }
    // Nobody could consume it (see #namedQueue), and it could squat a subscription's future queue.
    if (name.charCodeAt(0) === DOLLAR) {
      return {
        code: "invalid_destination",
        reason: `Cannot send to queue "${name}": it does not exist, and only the broker makes "$..." queues`,
      };
    }
    return undefined;
  }

  async createQueue(
    name: string,
    opts: { durable?: boolean; maxRedeliveries?: number; maxLength?: number } = {},
  ): Promise<void> {
    validateName(name, this.#addressLimits);
    if (this.#queues.has(name)) return;
    const maxLength = queueLimit(name, "maxLength", opts.maxLength);
    const q = this.#createQueue(name, {
      durable: opts.durable ?? true,
      maxRedeliveries: opts.maxRedeliveries,
      maxLength,
      autoDelete: false,
    });
    await this.#saveDef(q);
  }

  async bindQueue(queue: string, pattern: string, opts: { selector?: string } = {}): Promise<void> {
    const q = this.#queues.get(queue);
    if (!q) throw new BrokerError("not_found", `Cannot bind queue "${queue}": it does not exist`);
    validatePattern(pattern, this.#addressLimits);
    if (this.#bindExtra(q, pattern, opts.selector || undefined)) await this.#saveDef(q);
  }

  async unbindQueue(queue: string, pattern: string): Promise<boolean> {
    const q = this.#queues.get(queue);
    if (!q || !this.#extra.unbind(queue, pattern)) return false;
    await this.#saveDef(q);
    return true;
  }

  #bindExtra(q: Queue, pattern: string, selector: string | undefined): boolean {
    const sel = selector !== undefined ? compileSelector(selector) : undefined;
    (q as QueueWithSel).extraBound = true;
    return this.#extra.bind(q.name, pattern, selector, () => ({ queue: q, selector: sel }));
  }

  setRedeliveryPolicy(policy: RedeliveryPolicy | undefined): void {
    this.#redelivery = policy;
  }

  async deleteDestination(name: string, kind: DestinationKind): Promise<boolean> {
    if (kind === "topic") return this.#topics.delete(name);
    const q = this.#queues.get(name);
    if (!q) return false;
    this.#dropQueue(q);
    await this.#store?.kv("definitions").delete(name);
    return true;
  }

  purge(name: string): Promise<number> {
    const q = this.#queues.get(name);
    if (!q) {
      return Promise.reject(new BrokerError("not_found", `Cannot purge queue "${name}": it does not exist`));
    }
    return Promise.resolve(q.purge());
  }

  browse(name: string, opts: { selector?: string; offset?: number; limit?: number } = {}): Message[] {
    const q = this.#queues.get(name);
    if (!q) throw new BrokerError("not_found", `Cannot browse queue "${name}": it does not exist`);
    const sel = opts.selector ? compileSelector(opts.selector) : undefined;
    const offset = opts.offset ?? 0, limit = opts.limit ?? 100;
    const out: Message[] = [];
    let i = 0;
    for (const e of q.pendingEntries()) {
      if (sel && !sel(e.message)) continue;
      if (i++ < offset) continue;
      out.push(e.message);
      if (out.length >= limit) break;
    }
    return out;
  }

  destinations(): DestinationInfo[] {
    const out: DestinationInfo[] = [];
    for (const q of this.#queues.values()) {
      out.push({
        name: q.name,
        kind: "queue",
        pending: q.pending,
        inflight: q.inflight,
        consumers: q.consumers.length,
        enqueued: q.enqueued,
        dequeued: q.dequeued,
        durable: q.options.durable,
        boundTo: q.boundTo,
        maxRedeliveries: q.options.maxRedeliveries,
        maxLength: q.options.maxLength,
      });
    }
    for (const [name, t] of this.#topics) {
      const subs = this.#bindings.match(name);
      out.push({
        name,
        kind: "topic",
        pending: 0,
        inflight: 0,
        consumers: subs.length,
        enqueued: t.enqueued,
        dequeued: 0,
        durable: false,
      });
    }
    return out;
  }

  /** The queue named `name`, for plugins in the core's own package (tests, admin). */
  queue(name: string): Queue | undefined {
    return this.#queues.get(name);
  }

  sessions(): CoreSession[] {
    return [...this.#sessions.values()];
  }

  emit<H extends "adminAction" | "connected" | "disconnected" | "deadLetter">(
    name: H,
    e: Parameters<Hooks[H]>[0],
  ): void {
    // deno-lint-ignore no-explicit-any
    (this.#hooks.compiled[name] as ((e: any) => void) | undefined)?.(e);
  }

  registerListener(l: ListenerInfo): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  listeners(): ListenerInfo[] {
    return [...this.#listeners];
  }

  registerAuthMethod(m: AuthMethod): () => void {
    if (this.#authMethods.has(m.name)) {
      throw new BrokerError("invalid_argument", `Authentication method "${m.name}" is registered already`);
    }
    this.#authMethods.set(m.name, m);
    return () => {
      if (this.#authMethods.get(m.name) === m) this.#authMethods.delete(m.name);
    };
  }

  authMethod(name: string): AuthMethod | undefined {
    return this.#authMethods.get(name);
  }

  connections(): ConnectionInfo[] {
    const out: ConnectionInfo[] = [];
    for (const s of this.#sessions.values()) {
      if (s.trusted) continue;
      out.push({
        id: s.id,
        clientId: s.client.clientId,
        protocol: s.client.protocol,
        remote: s.client.remote,
        listener: s.client.listener,
        user: s.principal.id,
        connectedAt: s.connectedAt,
        subscriptions: s.subscriptions().length,
        messagesIn: s.messagesIn,
        messagesOut: s.messagesOut,
      });
    }
    return out;
  }

  async closeConnection(id: string, reason: string, cause: CloseCause = "admin"): Promise<boolean> {
    const s = this.#sessions.get(id);
    if (s === undefined || s.trusted) return false;
    try {
      await s.sink.close?.(reason, cause);
    } catch (e) {
      this.#log.warn(`cannot close the connection of session "${id}"`, { error: e });
    }
    // Sinks without close() (HTTP requests) and ones that failed still lose their session.
    await s.close(reason);
    return true;
  }

  consumers(): ConsumerInfo[] {
    const out: ConsumerInfo[] = [];
    for (const s of this.#sessions.values()) {
      if (s.trusted) continue;
      for (const c of s.subscriptions()) {
        out.push({
          id: c.id,
          connectionId: s.id,
          clientId: s.client.clientId,
          destination: c.spec.destination,
          kind: c.spec.kind,
          queue: c.queue,
          selector: c.spec.selector || undefined,
          prefetch: c.creditLeft,
          inflight: c.inflight.size,
          delivered: c.delivered,
        });
      }
    }
    return out;
  }

  producers(): ProducerInfo[] {
    const out: ProducerInfo[] = [];
    for (const s of this.#sessions.values()) {
      if (s.trusted) continue;
      for (const [destination, p] of s.produced) {
        out.push({
          connectionId: s.id,
          clientId: s.client.clientId,
          destination,
          kind: p.kind,
          messages: p.messages,
          lastAt: p.lastAt,
        });
      }
    }
    return out;
  }

  async updateQueue(
    name: string,
    limits: { maxRedeliveries?: number | null; maxLength?: number | null },
  ): Promise<DestinationInfo> {
    const q = this.#queues.get(name);
    if (!q) throw new BrokerError("not_found", `Cannot update queue "${name}": it does not exist`);
    if (limits.maxRedeliveries !== undefined) {
      q.options.maxRedeliveries = queueLimit(name, "maxRedeliveries", limits.maxRedeliveries);
    }
    if (limits.maxLength !== undefined) {
      q.options.maxLength = queueLimit(name, "maxLength", limits.maxLength);
      q.trim();
    }
    await this.#saveDef(q);
    return this.destinations().find((d) => d.kind === "queue" && d.name === name)!;
  }

  /** A bare core loads no plugins; the broker lists its host's. */
  plugins(): PluginInfo[] {
    return [];
  }

  // ---- subscriptions ----

  /** Attaches a consumer per the spec (after authorize and the subscribe fold). */
  attach(s: CoreSession, spec: SubscriptionSpec): Consumer {
    const selector = spec.selector !== undefined && spec.selector !== ""
      ? compileSelector(spec.selector)
      : undefined;
    const prefetch = spec.prefetch ?? this.limits.defaultPrefetch;
    if (!(prefetch >= 0)) {
      throw new BrokerError("invalid_argument", `Cannot subscribe with prefetch ${prefetch}: must be >= 0`);
    }
    let q: Queue;
    if (spec.kind === "queue") {
      validateName(spec.destination, this.#addressLimits);
      q = spec.temporary ? this.#temporaryQueue(s, spec.destination) : this.#namedQueue(s, spec.destination);
    } else {
      validatePattern(spec.destination, this.#addressLimits);
      q = this.#topicQueue(s, spec, selector);
    }
    const c = new Consumer(q, {
      id: `${s.id}/${++this.#sessionSeq}`,
      spec,
      sessionId: s.id,
      selector: spec.kind === "queue" ? selector : undefined,
      sink: s.sink,
      prefetch,
      onCancel: (c) => {
        s.forget(c);
        const q = this.#queues.get(c.queue);
        q?.removeConsumer(c);
        return RESOLVED;
      },
    });
    q.addConsumer(c);
    return c;
  }

  /**
   * The queue a session consumes by name. Names beginning with "$" are the broker's: the queues behind topic
   * subscriptions, consumed only through the subscription (where the topic's ACL applies), so naming one is
   * refused, as is another session's temporary queue.
   */
  #namedQueue(s: CoreSession, name: string): Queue {
    const q = this.#queues.get(name);
    const owner = q?.options.session;
    if (owner !== undefined ? owner !== s.id : name.charCodeAt(0) === DOLLAR) {
      throw new BrokerError(
        "not_authorized",
        owner !== undefined
          ? `Cannot consume from queue "${name}": it belongs to another session`
          : `Cannot consume from queue "${name}": queues named "$..." belong to subscriptions; subscribe to the topic instead`,
      );
    }
    if (q !== undefined) return q;
    if (!this.limits.autoCreate) {
      throw new BrokerError(
        "destination_not_found",
        `Cannot consume from queue "${name}": it does not exist`,
      );
    }
    return this.#autoCreate(name);
  }

  /** A new temporary queue of `s` (made whatever limits.autoCreate says: the session asked for it). */
  #temporaryQueue(s: CoreSession, name: string): Queue {
    if (name.charCodeAt(0) === DOLLAR) {
      throw new BrokerError(
        "invalid_destination",
        `Cannot create temporary queue "${name}": names beginning with "$" are the broker's`,
      );
    }
    const q = this.#queues.get(name);
    if (q === undefined) return this.#createQueue(name, { durable: false, autoDelete: true, session: s.id });
    if (q.options.session === s.id) return q;
    throw new BrokerError("conflict", `Cannot create temporary queue "${name}": the name is taken`);
  }

  #topicQueue(s: CoreSession, spec: SubscriptionSpec, selector: Selector | undefined): Queue {
    const noLocal = spec.noLocal ? s.id : undefined;
    const name = spec.durable ?? spec.shared;
    const maxLength = queueLimit(spec.destination, "maxLength", spec.maxLength);
    if (name === undefined) {
      const q = this.#createQueue(`$tmp.${s.id}.${++this.#sessionSeq}`, {
        durable: false,
        autoDelete: true,
        maxLength,
        session: s.id,
      });
      this.#bind(q, spec.destination, selector, noLocal, spec.selector);
      return q;
    }
    let q = this.#queues.get(name);
    if (q?.options.session !== undefined) {
      throw new BrokerError(
        "not_authorized",
        `Cannot subscribe as "${name}": it is a session's temporary queue, not a subscription's`,
      );
    }
    const bound = q && this.#bindingOf.get(q);
    if (
      q && bound && (bound.pattern !== spec.destination || (q as QueueWithSel).selectorText !== spec.selector)
    ) {
      // A durable subscription whose topic or selector changed starts over (JMS semantics).
      this.#dropQueue(q);
      q = undefined;
    }
    if (!q) {
      q = this.#createQueue(name, {
        durable: spec.durable !== undefined,
        autoDelete: spec.durable === undefined,
        maxLength,
      });
      this.#bind(q, spec.destination, selector, noLocal, spec.selector);
      if (spec.durable !== undefined) void this.#saveDef(q);
    } else if (q.options.maxLength !== maxLength) {
      // The subscriber's latest limit holds (an MQTT session that reconnects with another configuration).
      q.options.maxLength = maxLength;
      q.trim();
      if (spec.durable !== undefined) void this.#saveDef(q);
    }
    return q;
  }

  #bind(
    q: Queue,
    pattern: string,
    selector: Selector | string | undefined,
    noLocal?: string,
    selectorText?: string,
  ) {
    const text = typeof selector === "string" ? selector : selectorText;
    const sel = typeof selector === "string" ? compileSelector(selector) : selector;
    const binding: Binding = { queue: q, selector: sel, noLocal };
    this.#bindings.add(pattern, binding);
    this.#bindingOf.set(q, { pattern, binding });
    q.boundTo = pattern;
    (q as QueueWithSel).selectorText = text;
    (q as QueueWithSel).noLocalOrigin = noLocal;
  }

  #autoCreate(name: string): Queue {
    const q = this.#createQueue(name, { durable: true, autoDelete: false });
    void this.#saveDef(q);
    return q;
  }

  #createQueue(
    name: string,
    opts: {
      durable: boolean;
      maxRedeliveries?: number;
      maxLength?: number;
      autoDelete: boolean;
      session?: string;
    },
  ): Queue {
    const existing = this.#queues.get(name);
    if (existing) return existing;
    const q = new Queue(name, this, opts);
    this.#queues.set(name, q);
    return q;
  }

  #dropQueue(q: Queue): void {
    q.purge();
    q.close();
    this.#extra.drop(q.name);
    const b = this.#bindingOf.get(q);
    if (b) {
      this.#bindings.remove(b.pattern, b.binding);
      this.#bindingOf.delete(q);
    }
    this.#queues.delete(q.name);
  }

  #saveDef(q: Queue): Promise<void> {
    if (!this.#store || !q.options.durable) return RESOLVED;
    const qs = q as QueueWithSel;
    const def: DestinationDef = {
      name: q.name,
      kind: "queue",
      durable: true,
      maxRedeliveries: q.options.maxRedeliveries,
      maxLength: q.options.maxLength,
      bind: q.boundTo
        ? { pattern: q.boundTo, selector: qs.selectorText, noLocalOrigin: qs.noLocalOrigin }
        : undefined,
      binds: this.#extra.defs(q.name),
    };
    return this.#store.kv<DestinationDef>("definitions").set(q.name, def).catch((e) => {
      this.#log.error(`cannot save definition of "${q.name}"`, { error: e });
    });
  }

  // ---- QueueOwner ----

  beforeDeliver(q: Queue, c: Consumer, m: Message): Message | string | null {
    if (c.spec.noLocal && q.boundTo === undefined && m.origin === c.sessionId) return null;
    const fold = this.#hooks.compiled.deliver;
    let out = m;
    if (fold) {
      const r = fold({ message: m, queue: q.name, subscription: c });
      if (r === DROP) return null;
      if (isReject(r)) return r.reason;
      out = r;
    }
    this.stats.messagesOut++;
    this.stats.bytesOut += out.body.byteLength;
    c.delivered++;
    return out;
  }

  removed(q: Queue, e: Entry, why: "acked" | "expired" | "dead_letter" | "purged", reason?: string): void {
    if (e.stored) this.#ack({ queue: q.name, id: e.message.id });
    const hooks = this.#hooks.compiled;
    if (why === "acked") hooks.acked?.({ message: e.message, queue: q.name });
    else if (why === "expired") {
      hooks.expired?.({ message: e.message, queue: q.name });
      hooks.deadLetter?.({ message: e.message, queue: q.name, reason: "expired" });
    } else if (why === "dead_letter") {
      hooks.deadLetter?.({ message: e.message, queue: q.name, reason: reason ?? "rejected" });
    }
  }

  redelivered(q: Queue, e: Entry): void {
    if (e.stored) {
      this.#store?.redelivered([{ queue: q.name, id: e.message.id }], e.message.redeliveryCount).catch((
        err,
      ) => this.#health.failed("a redelivery count", err));
    }
  }

  abandoned(q: Queue): void {
    this.#dropQueue(q);
  }

  redeliveryPolicy(q: Queue, m: Message): RedeliveryDecision | undefined {
    if (this.#redelivery === undefined) return undefined;
    try {
      return this.#redelivery(q.name, m);
    } catch (e) {
      this.#log.warn("redelivery policy failed", { error: e });
      return undefined;
    }
  }

  holdBack(q: Queue, e: Entry, delayMs: number): void {
    this.#held.hold({ q, e }, delayMs);
  }

  #releaseHeld(q: Queue, e: Entry): void {
    if (this.#withdrawn.has(e)) return;
    if (this.#queues.get(q.name) === q) q.restore(e);
    else this.removed(q, e, "purged"); // the queue is gone: release its store entry
  }

  #ack(ref: MessageRef): void {
    this.#pendingAcks.push(ref);
    if (!this.#ackScheduled) {
      this.#ackScheduled = true;
      queueMicrotask(() => this.#flushAcks());
    }
  }

  #flushAcks(): void {
    this.#ackScheduled = false;
    if (this.#pendingAcks.length === 0 || !this.#store) return;
    const refs = this.#pendingAcks;
    this.#pendingAcks = [];
    this.#storeAcks(refs);
  }

  #storeAcks(refs: MessageRef[]): void {
    this.#store!.ack(refs).then(this.#health.ok, (e) => {
      this.#health.failed("acks", e);
      // A lost ack brings its message back after a restart: tried again while the broker runs. Retries wait
      // for a timer, not the next acks, which would send every one that failed again with each batch.
      if (this.#closed) return;
      for (const r of refs) this.#ackRetry.push(r);
      if (this.#ackRetryTimer !== undefined) return;
      const timer = setTimeout(() => {
        this.#ackRetryTimer = undefined;
        const again = this.#ackRetry;
        this.#ackRetry = [];
        this.#storeAcks(again);
      }, ACK_RETRY_MS);
      Deno.unrefTimer(timer);
      this.#ackRetryTimer = timer;
    });
  }

  /** Ends a session's registration (called by the session itself). */
  dropSession(s: CoreSession): void {
    if (this.#sessions.delete(s.id) && !s.trusted) this.#clientSessions--;
  }

  get hooks(): HookRegistry {
    return this.#hooks;
  }
}

interface QueueWithSel extends Queue {
  selectorText?: string;
  noLocalOrigin?: string;
  /** Has bindings made with bindQueue. */
  extraBound?: boolean;
}

const NO_SINK: DeliverySink = { deliver() {} };
