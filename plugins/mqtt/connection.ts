/**
 * One MQTT connection: framing and parsing, CONNECT and session set-up, keep-alive, and dispatch of
 * each packet to its handler (handlers.ts). Packets are handled in arrival order; only CONNECT,
 * SUBSCRIBE and UNSUBSCRIBE wait for the core, PUBLISH acks follow the store's commits in order.
 *
 * @module
 */
import mqttPacket from "mqtt-packet";
import { Buffer } from "node:buffer";
import {
  type ClientInfo,
  type CloseCause,
  type Delivery,
  type DeliverySink,
  isReject,
  type MessageInit,
  type Principal,
  type Session,
  type Subscription,
} from "../../mod.ts";
import { Framer } from "./framing.ts";
import { parsePacket } from "./packet_parser.ts";
import { encodeAck } from "./publish_codec.ts";
import { CONNACK_V4, connackCode, RC } from "./reason_codes.ts";
import type { MqttServer, Ticking } from "./server.ts";
import type { Transport } from "../../mod.ts";
import { Handlers, type SubInfo } from "./handlers.ts";
import { willInit } from "./message_map.ts";
import { EnhancedAuth } from "./enhanced_auth.ts";
import { PacketState } from "./packet_state.ts";
import { PacketError } from "./validate.ts";
import { withoutProblemInfo } from "./problem_info.ts";

// deno-lint-ignore no-explicit-any
export type Packet = any;

/** One client connection. */
export class Connection implements DeliverySink, Ticking {
  readonly server: MqttServer;
  readonly transport: Transport;
  readonly listener: string;
  version = 4;
  clientId = "";
  session: Session | undefined;
  persistent = false;
  sessionExpiry = 0;
  /** Client's Receive Maximum and Maximum Packet Size (MQTT 5). */
  clientReceiveMax = 65535;
  clientMaxPacket = Infinity;
  /** Topic aliases the client accepts from us (MQTT 5). */
  clientTopicAliasMax = 0;
  /** The session's packet identifiers; a persistent session's outlive the connection. */
  packets = NO_PACKETS;
  #subs: Map<string, SubInfo> | undefined;
  #bySub: Map<Subscription, SubInfo> | undefined;
  /** Subscriptions by filter; made on first use (idle connections have none). */
  get subs(): Map<string, SubInfo> {
    return this.#subs ??= new Map();
  }
  get bySub(): Map<Subscription, SubInfo> {
    return this.#bySub ??= new Map();
  }
  #handlers: Handlers;
  #framer: Framer;
  #state: "new" | "connecting" | "connected" | "closed" = "new";
  #busy: Promise<void> | undefined;
  #backlog: Packet[] | undefined;
  #lastSeen = Date.now();
  readonly #openedAt = this.#lastSeen;
  #keepAlive = 0;
  #will: MessageInit | undefined;
  #willDelay = 0;
  #auth: EnhancedAuth | undefined;
  #normalDisconnect = false;
  /** Request Problem Information (MQTT 5 CONNECT): false drops reason strings from acks [MQTT-3.1.2-29]. */
  #problemInfo = true;
  #ended: ((c: Connection) => void) | undefined;

  constructor(server: MqttServer, transport: Transport, listener: string) {
    this.server = server;
    this.transport = transport;
    this.listener = listener;
    this.#framer = new Framer(server.options.maxPacketSize);
    this.#handlers = new Handlers(this);
  }

  get connected(): boolean {
    return this.#state === "connected";
  }

