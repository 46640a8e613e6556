/**
 * The plugin-facing types. Everything here is re-exported by `mod.ts`; plugins import nothing else.
 *
 * @module
 */
import type { ErrorCode } from "./errors.ts";
import type { DestinationKind, Message, MessageInit, PropertyValue } from "./message.ts";
import type { RedeliveryPolicy } from "./redelivery.ts";

export type Awaitable<T> = T | Promise<T>;
/** A JSON Schema object (draft 2020-12 / draft-07 keywords as Ajv understands them). */
export type JsonSchema = Record<string, unknown>;

/** `plugins/<name>/plugin.json`: read and validated before any plugin code is imported. */
export interface PluginManifest {
  /** kebab-case, unique; prefixes the plugin's log lines, errors and console rows. */
  name: string;
  version: string;
  description: string;
  /** Module, relative to plugin.json, whose default export is `definePlugin(...)`. */
  entry: string;
  /** Semver range of this API the plugin targets ("^0.1"). */
  broker: string;
  provides?: ServiceName[];
  /** Hard: set up after the provider; missing = start-up fails. */
  requires?: ServiceName[];
  /**
   * Soft: set up after the provider when one is present. A name ending in `*` (`"bridge:*"`) names a
   * family: set up after every provider of a name with that prefix, read them with `ctx.useAll`.
   */
  after?: (ServiceName | ServiceFamily)[];
  /** Options schema: validated, defaults filled; the console renders its form from it. */
  options?: JsonSchema;
  reload?: "options" | "restart";
  /** Instances may be added and removed while the broker runs ({@linkcode RuntimePlugins}): bridges. */
  runtime?: boolean;
}

/** One entry of `broker.json`'s plugin list. */
export interface PluginEntry {
  /** A built-in name ("mqtt"), a path to a plugin.json or its folder, or an `npm:` specifier. */
  use: string;
  /** Instance id when one plugin runs twice (two bridges). */
  as?: string;
  enabled?: boolean;
  options?: Record<string, unknown>;
}

/** `broker.json`: which plugins run, with what options. Array order breaks priority ties. */
export interface BrokerManifest {
  node?: { id?: string; dataDir?: string };
  /** Core limits and defaults. */
  limits?: Partial<BrokerLimits>;
  plugins: PluginEntry[];
}

/** Limits the core enforces; every one is configurable in broker.json under "limits". */
export interface BrokerLimits {
  /** Largest body in bytes a publish may carry. */
  maxMessageSize: number;
  /** Longest destination name. */
  maxDestinationLength: number;
  /** Most levels in a destination name. */
  maxDestinationLevels: number;
  /** Credit a subscription gets when its spec names none. */
  defaultPrefetch: number;
  /** Create queues on first use (publish or subscribe). */
  autoCreate: boolean;
  /** How often queues are swept for expired messages, in ms. */
  expirySweepMs: number;
  /** Setup/teardown timeout per plugin, in ms. */
  pluginTimeoutMs: number;
  /**
   * Most client sessions open at once, over every protocol (in-process ones do not count); one more is
   * refused with `server_busy`, which each protocol answers in its own terms.
   */
  maxSessions: number;
}

/** A plugin is a factory: its state lives in setup's closure, so one plugin can run twice. */
export interface Plugin<O = Record<string, unknown>> {
  /** Must equal the manifest's name. */
  name: string;
  /** Register hooks, provide services, open listeners. The host applies a timeout. */
  setup(ctx: PluginContext<O>): Awaitable<Teardown | void>;
}

/** Releases what setup made; called in reverse setup order. */
export type Teardown = (reason: "stop" | "failed") => Awaitable<void>;

/** What a plugin's setup receives. Handlers and services registered here are released by the host. */
export interface PluginContext<O> {
  /** Instance id: `as` from broker.json, else the manifest name. */
  readonly id: string;
  readonly options: Readonly<O>;
  readonly broker: BrokerApi;
  readonly hooks: HookBus;
  /** Aborted before teardown: tie timers, sockets and loops to it. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** node.dataDir from broker.json, made absolute. */
  readonly dataDir: string;
  /** Adds and removes instances of runtime plugins (the admin API's bridges). */
  readonly plugins: RuntimePlugins;
  provide<K extends ServiceName>(name: K, impl: Services[K]): void;
  /** Only names in requires/after; throws plugin_dependency otherwise, or when an `after` is absent. */
  use<K extends ServiceName>(name: K): Services[K];
  /** Like use(), but undefined when the service is absent (for `after` services). */
  tryUse<K extends ServiceName>(name: K): Services[K] | undefined;
  /**
   * Every service whose name starts with `prefix`, by name (empty when none runs); only for a family
   * declared in `after` as `"<prefix>*"`, else throws plugin_dependency.
   */
  useAll<P extends string>(prefix: P): Map<ServiceIn<P>, Services[ServiceIn<P>]>;
}

