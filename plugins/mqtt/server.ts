/**
 * State shared by every MQTT connection of one plugin instance: live connections by client id,
 * persistent session records, pending wills and session expiry timers.
 *
 * @module
 */
import {
  type BrokerApi,
  createMessage,
  type KeyValue,
  type Logger,
  type MessageInit,
  type TcpIo,
  type TlsSettings,
} from "../../mod.ts";
import { ANN } from "./message_map.ts";
import type { RetainStore } from "./retain.ts";
import { type PacketRecord, PacketState } from "./packet_state.ts";

/** Plugin options (see plugin.json for defaults and meaning). */
export interface MqttOptions {
  port: number;
  hostname: string;
  wsPort: number;
  wsPath: string;
  io: TcpIo;
  tls?: TlsSettings & { port: number; wsPort: number };
  maxPacketSize: number;
  receiveMaximum: number;
  maxInflight: number;
  topicAliasMaximum: number;
  maxKeepAlive: number;
  connectTimeoutMs: number;
  maxSessionExpiry: number;
  maxRetained: number;
  maxQueuedQos0Bytes: number;
  maxQueuedMessages: number;
  sysIntervalMs: number;
}

/** One subscription as a persistent session remembers it. */
export interface SubRecord {
  filter: string;
  qos: number;
  nl: boolean;
  rap: boolean;
  rh: number;
  id?: number;
}

/** A persistent session kept in the store. */
export interface SessionRecord {
  subs: SubRecord[];
  /** Seconds the session outlives its connection; -1 = forever. */
  expiry: number;
  /** When the session expires (ms since epoch) while no connection holds it; 0 = not scheduled. */
  expiresAt: number;
  /** Packet identifiers in use when its last connection ended (a clean stop writes them). */
  packets?: PacketRecord;
  /** The principal the session belongs to: another one may not take it over. */
  principal?: string;
}

/** What a connection needs from its plugin. */
export interface ConnectionHost {
  /** The principal the connection authenticated as. */
  readonly principalId: string | undefined;
  close(reason: string): Promise<void>;
  takeover(): Promise<void>;
}

/** A live connection, checked once a second for its CONNECT and keep-alive deadlines. */
export interface Ticking {
  tick(now: number): void;
}