  /** Starts reading; closes the connection if no CONNECT arrives in time. */
  start(ended: (c: Connection) => void): void {
    this.#ended = ended;
    this.server.live.add(this);
    this.transport.start((bytes) => this.#onBytes(bytes), () => void this.#lost());
  }

  /**
   * The peer closed. Packets it sent before that may still wait behind a SUBSCRIBE or CONNECT the core is
   * busy with: they are handled first, so a DISCONNECT sent just before closing still counts as one (no will).
   */
  async #lost(): Promise<void> {
    while (this.#busy) await this.#busy;
    await this.#closed("connection lost");
  }

  #onBytes(bytes: Uint8Array): void {
    this.#lastSeen = Date.now();
    const err = this.#framer.push(bytes, (pkt) => {
      const p = parsePacket(pkt, this.version);
      if (p instanceof Error) this.#invalid(p);
      else this.#onPacket(p);
      return this.#state !== "closed";
    });
    if (err === "too_large") this.protocolError(RC.PACKET_TOO_LARGE, "packet larger than the maximum");
    else if (err === "malformed") this.protocolError(RC.MALFORMED_PACKET, "malformed remaining length");
  }

  /** A packet that is malformed or breaks the protocol: the connection ends with its reason code. */
  #invalid(e: Error): void {
    const code = e instanceof PacketError ? e.code : RC.MALFORMED_PACKET;
    if (e instanceof PacketError && e.connectVersion === 5 && this.#state === "new") {
      // A 5.0 CONNECT refused for its content is answered with a CONNACK carrying the reason (4.13.1).
      this.version = 5;
      this.send({
        cmd: "connack",
        reasonCode: code,
        sessionPresent: false,
        properties: { reasonString: e.message },
      });
    }
    this.protocolError(code, e.message);
  }

  #onPacket(p: Packet): void {
    if (this.#state === "closed") return;
    // An exchange in progress (CONNECT or re-authentication) waits for this AUTH; it cannot queue.
    if (p.cmd === "auth" && this.#auth?.offer(p)) return;
    if (this.#busy) {
      (this.#backlog ??= []).push(p);
      return;
    }
    const r = this.#dispatch(p);
    if (r instanceof Promise) this.#wait(r);
  }

  #wait(r: Promise<void>): void {
    this.#busy = r.catch((e) => this.protocolError(RC.UNSPECIFIED_ERROR, String(e?.message ?? e))).then(
      () => {
        this.#busy = undefined;
        while (this.#backlog?.length && this.#state !== "closed") {
          const next = this.#dispatch(this.#backlog.shift());
          if (next instanceof Promise) return this.#wait(next);
        }
      },
    );
  }

  #dispatch(p: Packet): Promise<void> | void {
    if (this.#state === "new") {
      if (p.cmd !== "connect") return this.protocolError(RC.PROTOCOL_ERROR, `${p.cmd} before CONNECT`); // [MQTT-3.1.0-1]
      this.#state = "connecting";
      this.#problemInfo = p.properties?.requestProblemInformation !== false;
      return this.#connect(p);
    }
    if (p.cmd === "connect") return this.protocolError(RC.PROTOCOL_ERROR, "second CONNECT"); // [MQTT-3.1.0-2]
    switch (p.cmd) {
      case "publish":
        return this.#handlers.publish(p);
      case "puback":
        return this.#handlers.puback(p);
      case "pubrec":
        return this.#handlers.pubrec(p);
      case "pubrel":
        return this.#handlers.pubrel(p);
      case "pubcomp":
        return this.#handlers.pubcomp(p);
      case "subscribe":
        return this.#handlers.subscribe(p);
      case "unsubscribe":
        return this.#handlers.unsubscribe(p);
      case "pingreq":
        return this.send({ cmd: "pingresp" });
      case "auth":
        return this.#reauthenticate(p);
      case "disconnect":
        if (this.version === 5 && p.properties?.sessionExpiryInterval !== undefined) {
          // [MQTT-3.14.2-2]: a session that started with expiry 0 cannot be made persistent here.
          if (this.sessionExpiry === 0 && p.properties.sessionExpiryInterval > 0) {
            return this.protocolError(RC.PROTOCOL_ERROR, "session expiry set on DISCONNECT");
          }
          this.sessionExpiry = p.properties.sessionExpiryInterval;
        }
        this.#normalDisconnect = p.reasonCode === undefined || p.reasonCode === 0;
        if (p.reasonCode === RC.DISCONNECT_WITH_WILL) this.#normalDisconnect = false;
        void this.#closed("client disconnected");
        return;
      default:
        return this.protocolError(RC.PROTOCOL_ERROR, `unexpected ${p.cmd}`);
    }
  }

  async #connect(p: Packet): Promise<void> {
    const o = this.server.options;
    this.version = p.protocolVersion === 5 ? 5 : p.protocolVersion === 3 ? 3 : 4;
    const v5 = this.version === 5;
    const props = p.properties ?? {};
    let clientId: string = p.clientId ?? "";
    let assigned: string | undefined;
    const clean = !!p.clean;
    if (clientId === "") {
      if (!v5 && !clean) {
        return this.#refuse(CONNACK_V4.IDENTIFIER_REJECTED, "empty client id needs a clean session"); // [MQTT-3.1.3-8]
      }
      clientId = assigned = `auto-${crypto.randomUUID()}`;
    }
    this.clientId = clientId;
    const expiry = v5 ? (props.sessionExpiryInterval ?? 0) : clean ? 0 : -1;
    this.sessionExpiry = expiry === 0xffffffff ? -1 : expiry;
    if (o.maxSessionExpiry >= 0 && (this.sessionExpiry < 0 || this.sessionExpiry > o.maxSessionExpiry)) {
      this.sessionExpiry = o.maxSessionExpiry;
    }
    this.clientReceiveMax = props.receiveMaximum ?? 65535;
    this.clientMaxPacket = props.maximumPacketSize ?? Infinity;
    this.clientTopicAliasMax = props.topicAliasMaximum ?? 0;
    this.#keepAlive = p.keepalive ?? 0;
    let serverKeepAlive: number | undefined;
    if (o.maxKeepAlive > 0 && (this.#keepAlive === 0 || this.#keepAlive > o.maxKeepAlive)) {
      if (v5) serverKeepAlive = this.#keepAlive = o.maxKeepAlive;
    }
    const client: ClientInfo = {
      clientId,
      protocol: "mqtt",
      remote: this.transport.remote,
      listener: this.listener,
      certificateSubject: this.transport.certificateSubject,
      username: p.username,
      password: p.password === undefined ? undefined : new Uint8Array(p.password),
    };
    let verified: { principal: Principal; data?: Uint8Array } | undefined;
    if (props.authenticationMethod !== undefined) {
      const method = v5 ? this.server.broker.authMethod(props.authenticationMethod) : undefined;
      if (!method) {
        return this.#refuse(
          RC.BAD_AUTHENTICATION_METHOD,
          `authentication method "${props.authenticationMethod}" is not supported`,
        );
      }
      this.#auth = new EnhancedAuth(method, this, o.connectTimeoutMs);
      const outcome = await this.#auth.run(client, props.authenticationData);
      if (outcome === undefined) return;
      if (isReject(outcome)) return this.#refuse(connackCode(outcome, this.version), outcome.reason);
      verified = outcome;
    }
    const session = await this.server.broker.openSession(client, this, { principal: verified?.principal });
    if (isReject(session)) return this.#refuse(connackCode(session, this.version), session.reason);
    // A client id names one user's session: another user naming it is refused, not given the session
    // (its queued messages, its subscriptions) or a way to knock the owner off.
    const old = this.server.connections.get(clientId);
    // Without a connection to take over, the stored session is read once, here; a connection taken over
    // writes the session's last state as it ends, so then it is read after the takeover.
    let record = old ? undefined : await this.server.sessions.get(clientId);
    const owner = old?.principalId ?? record?.principal;
    if (owner !== undefined && owner !== session.principal.id) {
      await session.close("client id held by another user");
      return this.#refuse(
        this.version === 5 ? RC.CLIENT_IDENTIFIER_NOT_VALID : CONNACK_V4.IDENTIFIER_REJECTED,
        "the client id belongs to another user's session",
      );
    }
    if (old) {
      await old.takeover(); // [MQTT-3.1.4-3]
      record = await this.server.sessions.get(clientId);
    }
    // The will is published as the broker later: the client must be allowed to publish it now.
    const will = p.will ? willInit(p.will, this.version) : undefined;
    const willDenied = isReject(will)
      ? will
      : will && await session.authorize("publish", will.destination, "topic");
    if (isReject(willDenied)) {
      await session.close("will refused");
      return this.#refuse(connackCode(willDenied, this.version), `will: ${willDenied.reason}`);
    }
    // A peer that sent its packets and closed (CONNECT, PUBLISH, DISCONNECT in one go) still has them
    // handled: #lost waits for this CONNECT. Only a connection ended from here stops it.
    if (this.#state === "closed") {
      await session.close("connection ended during CONNECT");
      return;
    }
    this.session = session;
    this.server.cancelWill(clientId);
    this.server.cancelExpiry(clientId);
    let present = false;
    if (record && clean) await this.server.dropSession(clientId);
    else if (record) present = true;
    // A session lives in the store while it has an expiry, or while this connection resumes one: Clean Start
    // 0 with expiry 0 still resumes the session, which then ends with the connection [MQTT-3.1.2-23].
    this.persistent = this.sessionExpiry !== 0 || present;
    this.packets = this.server.packetsOf(clientId, this.persistent, present ? record : undefined);
    if (p.will && !isReject(will)) {
      this.#will = will;
      this.#willDelay = (p.will.properties?.willDelayInterval ?? 0) * 1000;
    }
    this.server.connections.set(clientId, this);
    this.#state = "connected";
    const connackProps = v5
      ? {
        receiveMaximum: o.receiveMaximum,
        topicAliasMaximum: o.topicAliasMaximum,
        maximumPacketSize: o.maxPacketSize,
        assignedClientIdentifier: assigned,
        serverKeepAlive,
        retainAvailable: true,
        wildcardSubscriptionAvailable: true,
        subscriptionIdentifiersAvailable: true,
        sharedSubscriptionAvailable: true,
        responseInformation: props.requestResponseInformation ? `reply/${clientId}` : undefined,
        authenticationMethod: this.#auth?.method.name,
        authenticationData: verified?.data && Buffer.from(verified.data),
      }
      : undefined;
    this.send({
      cmd: "connack",
      returnCode: 0,
      reasonCode: 0,
      sessionPresent: present,
      properties: connackProps,
    });
    if (present) {
      this.#handlers.resendReleases();
      await this.#handlers.restore(record!.subs);
    } else if (this.persistent) await this.saveSession();
  }

  /** AUTH after CONNACK: re-authentication with the CONNECT's method [MQTT-4.12.1-1]. */
  async #reauthenticate(p: Packet): Promise<void> {
    const data = p.properties?.authenticationData;
    if (!this.#auth || p.reasonCode !== RC.REAUTHENTICATE) {
      return this.protocolError(RC.PROTOCOL_ERROR, "AUTH without an authentication exchange");
    }
    if (p.properties?.authenticationMethod !== this.#auth.method.name) {
      return this.protocolError(RC.PROTOCOL_ERROR, "re-authentication with another method");
    }
    const outcome = await this.#auth.run(this.session!.client, data);
    if (outcome === undefined) return;
    if (isReject(outcome) || outcome.principal.id !== this.session!.principal.id) {
      const reason = isReject(outcome) ? outcome.reason : "re-authenticated as another user";
      return this.protocolError(RC.NOT_AUTHORIZED, reason);
    }
    this.send({
      cmd: "auth",
      reasonCode: RC.SUCCESS,
      properties: {
        authenticationMethod: this.#auth.method.name,
        authenticationData: outcome.data && Buffer.from(outcome.data),
      },
    });
  }

  get principalId(): string | undefined {
    return this.session?.principal.id;
  }

  /** Writes the persistent session's subscription list to the store. */
  saveSession(): Promise<void> {
    if (!this.persistent) return Promise.resolve();
    return this.server.sessions.set(this.clientId, {
      subs: [...this.subs.values()].map((s) => s.record),
      expiry: this.sessionExpiry,
      expiresAt: 0,
      principal: this.session!.principal.id,
    });
  }

  // ---- DeliverySink ----

  deliver(sub: Subscription, d: Delivery): void {
    this.#handlers.deliver(sub, d);
  }

  /** Encodes and queues a packet (not a PUBLISH: handlers.ts encodes those with publish_codec.ts). */
  send(packet: Packet): void {
    if (this.transport.closed) return;
    if (!this.#problemInfo) packet = withoutProblemInfo(packet);
    this.transport.write(encodeAck(packet) ?? mqttPacket.generate(packet, { protocolVersion: this.version }));
  }

  /** Queues an encoded packet. */
  sendBytes(bytes: Uint8Array): void {
    if (!this.transport.closed) this.transport.write(bytes);
  }

  // ---- ending ----

  #refuse(code: number, reason: string): void {
    const v5 = this.version === 5;
    this.server.log.debug(`refused ${this.clientId || "?"}: ${reason}`);
    this.send({
      cmd: "connack",
      returnCode: code,
      reasonCode: code,
      sessionPresent: false,
      properties: v5 ? { reasonString: reason } : undefined,
    });
    this.transport.end();
    void this.#closed(reason);
  }

  /** Ends the connection for a protocol violation: DISCONNECT with `code` on 5.0, then close. */
  protocolError(code: number, reason: string): void {
    if (this.#state === "closed") return;
    this.server.log.debug(`protocol error from ${this.clientId || this.transport.remote}: ${reason}`);
    if (this.#state === "new" && /protocol version/i.test(reason)) {
      // [MQTT-3.1.2-2]: answer an unsupported level with return code 0x01, then close.
      this.transport.write(mqttPacket.generate({ cmd: "connack", returnCode: 1, sessionPresent: false }));
    } else if (this.version === 5 && this.#state === "connected") {
      this.send({ cmd: "disconnect", reasonCode: code, properties: { reasonString: reason.slice(0, 200) } });
    } else if (this.version === 5 && this.#state === "connecting") {
      // During an authentication exchange the answer to the CONNECT is still owed [MQTT-4.12.0-4].
      this.send({ cmd: "connack", reasonCode: code, sessionPresent: false });
    }
    this.transport.end();
    void this.#closed(reason);
  }

  /** Called once a second by the server: CONNECT timeout and keep-alive. */
  tick(now: number): void {
    // From the accept: a peer trickling a CONNECT byte by byte must still finish it in time.
    if (this.#state === "new" && now - this.#openedAt > this.server.options.connectTimeoutMs) {
      this.transport.close();
      void this.#closed("no CONNECT in time");
    } else if (this.#keepAlive > 0 && now - this.#lastSeen > this.#keepAlive * 1500) {
      this.protocolError(RC.KEEP_ALIVE_TIMEOUT, "keep-alive timeout"); // [MQTT-3.1.2-24]
    }
  }

  /** Another connection took this client id: tell the client and close (the will is published). */
  async takeover(): Promise<void> {
    if (this.version === 5 && this.#state === "connected") {
      this.send({ cmd: "disconnect", reasonCode: RC.SESSION_TAKEN_OVER });
    }
    this.transport.end();
    await this.#closed("session taken over");
  }

  /** Closes from the broker side: the plugin stopping, an operator, a principal that lost access. */
  async close(reason: string, cause?: CloseCause): Promise<void> {
    if (this.version === 5 && this.#state === "connected") {
      const reasonCode = cause === "revoked"
        ? RC.NOT_AUTHORIZED
        : cause === "admin"
        ? RC.ADMINISTRATIVE_ACTION
        : RC.SERVER_SHUTTING_DOWN;
      this.send({ cmd: "disconnect", reasonCode, properties: { reasonString: reason.slice(0, 200) } });
    }
    this.transport.end();
    await this.#closed(reason);
  }

  #closing: Promise<void> | undefined;
  #closed(reason: string): Promise<void> {
    this.#closing ??= this.#finish(reason);
    return this.#closing;
  }

  async #finish(reason: string): Promise<void> {
    const wasConnected = this.#state === "connected";
    this.#state = "closed";
    this.#auth?.cancel();
    this.transport.end();
    this.server.live.delete(this);
    if (this.server.connections.get(this.clientId) === this) this.server.connections.delete(this.clientId);
    const session = this.session;
    if (!session) return this.#ended?.(this);
    this.#handlers.dropInflight();
    await session.close(reason);
    if (wasConnected && this.#will && !this.#normalDisconnect) {
      const delay = this.persistent
        ? Math.min(this.#willDelay, this.sessionExpiry < 0 ? Infinity : this.sessionExpiry * 1000)
        : 0;
      this.server.scheduleWill(this.clientId, this.#will, delay);
    }
    // Expiry 0, from CONNECT or set by DISCONNECT, ends the session with its connection [MQTT-3.1.2-23].
    if (this.persistent && this.sessionExpiry !== 0) {
      const ms = this.sessionExpiry * 1000;
      const rec = await this.server.sessions.get(this.clientId);
      const expiresAt = this.sessionExpiry > 0 ? Date.now() + ms : 0;
      if (rec) {
        await this.server.sessions.set(this.clientId, {
          ...rec,
          expiresAt,
          packets: this.packets.toRecord(),
        });
      }
      if (this.sessionExpiry > 0) this.server.expireLater(this.clientId, ms);
    } else {
      await this.server.dropSession(this.clientId);
    }
    this.#ended?.(this);
  }
}

/** Before CONNECT: nothing is sent or received under a packet identifier yet. */
const NO_PACKETS = new PacketState();