/** A plugin instance to add while the broker runs: a `broker.json` entry whose `as` is required. */
export interface RuntimePluginEntry {
  /** A built-in name or a path, as in broker.json; its manifest must say `"runtime": true`. */
  readonly use: string;
  /** Instance id: lowercase letters, digits, ".", "_", "-"; unique among running instances. */
  readonly as: string;
  readonly options?: Record<string, unknown>;
}

/**
 * Instances of plugins whose manifest says `"runtime": true`, added and removed while the broker runs.
 * Each added instance is kept in the store (kv "plugins.runtime") and set up again, after broker.json's
 * plugins, at every start-up; broker.json's own instances are not removable here.
 */
export interface RuntimePlugins {
  /**
   * Validates the entry and options as start-up does, sets the instance up (same timeout) and records it.
   * Throws invalid_argument (the id), plugin_options (names the option), conflict (the id is taken),
   * plugin_dependency (an unmet `requires`), plugin_invalid (not a runtime plugin) or plugin_failed.
   */
  add(entry: RuntimePluginEntry): Promise<PluginInfo>;
  /**
   * Tears a runtime instance down and forgets it. Throws not_found, or conflict when it comes from
   * broker.json, is still starting, or a running plugin requires what it provides.
   */
  remove(id: string): Promise<void>;
}

/** Gate answer: "not mine, ask the next one". */
export const DEFER: unique symbol = Symbol("DEFER");
/** Fold answer: swallow the message silently, no error to the client. */
export const DROP: unique symbol = Symbol("DROP");

/** A refusal; adapters map the code to their wire code. */
export interface Reject {
  readonly code: ErrorCode;
  readonly reason: string;
  /**
   * Set by an `authorize` handler when the principal itself is no longer valid (a user removed while
   * connected): the request gets this refusal, then the core closes the session and asks the protocol to
   * end the connection ({@linkcode DeliverySink.close}).
   */
  readonly closeSession?: boolean;
}

/** True when `v` is a {@linkcode Reject}. */
export function isReject(v: unknown): v is Reject {
  return typeof v === "object" && v !== null && "code" in v && "reason" in v && !("id" in v);
}

/** Who a session acts for. */
export interface Principal {
  /** User name; "anonymous" for anonymous sessions. */
  readonly id: string;
  readonly groups?: readonly string[];
  /** Extra attributes set by the authenticating plugin (certificate subject, roles). */
  readonly attributes?: Readonly<Record<string, PropertyValue>>;
}

/** The broker itself: whom in-process sessions and plugins' own publishes act for. */
export const BROKER_PRINCIPAL: Principal = Object.freeze({ id: "$broker" });

/** What a protocol knows about a client when it opens a session. */
export interface ClientInfo {
  /** Protocol client id (MQTT client id, AMQP container id); unique per protocol plugin. */
  readonly clientId: string;
  readonly protocol: string;
  /** Remote address "ip:port". */
  readonly remote: string;
  /** Listener name ("mqtt:tcp"). */
  readonly listener?: string;
  readonly username?: string;
  readonly password?: Uint8Array;
  /** Subject of the verified TLS client certificate. */
  readonly certificateSubject?: string;
}