/** Shared MQTT state. */
export class MqttServer {
  readonly broker: BrokerApi;
  readonly log: Logger;
  readonly options: MqttOptions;
  readonly retained: RetainStore;
  readonly sessions: KeyValue<SessionRecord>;
  readonly connections = new Map<string, ConnectionHost>();
  readonly #wills = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #expiries = new Map<string, ReturnType<typeof setTimeout>>();
  /** Packet identifiers of persistent sessions, across their connections. */
  readonly #packets = new Map<string, PacketState>();
  /** Every open connection, CONNECTed or not. */
  readonly live = new Set<Ticking>();
  // One timer for all connections: a timer each costs memory and wake-ups with 10,000s of idle clients.
  readonly #sweep = setInterval(() => {
    const now = Date.now();
    for (const c of this.live) c.tick(now);
  }, 1000);

  get connectionCount(): number {
    return this.live.size;
  }

  constructor(init: { broker: BrokerApi; log: Logger; options: MqttOptions; retained: RetainStore }) {
    this.broker = init.broker;
    this.log = init.log;
    this.options = init.options;
    this.retained = init.retained;
    this.sessions = init.broker.store.kv<SessionRecord>("mqtt.sessions");
  }

  /** The durable queue behind one subscription of a persistent session. */
  static queueName(clientId: string, filter: string): string {
    return `$mqtt.session.${encodeURIComponent(clientId)}.${encodeURIComponent(filter)}`;
  }

  /** Publishes a will now or after `delayMs`, as the broker; a reconnect of the same client cancels it. */
  scheduleWill(clientId: string, will: MessageInit, delayMs: number): void {
    this.cancelWill(clientId);
    const fire = () => {
      this.#wills.delete(clientId);
      const published = this.broker.publish(will);
      (will.annotations?.[ANN.RETAIN] === true ? this.retainOnPublish(published, will) : published)
        .catch((e) => this.log.warn(`will of ${clientId} not published`, { error: e }));
    };
    if (delayMs <= 0) return fire();
    const t = setTimeout(fire, delayMs);
    this.#wills.set(clientId, t);
  }

  /** Retained publishes in the order they came, whoever sent them: the last one of a topic wins. */
  #retainedTail: Promise<unknown> = Promise.resolve();

  /**
   * Keeps `init` as its topic's retained message (an empty body clears it) once its publish `done` is
   * accepted, after every retained publish that came before it: a QoS 0 message published after a QoS 2
   * one finishes first, yet must not be overwritten by it [MQTT-3.3.1-5]. Resolves with the publish's result
   * once the retained store has it.
   */
  retainOnPublish<R>(done: Promise<R>, init: MessageInit): Promise<R> {
    const kept = this.#retainedTail.then(() => done).then(async (r) => {
      if (r === undefined) await this.retained.set(createMessage({ ...init, persistent: true }, Date.now()));
      return r;
    });
    this.#retainedTail = kept.catch(() => {});
    return kept;
  }

  cancelWill(clientId: string): void {
    const t = this.#wills.get(clientId);
    if (t !== undefined) {
      clearTimeout(t);
      this.#wills.delete(clientId);
    }
  }

  /** Ends a persistent session `ms` from now unless its client comes back. */
  expireLater(clientId: string, ms: number): void {
    this.cancelExpiry(clientId);
    const t = setTimeout(() => {
      this.#expiries.delete(clientId);
      if (!this.connections.has(clientId)) void this.dropSession(clientId);
    }, Math.min(ms, 2 ** 31 - 1));
    this.#expiries.set(clientId, t);
  }

  cancelExpiry(clientId: string): void {
    const t = this.#expiries.get(clientId);
    if (t !== undefined) {
      clearTimeout(t);
      this.#expiries.delete(clientId);
    }
  }

  /**
   * The packet identifiers of a connecting client's session: a present session's (kept in memory, or
   * read back from its `record` after a restart), a fresh set otherwise.
   */
  packetsOf(clientId: string, persistent: boolean, record: SessionRecord | undefined): PacketState {
    if (!persistent) {
      this.#packets.delete(clientId);
      return new PacketState();
    }
    let state = record ? this.#packets.get(clientId) : undefined;
    if (!state) {
      state = PacketState.from(record?.packets);
      this.#packets.set(clientId, state);
    }
    return state;
  }

  /** Removes a persistent session: its record and the queues holding its messages. */
  async dropSession(clientId: string): Promise<void> {
    this.#packets.delete(clientId);
    const rec = await this.sessions.get(clientId);
    if (!rec) return;
    // The record first: a client connecting meanwhile finds no session rather than one losing its queues.
    await this.sessions.delete(clientId);
    for (const s of rec.subs) {
      await this.broker.deleteDestination(MqttServer.queueName(clientId, s.filter), "queue");
    }
  }

  /** Expires stored sessions whose time ran out while the broker was down; schedules the rest. */
  async restoreExpiries(): Promise<void> {
    const now = Date.now();
    for await (const [clientId, rec] of this.sessions.entries()) {
      if (rec.expiresAt === 0) continue;
      if (rec.expiresAt <= now) await this.dropSession(clientId);
      else this.expireLater(clientId, rec.expiresAt - now);
    }
  }

  /** Clears every timer (plugin teardown). */
  stop(): void {
    clearInterval(this.#sweep);
    for (const t of this.#wills.values()) clearTimeout(t);
    for (const t of this.#expiries.values()) clearTimeout(t);
    this.#wills.clear();
    this.#expiries.clear();
  }
}
