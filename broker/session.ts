/**
 * A client's handle into the core: publish, subscribe, authorize, close. Unacked deliveries of its
 * subscriptions go back to their queues when it closes.
 *
 * @module
 */
import {
  type AccessEvent,
  type Action,
  type ClientInfo,
  type DeliverySink,
  type DestinationKind,
  isReject,
  type Message,
  type MessageInit,
  type Principal,
  type Reject,
  type Session,
  type Subscription,
  type SubscriptionSpec,
} from "./api.ts";
import type { Core } from "./core.ts";
import { isBrokerError } from "./errors.ts";
import type { Consumer } from "./queue.ts";

/** The promise every synchronous success shares (no allocation per message). */
export const RESOLVED: Promise<void> = Promise.resolve();

/** Most destinations a session's producer counters track (an MQTT client may publish to many topics). */
const MAX_PRODUCED = 1000;

const PUBLISH_CLOSED: Reject = { code: "closed", reason: "Cannot publish: the session is closed" };

const NOTHING_PRODUCED: ReadonlyMap<string, Produced> = new Map();

/** What a session published to one destination. */
export interface Produced {
  readonly kind: DestinationKind;
  messages: number;
  lastAt: number;
}

/** A client's session: publish, subscribe, authorize, close. */
export class CoreSession implements Session {
  readonly id: string;
  readonly client: ClientInfo;
  readonly principal: Principal;
  readonly sink: DeliverySink;
  readonly trusted: boolean;
  readonly #core: Core;
  // Made on first write: an idle connection's session has neither, and reading does not make them.
  #subs: Set<Consumer> | undefined;
  #produced: Map<string, Produced> | undefined;
  readonly connectedAt: number = Date.now();
  /** Messages this session published. */
  messagesIn = 0;
  /** What this session published, per destination. */
  get produced(): ReadonlyMap<string, Produced> {
    return this.#produced ?? NOTHING_PRODUCED;
  }
  // Deliveries of subscriptions already cancelled (live ones count their own).
  #retiredOut = 0;
  #closed = false;

  constructor(
    core: Core,
    id: string,
    client: ClientInfo,
    principal: Principal,
    sink: DeliverySink,
    trusted = false,
  ) {
    this.#core = core;
    this.id = id;
    this.client = client;
    this.principal = principal;
    this.sink = sink;
    this.trusted = trusted;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Subscriptions currently open. */
  subscriptions(): readonly Consumer[] {
    return this.#subs ? [...this.#subs] : [];
  }

  /** Messages delivered to this session. */
  get messagesOut(): number {
    let n = this.#retiredOut;
    for (const c of this.#subs ?? []) n += c.delivered;
    return n;
  }

  /** Counts a publish that passed validation. */
  countPublish(m: Message): void {
    this.messagesIn++;
    const produced = this.#produced ??= new Map();
    const p = produced.get(m.destination);
    if (p !== undefined) {
      p.messages++;
      p.lastAt = m.timestamp;
    } else if (produced.size < MAX_PRODUCED) {
      produced.set(m.destination, { kind: m.kind, messages: 1, lastAt: m.timestamp });
    }
  }

  publish(m: MessageInit): Promise<void | Reject> {
    if (this.#closed) return Promise.resolve(PUBLISH_CLOSED);
    try {
      const r = this.#core.publishAs(this, m);
      return r === undefined ? RESOLVED : r instanceof Promise ? r : Promise.resolve(r);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  publishBatch(ms: readonly MessageInit[]): Promise<void | Reject> {
    if (this.#closed) return Promise.resolve(PUBLISH_CLOSED);
    return this.#core.publishBatchAs(this, ms);
  }

  async subscribe(spec: SubscriptionSpec): Promise<Subscription | Reject> {
    if (this.#closed) return { code: "closed", reason: "Cannot subscribe: the session is closed" };
    const hooks = this.#core.hooks.compiled;
    if (!this.trusted) {
      const a = await this.authorize(
        spec.kind === "queue" ? "subscribe" : "subscribe",
        spec.destination,
        spec.kind,
      );
      if (a !== true) return a;
    }
    if (hooks.subscribe) {
      const r = await hooks.subscribe({
        spec,
        principal: this.principal,
        client: this.client,
        session: this,
      });
      if (isReject(r)) return r;
      spec = r;
    }
    // The gates above may have waited: a session closed meanwhile must not get a consumer that nothing
    // would ever cancel (it would hold its queue's messages in flight for good).
    if (this.#closed) return { code: "closed", reason: "Cannot subscribe: the session is closed" };
    try {
      const c = this.#core.attach(this, spec);
      (this.#subs ??= new Set()).add(c);
      return c;
    } catch (e) {
      if (!isBrokerError(e)) throw e;
      const r: Reject = { code: e.code, reason: e.message };
      if (e.code !== "not_authorized") return r;
      // The core's own refusal (another session's queue) is reported like the authorize gate's.
      const event: AccessEvent = {
        principal: this.principal,
        client: this.client,
        action: "subscribe",
        destination: spec.destination,
        kind: spec.kind,
      };
      return this.refused(event, r);
    }
  }

  authorize(action: Action, destination: string, kind: DestinationKind): Promise<true | Reject> {
    const authz = this.#core.hooks.compiled.authorize;
    if (!authz || this.trusted) return Promise.resolve(true);
    const e: AccessEvent = { principal: this.principal, client: this.client, action, destination, kind };
    const r = authz(e);
    if (r instanceof Promise) return r.then((a) => a === true ? a : this.refused(e, a));
    return Promise.resolve(r === true ? r : this.refused(e, r));
  }

  /** Reports an authorize refusal; a revoked principal also ends the session. */
  refused(e: AccessEvent, r: Reject): Reject {
    this.#core.hooks.compiled.accessDenied?.({ ...e, code: r.code, reason: r.reason });
    if (r.closeSession && !this.#closed) {
      // On the next turn, so the protocol answers the refused request before the connection ends.
      setTimeout(() => {
        const closing = this.sink.close ? this.sink.close(r.reason, "revoked") : this.close(r.reason);
        Promise.resolve(closing).catch(() => {/* the connection is gone already */});
      }, 0);
    }
    return r;
  }

  forget(c: Consumer): void {
    if (this.#subs?.delete(c)) this.#retiredOut += c.delivered;
  }

  async close(reason: string): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of [...this.#subs ?? []]) await c.cancel();
    this.#core.dropSession(this);
    if (!this.trusted) {
      this.#core.emit("disconnected", { client: this.client, principal: this.principal, reason });
    }
  }
}