export interface ConnectEvent {
  readonly client: ClientInfo;
}
export type Action = "publish" | "subscribe" | "browse" | "admin";
export interface AccessEvent {
  readonly principal: Principal;
  readonly client?: ClientInfo;
  readonly action: Action;
  readonly destination: string;
  readonly kind: DestinationKind;
}
export interface PublishEvent {
  readonly message: Message;
  readonly principal: Principal;
  readonly client?: ClientInfo;
}
export interface SubscribeEvent {
  readonly spec: SubscriptionSpec;
  readonly principal: Principal;
  readonly client?: ClientInfo;
  /**
   * The subscribing session: a handler that maps the spec onto other destinations checks them with
   * `session.authorize` (the same gate, refusals reported the same way).
   */
  readonly session: Session;
}
export interface DeliverEvent {
  readonly message: Message;
  readonly queue: string;
  readonly subscription: Subscription;
}
export interface MessageEvent {
  readonly message: Message;
  /** The queue that held it. */
  readonly queue: string;
}
export interface ClientEvent {
  readonly client: ClientInfo;
  readonly principal?: Principal;
}
export interface AdminEvent {
  readonly principal: Principal;
  readonly action: string;
  readonly object: string;
  readonly before?: unknown;
  readonly after?: unknown;
  readonly remote?: string;
}
/** A login the authenticate gate refused. */
export interface AuthFailedEvent {
  readonly client: ClientInfo;
  readonly code: ErrorCode;
  readonly reason: string;
}
/** A request the authorize gate refused. */
export interface AccessDeniedEvent extends AccessEvent {
  readonly code: ErrorCode;
  readonly reason: string;
}
/** Why a message leaves its queue without being acked. */
export interface DeadLetterEvent extends MessageEvent {
  readonly reason: "expired" | "max_redeliveries" | "max_length" | "rejected" | string;
}

/** The hook table. */
export interface Hooks {
  /** gate: first answer that is not DEFER wins; all DEFER or a throw = deny. */
  authenticate(e: ConnectEvent): Awaitable<Principal | Reject | typeof DEFER>;
  /** gate: first answer that is not DEFER wins; all DEFER or a throw = deny. No handler at all = allow. */
  authorize(e: AccessEvent): Awaitable<true | Reject | typeof DEFER>;
  /** fold: validate, route, delay, seal. Reject or DROP stops the chain; a throw = server_busy. */
  publish(e: PublishEvent): Awaitable<Message | Reject | typeof DROP>;
  /** fold over the spec; Reject stops the chain. */
  subscribe(e: SubscribeEvent): Awaitable<SubscriptionSpec | Reject>;
  /** fold per message x consumer, synchronous, bands in reverse (unseal first). */
  deliver(e: DeliverEvent): Message | Reject | typeof DROP;
  /** observe */
  acked(e: MessageEvent): void;
  /** observe: the message expired (it also goes through deadLetter with reason "expired"). */
  expired(e: MessageEvent): void;
  /** observe: the message left its queue unacked (expired, too many redeliveries, rejected). */
  deadLetter(e: DeadLetterEvent): void;
  connected(e: ClientEvent): void;
  disconnected(e: ClientEvent & { reason: string }): void;
  adminAction(e: AdminEvent): void;
  /**
   * observe: a session opened for a login the authenticate gate (or an AuthMethod) granted; not fired when
   * no plugin authenticates.
   */
  authenticated(e: ClientEvent & { readonly principal: Principal }): void;
  /** observe: the authenticate gate refused a login (in `openSession` or `authenticate`). */
  authFailed(e: AuthFailedEvent): void;
  /**
   * observe: the authorize gate refused a request (publish, subscribe, browse, admin), or the core refused a
   * subscription to a queue that is not the session's.
   */
  accessDenied(e: AccessDeniedEvent): void;
}
export type HookName = keyof Hooks;

/** Registration of hook handlers; released by the host when the plugin stops. */
export interface HookBus {
  on<H extends HookName>(name: H, fn: Hooks[H], opts?: HookOptions): void;
}
export interface HookOptions {
  /** Higher first; use a {@linkcode Priority} band. Ties: broker.json order. */
  priority?: number;
  /** Destination pattern: the handler is called only for matching destinations. */
  filter?: string;
}

/** Named priority bands. `deliver` runs them in reverse, so SEAL is first to unseal. */
export const Priority = {
  AUTH: 900,
  VALIDATE: 700,
  TRANSFORM: 500,
  ROUTE: 300,
  SEAL: 100,
  OBSERVE: 0,
} as const;

/** A stored queue entry: the message and the queues that hold it. */
export interface StoredMessage {
  readonly message: Message;
  readonly queues: readonly string[];
}
/** Names one message in one queue. */
export interface MessageRef {
  readonly queue: string;
  readonly id: string;
}
/** A small persistent map (definitions, retained messages, sessions). */
export interface KeyValue<V> {
  get(key: string): Promise<V | undefined>;
  set(key: string, value: V): Promise<void>;
  delete(key: string): Promise<void>;
  entries(prefix?: string): AsyncIterable<[string, V]>;
}
/** Every implementation passes tests/conformance/store.ts. */
export interface Store {
  /** One transaction; resolve = durable = confirm. */
  append(batch: readonly StoredMessage[]): Promise<void>;
  /** Removes refs; a message whose last ref goes is deleted. Batched the same way as append. */
  ack(refs: readonly MessageRef[]): Promise<void>;
  /** Records a new redelivery count (best effort: a crash may lose the last increments). */
  redelivered(refs: readonly MessageRef[], count: number): Promise<void>;
  /** Unacked persistent messages with their queues, in append order. */
  recover(): AsyncIterable<StoredMessage>;
  /** A named key-value space ("definitions", "mqtt.retained"...). */
  kv<V>(namespace: string): KeyValue<V>;
  close(): Promise<void>;
}

/** Holds messages whose deliverAt is in the future and hands them back when due. */
export interface Scheduler {
  /** Takes ownership of the message; the scheduler calls broker.route(m) at m.deliverAt. */
  schedule(m: Message): Promise<void>;
}

/** Routes mounted on the shared HTTP listener. */
export interface HttpMount {
  /** Mounts a fetch handler under a path prefix ("/api/v1"). */
  mount(
    prefix: string,
    handler: (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>,
  ): void;
  /** Registers a WebSocket upgrade path ("/mqtt") handled by `onSocket`. */
  websocket(
    path: string,
    onSocket: (socket: WebSocket, req: Request, info: Deno.ServeHandlerInfo) => void,
  ): void;
  /**
   * The session for a request a mounted handler serves: its credentials (HTTP Basic; Bearer as the
   * password of the empty username; a verified TLS client certificate), address and listener, through the
   * authenticate gate. Shared by requests with the same credentials and cached as the REST API's are:
   * the caller must not close it.
   */
  sessionFor(req: Request): Promise<Session | Reject>;
}

/** The seam each protocol plugin implements; the core never sees a frame. */
export interface ProtocolAdapter {
  readonly protocol: string;
  toAddress(wire: string, use: "publish" | "subscribe"): string | Reject;
  fromAddress(address: string): string;
}

/** Services plugins provide; declaration-merge to add your own. */
export interface Services {
  store: Store;
  scheduler: Scheduler;
  http: HttpMount;
  [p: `protocol:${string}`]: ProtocolAdapter;
}
export type ServiceName = keyof Services & string;
/** A family of services in a manifest's `after`: a name prefix and `*` (`"bridge:*"`). */
export type ServiceFamily = `${string}*`;
/** The service names under a prefix: `ServiceIn<"bridge:">` is `` `bridge:${string}` ``. */
export type ServiceIn<P extends string> = Extract<ServiceName, `${P}${string}`>;

/** Which messages a subscription receives and how. */
export interface SubscriptionSpec {
  kind: DestinationKind;
  /** A queue name, or for topics a pattern ("a.*.c", "a.>"). */
  destination: string;
  selector?: string;
  /**
   * Credit granted up front; default limits.defaultPrefetch; Infinity for at-most-once streams.
   * Each delivery spends one credit and only `credit()`/`setCredit()` add it: acks do not, so AMQP
   * link credit maps directly and window protocols (MQTT receive maximum, STOMP prefetch) call
   * `credit(1)` per settled delivery.
   */
  prefetch?: number;
  /** "auto": delivered = acked (at-most-once). "client": the consumer acks. Default "client". */
  ack?: "auto" | "client";
  /** Queue consumers: only one consumer receives while it lives; others wait. */
  exclusive?: boolean;
  /**
   * Queues: `destination` is a new temporary queue of this session (an AMQP dynamic node), deleted when its
   * last consumer leaves. Only this session may consume from it; anyone may send to it (a reply queue). The
   * name must not begin with "$" (the broker's) nor be another queue's; give it an unguessable part.
   */
  temporary?: boolean;
  /**
   * Topics: most messages the subscription's queue holds pending for it; one more dead-letters the oldest
   * (reason "max_length"). Unbounded when absent.
   */
  maxLength?: number;
  /** Topics: a durable subscription name; its queue survives disconnect and restart. */
  durable?: string;
  /** Topics: a shared subscription group; members share one queue (durable if `durable` is set too). */
  shared?: string;
  /** Topics: skip messages this session published. */
  noLocal?: boolean;
}

/** One received message and the handle to settle it. */
export interface Delivery {
  readonly message: Message;
  /** Ack id, unique within the subscription. */
  readonly tag: number;
  /** Queue the delivery came from. */
  readonly queue: string;
}

/** A consumer's handle. */
export interface Subscription {
  readonly id: string;
  readonly spec: Readonly<SubscriptionSpec>;
  /** Name of the queue behind the subscription. */
  readonly queue: string;
  /** Adds credit (MQTT receive maximum, AMQP link credit, STOMP prefetch). */
  credit(n: number): void;
  /** Sets credit to exactly n (AMQP flow). */
  setCredit(n: number): void;
  ack(tags: readonly number[]): void;
  /**
   * requeue: back to the queue with redeliveryCount + 1, or unchanged when `counted` is false (the client
   * says the delivery was no attempt, as AMQP `released` and `modified` without delivery-failed do); else
   * dead-lettered with reason "rejected".
   */
  nack(tags: readonly number[], requeue: boolean, counted?: boolean): void;
  /** Stops deliveries; unacked messages go back to the queue. */
  cancel(): Promise<void>;
}

/** Where a session's deliveries go; called only while the subscription has credit. */
export interface DeliverySink {
  deliver(sub: Subscription, d: Delivery): void;
  /**
   * Ends the client's connection when the broker closes the session ({@linkcode BrokerApi.closeConnection}):
   * the protocol tells the client in its own terms and closes the socket.
   */
  close?(reason: string, cause?: CloseCause): Awaitable<void>;
}

/** Why the broker ends a client's connection: an operator closed it, or its principal lost access. */
export type CloseCause = "admin" | "revoked";

/** A connected client's handle into the broker. */
export interface Session {
  readonly id: string;
  readonly principal: Principal;
  readonly client: ClientInfo;
  /** Persistent messages resolve after their batch is durable. */
  publish(m: MessageInit): Promise<void | Reject>;
  /**
   * Publishes all of `ms` or none: each is validated, authorized and folded by the `publish` hook, and
   * its queue checked, before any is routed; the first refusal is returned and nothing is routed. Then
   * all are routed in one turn, and the persistent ones are appended to the store in one transaction
   * (scheduled ones go to the scheduler). Side effects of `publish` folds (a forwarded copy) are theirs.
   */
  publishBatch(ms: readonly MessageInit[]): Promise<void | Reject>;
  subscribe(spec: SubscriptionSpec): Promise<Subscription | Reject>;
  /** Checks the authorize gate for this session. */
  authorize(action: Action, destination: string, kind: DestinationKind): Promise<true | Reject>;
  /** Unacked deliveries go back to their queues. */
  close(reason: string): Promise<void>;
  readonly closed: boolean;
}

/** A queue or topic known to the broker, for the console and admin API. */
export interface DestinationInfo {
  readonly name: string;
  readonly kind: DestinationKind;
  readonly pending: number;
  readonly inflight: number;
  readonly consumers: number;
  readonly enqueued: number;
  readonly dequeued: number;
  readonly durable: boolean;
  /** For queues behind a topic subscription: the topic pattern. */
  readonly boundTo?: string;
  /** Queue limit: dead-letter after this many redeliveries (unset: the redelivery policy decides). */
  readonly maxRedeliveries?: number;
  /** Queue limit: most pending messages; one more dead-letters the oldest (unset: unbounded). */
  readonly maxLength?: number;
}

/** A client session as the admin API lists it (internal sessions excluded). */
export interface ConnectionInfo {
  /** Session id, the handle for {@linkcode BrokerApi.closeConnection}. */
  readonly id: string;
  readonly clientId: string;
  readonly protocol: string;
  readonly remote: string;
  readonly listener?: string;
  /** Principal id. */
  readonly user: string;
  readonly connectedAt: number;
  readonly subscriptions: number;
  /** Messages this session published. */
  readonly messagesIn: number;
  /** Messages delivered to this session. */
  readonly messagesOut: number;
}

/** One open subscription. */
export interface ConsumerInfo {
  readonly id: string;
  /** Session id. */
  readonly connectionId: string;
  readonly clientId: string;
  /** Queue name or topic pattern as subscribed. */
  readonly destination: string;
  readonly kind: DestinationKind;
  /** The queue behind the subscription. */
  readonly queue: string;
  readonly selector?: string;
  /** Credit left. */
  readonly prefetch: number;
  readonly inflight: number;
  /** Messages delivered so far. */
  readonly delivered: number;
}

/** What one session published to one destination. */
export interface ProducerInfo {
  readonly connectionId: string;
  readonly clientId: string;
  readonly destination: string;
  readonly kind: DestinationKind;
  readonly messages: number;
  /** Time of the last publish, ms since the epoch. */
  readonly lastAt: number;
}

/** A loaded plugin instance. */
export interface PluginInfo {
  /** Instance id (`as`, else the manifest name). */
  readonly id: string;
  readonly manifest: PluginManifest;
  /** Options after validation, defaults filled. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly state: "pending" | "running" | "failed" | "stopped";
  /** Where the plugin was loaded from. */
  readonly source: string;
  /** Added while the broker runs ({@linkcode RuntimePlugins}), not from broker.json. */
  readonly runtime: boolean;
}

/** One log record, as the console's live tail receives it. */
export interface LogRecord {
  readonly time: number;
  readonly level: Exclude<LogLevel, "silent">;
  /** Logger name: a plugin id, or "<plugin>:<child>". */
  readonly logger: string;
  readonly msg: string;
  readonly fields?: Record<string, unknown>;
}

/** The broker's loggers: levels per plugin at runtime, recent records, a live feed. */
export interface LogControl {
  /** Every logger with its level. */
  levels(): Record<string, LogLevel>;
  /** Sets the level of logger `name` and its children ("<name>:..."); false when there is none. */
  setLevel(name: string, level: LogLevel): boolean;
  /** The last records, oldest first. */
  recent(): readonly LogRecord[];
  /** Subscribes to records; returns the unsubscribe function. */
  listen(fn: (r: LogRecord) => void): () => void;
}

/** Persistent definition of a queue (survives restart through the store's "definitions" space). */
export interface DestinationDef {
  readonly name: string;
  readonly kind: DestinationKind;
  /** Queue bound to a topic pattern (durable subscription). */
  readonly bind?: { readonly pattern: string; readonly selector?: string; readonly noLocalOrigin?: string };
  /** Extra topic bindings made with {@linkcode BrokerApi.bindQueue}. */
  readonly binds?: readonly { readonly pattern: string; readonly selector?: string }[];
  readonly durable: boolean;
  readonly maxRedeliveries?: number;
  readonly maxLength?: number;
}

/** The broker as plugins and embedders see it. */
export interface BrokerApi {
  readonly nodeId: string;
  /**
   * Authenticates ({@linkcode BrokerApi.authenticate}, unless `opts.principal` says who the client is), fires
   * `authenticated`, then `connected`.
   */
  openSession(client: ClientInfo, sink: DeliverySink, opts?: OpenSessionOptions): Promise<Session | Reject>;
  /**
   * Asks the authenticate gate alone, for a protocol that must answer a login before it opens the session
   * (AMQP SASL, whose outcome comes before the open that names the container id). A refusal fires
   * `authFailed`; a principal is not reported yet: pass it to `openSession` as `opts.principal`, which fires
   * `authenticated` once, with the client the session keeps. No handler at all grants the user name given,
   * or anonymous, as `openSession` does.
   */
  authenticate(client: ClientInfo): Promise<Principal | Reject>;
  /** An in-process session with a trusted principal (no authenticate gate). */
  internalSession(name: string, sink?: DeliverySink): Session;
  /** In-process publish as the broker itself; throws BrokerError on reject. */
  publish(m: MessageInit): Promise<void>;
  /**
   * Delivers a built message to its destination now, bypassing hooks (schedulers, DLQ re-drive).
   * With `queue`, puts it into that existing queue only (re-drive to a subscription's queue).
   */
  route(m: Message, queue?: string): Promise<void>;
  /**
   * Binds an existing queue to a topic pattern: messages published to matching topics (and passing
   * `selector`) land in it too. Idempotent; persisted with the queue when it is durable.
   */
  bindQueue(queue: string, pattern: string, opts?: { selector?: string }): Promise<void>;
  /** Removes a binding made with bindQueue; false when there was none. */
  unbindQueue(queue: string, pattern: string): Promise<boolean>;
  /**
   * Sets the policy consulted when a message goes back to its queue (redelivery limit and backoff
   * delay, e.g. per destination pattern); undefined clears it. One policy at a time.
   */
  setRedeliveryPolicy(policy: RedeliveryPolicy | undefined): void;
  /**
   * Creates a queue; idempotent. The queue exists as soon as the call returns (messages may be routed to it
   * in the same turn); the promise resolves once its definition is stored.
   */
  createQueue(
    name: string,
    opts?: { durable?: boolean; maxRedeliveries?: number; maxLength?: number },
  ): Promise<void>;
  deleteDestination(name: string, kind: DestinationKind): Promise<boolean>;
  /** Removes every pending message; returns how many. */
  purge(name: string): Promise<number>;
  /** Pending messages without consuming them. */
  browse(name: string, opts?: { selector?: string; offset?: number; limit?: number }): Message[];
  destinations(): DestinationInfo[];
  /** Emits an observe hook from a plugin (adminAction from the admin API). */
  emit<H extends "adminAction" | "connected" | "disconnected" | "deadLetter">(
    name: H,
    e: Parameters<Hooks[H]>[0],
  ): void;
  readonly limits: Readonly<BrokerLimits>;
  readonly stats: BrokerStats;
  /** The active store: the store plugin's, or the in-memory one when none is configured. */
  readonly store: Store;
  /** Registers a listener so the console can list it. */
  registerListener(l: ListenerInfo): () => void;
  listeners(): ListenerInfo[];
  /** Offers a challenge-response authentication method to every protocol; returns its removal. */
  registerAuthMethod(m: AuthMethod): () => void;
  /** The registered method of that name (MQTT 5 Authentication Method, SASL mechanism). */
  authMethod(name: string): AuthMethod | undefined;
  /** Client sessions with their counters (internal sessions excluded). */
  connections(): ConnectionInfo[];
  /** Closes a client session and, through its sink, its connection; false when there is none. */
  closeConnection(id: string, reason: string, cause?: CloseCause): Promise<boolean>;
  /** Open subscriptions of client sessions. */
  consumers(): ConsumerInfo[];
  /** Per client session and destination: what it published. */
  producers(): ProducerInfo[];
  /**
   * Changes a queue's limits; `null` clears one. Persisted with the queue's definition. Throws
   * not_found when the queue does not exist.
   */
  updateQueue(
    name: string,
    limits: { maxRedeliveries?: number | null; maxLength?: number | null },
  ): Promise<DestinationInfo>;
  /** The loaded plugins in setup order. */
  plugins(): PluginInfo[];
  /** Log levels per plugin, recent records and the live feed. */
  readonly logs: LogControl;
}

/** Options of {@linkcode BrokerApi.openSession}. */
export interface OpenSessionOptions {
  /**
   * Who the client proved to be, through an {@linkcode AuthMethod} exchange or
   * {@linkcode BrokerApi.authenticate}: the authenticate gate is not asked again; the `authenticated` and
   * `connected` hooks fire as usual.
   */
  readonly principal?: Principal;
}

/**
 * A challenge-response authentication method (MQTT 5 enhanced authentication, SASL-style mechanisms),
 * registered with {@linkcode BrokerApi.registerAuthMethod}. A protocol runs one conversation per
 * attempt and relays each challenge to the client until the method answers with a principal or a Reject.
 */
export interface AuthMethod {
  readonly name: string;
  start(client: ClientInfo): AuthConversation;
}
/** One authentication attempt. */
export interface AuthConversation {
  /** Takes the client's data (initial response first) and answers the next step. */
  step(data: Uint8Array | undefined): Awaitable<AuthStep>;
}
/** A challenge for the client, success with the principal (and optional final data), or a refusal. */
export type AuthStep =
  | { readonly challenge: Uint8Array }
  | { readonly principal: Principal; readonly data?: Uint8Array }
  | Reject;

/** A listening socket a protocol plugin opened. */
export interface ListenerInfo {
  readonly name: string;
  readonly protocol: string;
  readonly transport: "tcp" | "tls" | "ws" | "wss" | "udp" | "http" | "https";
  readonly port: number;
  readonly hostname: string;
  /** Current connections. */
  connections(): number;
}

/** Counters since start. */
export interface BrokerStats {
  readonly startedAt: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Store writes that failed: appends (their publishes failed) and ack batches (tried again later). */
  storeFailures: number;
  readonly sessions: number;
}

/** Structured logger; one per plugin. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(name: string): Logger;
  level: LogLevel;
}
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

export type { DestinationKind, Message, MessageInit, PropertyValue };
export type { RedeliveryDecision, RedeliveryPolicy } from "./redelivery.ts";
