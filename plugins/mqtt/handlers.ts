/**
 * Packet handlers of a connected client: PUBLISH in both directions with QoS 0/1/2, the acks, and
 * SUBSCRIBE/UNSUBSCRIBE onto core subscriptions (shared, no-local, retain handling, identifiers).
 *
 * @module
 */
import {
  type Delivery,
  isReject,
  type Message,
  type Reject,
  type Subscription,
  type SubscriptionSpec,
} from "../../mod.ts";
import { addressToTopic, filterToPattern, topicToAddress } from "./address_map.ts";
import type { Connection, Packet } from "./connection.ts";
import { ANN, messageQos, publishInit, publishProperties } from "./message_map.ts";
import { encodePublish } from "./publish_codec.ts";
import { pubackCode, RC, subackCode } from "./reason_codes.ts";
import { MqttServer, type SubRecord } from "./server.ts";

/** One MQTT subscription of a connection. */
export interface SubInfo {
  readonly record: SubRecord;
  readonly pattern: string;
  readonly shared: boolean;
  sub: Subscription;
}

interface Inflight {
  readonly sub?: Subscription;
  readonly tag: number;
  /** QoS 2: PUBREC came (the core delivery is acked), PUBREL sent. */
  released: boolean;
}

/** The handlers, bound to one connection. */
export class Handlers {
  readonly #c: Connection;
  // Made on first use: most of 10,000s of idle connections never need them.
  #outMap: Map<number, Inflight> | undefined;
  #aliasMap: Map<number, string> | undefined;
  #outAliasMap: Map<string, number> | undefined;
  #earlyMap: Map<Subscription, Delivery[]> | undefined;
  get #out(): Map<number, Inflight> {
    return this.#outMap ??= new Map();
  }
  get #aliases(): Map<number, string> {
    return this.#aliasMap ??= new Map();
  }
  get #outAliases(): Map<string, number> {
    return this.#outAliasMap ??= new Map();
  }
  /** Deliveries made while session.subscribe() is still attaching (messages already queued). */
  get #early(): Map<Subscription, Delivery[]> {
    return this.#earlyMap ??= new Map();
  }
  #inPending = 0;
  #nextId = 1;
  /** The last ack that waits for a retained publish; later acks queue behind it. */
  #ackTail: Promise<void> | undefined;
  /** Retained messages for new subscriptions beyond the client's Receive Maximum, sent as acks free room. */
  #retainedBacklog: { m: Message; qos: number; subId: number | undefined }[] | undefined;

  constructor(c: Connection) {
    this.#c = c;
  }

  // ---- inbound PUBLISH ----

  publish(p: Packet): void {
    const c = this.#c;
    const v5 = c.version === 5;
    let topic: string = p.topic;
    const alias: number | undefined = p.properties?.topicAlias;
    if (alias !== undefined) {
      if (alias === 0 || alias > c.server.options.topicAliasMaximum) {
        return this.#fatal(RC.TOPIC_ALIAS_INVALID, "topic alias out of range");
      }
      if (topic === "") topic = this.#aliases.get(alias) ?? "";
      else this.#aliases.set(alias, topic);
      if (topic === "") return this.#fatal(RC.PROTOCOL_ERROR, "unknown topic alias");
    }
    const address = topicToAddress(topic);
    if (isReject(address)) return this.#fatal(RC.TOPIC_NAME_INVALID, address.reason); // [MQTT-3.3.2-2]
    const qos: number = p.qos;
    const received = c.packets.received;
    if (qos === 2 && received.has(p.messageId)) {
      c.send({ cmd: "pubrec", messageId: p.messageId }); // a duplicate: the first copy is already routed
      return;
    }
    if (qos > 0 && ++this.#inPending > c.server.options.receiveMaximum && v5) {
      return this.#fatal(RC.RECEIVE_MAXIMUM_EXCEEDED, "too many unacknowledged publishes"); // [MQTT-3.3.4-9]
    }
    const init = publishInit(p, address, c.version);
    if (isReject(init)) return this.#fatal(RC.PROTOCOL_ERROR, init.reason);
    if (qos === 2) received.add(p.messageId);
    const session = c.session!;
    const retain = p.retain === true;
    const done = retain ? c.server.retainOnPublish(session.publish(init), init) : session.publish(init);
    if (qos === 0) {
      done.catch((e) => c.server.log.warn("publish failed", { error: e }));
      return;
    }
    const ack = (r: Reject | void) => {
      this.#inPending--;
      const reasonCode = r === undefined ? 0 : pubackCode(r);
      if (qos === 2 && reasonCode >= 0x80) received.delete(p.messageId);
      c.send({
        cmd: qos === 1 ? "puback" : "pubrec",
        messageId: p.messageId,
        reasonCode: v5 ? reasonCode : undefined,
        properties: v5 && r ? { reasonString: r.reason.slice(0, 200) } : undefined,
      });
    };
    const fail = (e: unknown) => {
      c.server.log.warn("publish failed", { error: e });
      this.#inPending--;
      if (qos === 2) received.delete(p.messageId);
      // 3.1.1 has no negative acknowledgement: the connection ends unacknowledged, and the client sends the
      // message again when it reconnects [MQTT-3.3.5-2].
      if (!v5) return c.protocolError(RC.UNSPECIFIED_ERROR, `publish failed: ${(e as Error)?.message ?? e}`);
      c.send({
        cmd: qos === 1 ? "puback" : "pubrec",
        messageId: p.messageId,
        reasonCode: RC.UNSPECIFIED_ERROR,
        properties: { reasonString: String((e as Error)?.message ?? e).slice(0, 200) },
      });
    };
    const tail = this.#ackTail;
    if (tail === undefined && !retain) {
      done.then(ack, fail);
      return;
    }
    // A retained publish is acknowledged after the retained store too: the acks behind it wait for it, so
    // they still go out in the order the publishes came [MQTT-4.6.0-2/3].
    const next = (tail === undefined ? done : tail.then(() => done)).then(ack, fail);
    this.#ackTail = next;
    next.then(() => {
      if (this.#ackTail === next) this.#ackTail = undefined;
    });
  }

  pubrel(p: Packet): void {
    const known = this.#c.packets.received.delete(p.messageId);
    this.#c.send({
      cmd: "pubcomp",
      messageId: p.messageId,
      reasonCode: this.#c.version === 5 && !known ? RC.PACKET_IDENTIFIER_NOT_FOUND : undefined,
    });
  }

  // ---- outbound PUBLISH ----

  deliver(sub: Subscription, d: Delivery): void {
    const c = this.#c;
    const info = c.bySub.get(sub);
    if (!info) {
      const list = this.#early.get(sub);
      if (list) list.push(d);
      else this.#early.set(sub, [d]);
      return;
    }
    const qos = Math.min(info.record.qos, messageQos(d.message));
    const retain = info.record.rap && d.message.annotations?.[ANN.RETAIN] === true;
    let messageId: number | undefined;
    if (qos > 0) {
      if (c.persistent) {
        // A resend keeps the identifier the delivery first had [MQTT-4.4.0-1].
        const key = `${d.queue}\n${d.message.id}`;
        messageId = c.packets.idOf(key) ?? this.#allocId();
        c.packets.hold(key, messageId);
      } else {
        messageId = this.#allocId();
      }
      this.#out.set(messageId, { sub, tag: d.tag, released: false });
    } else if (d.tag !== 0) {
      sub.ack([d.tag]); // a QoS 0 message on a QoS>0 subscription is settled once written
      sub.credit(1);
    }
    this.#send(d.message, qos, retain, messageId, d.message.redeliveryCount > 0, info.record.id, () => {
      // Larger than the client accepts: it is dropped for this client [MQTT-3.1.2-25].
      if (messageId !== undefined) this.#settle(messageId);
    });
  }

  /**
   * Sends retained messages to a new subscription (retain flag set, not tracked by the core). Those with
   * QoS > 0 respect the client's Receive Maximum: the rest wait for acks [MQTT-3.3.4-7].
   */
  #sendRetained(info: SubInfo): void {
    for (const m of this.#c.server.retained.match(info.pattern, Date.now())) {
      const qos = Math.min(info.record.qos, messageQos(m));
      const item = { m, qos, subId: info.record.id };
      if (qos > 0 && (this.#retainedBacklog?.length || this.#out.size >= this.#c.clientReceiveMax)) {
        (this.#retainedBacklog ??= []).push(item);
      } else this.#sendRetainedOne(item);
    }
  }

  #sendRetainedOne({ m, qos, subId }: { m: Message; qos: number; subId: number | undefined }): void {
    const id = qos > 0 ? this.#allocId() : undefined;
    if (id !== undefined) this.#out.set(id, { tag: 0, released: false });
    this.#send(m, qos, true, id, false, subId, () => id !== undefined && this.#settle(id));
  }

  #send(
    m: Message,
    qos: number,
    retain: boolean,
    messageId: number | undefined,
    dup: boolean,
    subId: number | undefined,
    tooBig: () => void,
  ) {
    const c = this.#c;
    const topic = addressToTopic(m.destination);
    let properties = c.version === 5 ? publishProperties(m, subId) : undefined;
    // Outbound topic aliases [MQTT-3.3.2-8]: the first PUBLISH of a topic names it with a new alias, later
    // ones send the alias alone; once the client's maximum is used up, topics go out in full.
    let known: number | undefined, alias: number | undefined;
    if (c.clientTopicAliasMax > 0) {
      const aliases = this.#outAliases;
      known = aliases.get(topic);
      alias = known ?? (aliases.size < c.clientTopicAliasMax ? aliases.size + 1 : undefined);
      if (alias !== undefined) properties = { ...properties, topicAlias: alias };
    }
    const bytes = encodePublish(
      c.version,
      known === undefined ? topic : "",
      m.body,
      qos,
      retain,
      dup && qos > 0,
      messageId,
      properties,
    );
    if (bytes.length > c.clientMaxPacket) return tooBig();
    // A new alias counts once its PUBLISH goes out: a dropped one would name it to no one.
    if (alias !== known) this.#outAliases.set(topic, alias!);
    c.sendBytes(bytes);
  }

  puback(p: Packet): void {
    this.#settle(p.messageId);
  }

  pubrec(p: Packet): void {
    const c = this.#c;
    const f = this.#out.get(p.messageId);
    if (!f && c.packets.released.has(p.messageId)) return c.send({ cmd: "pubrel", messageId: p.messageId });
    if (!f) {
      this.#c.send({
        cmd: "pubrel",
        messageId: p.messageId,
        reasonCode: this.#c.version === 5 ? RC.PACKET_IDENTIFIER_NOT_FOUND : undefined,
      });
      return;
    }
    if (p.reasonCode >= 0x80) return this.#settle(p.messageId); // the client refused it: done [MQTT-4.3.3]
    if (f.released) return c.send({ cmd: "pubrel", messageId: p.messageId });
    // The client has the message: the core's delivery is done, what is left is PUBREL and PUBCOMP, which a
    // persistent session resends after a reconnect instead of the message.
    f.released = true;
    if (f.sub && f.tag !== 0) f.sub.ack([f.tag]);
    c.packets.drop(p.messageId);
    if (c.persistent) c.packets.released.add(p.messageId);
    c.send({ cmd: "pubrel", messageId: p.messageId });
  }

  pubcomp(p: Packet): void {
    this.#c.packets.released.delete(p.messageId);
    this.#settle(p.messageId);
  }

  #settle(id: number): void {
    const f = this.#out.get(id);
    if (!f) return;
    this.#out.delete(id);
    this.#c.packets.drop(id);
    if (f.sub && f.tag !== 0) {
      if (!f.released) f.sub.ack([f.tag]);
      f.sub.credit(1);
    }
    const backlog = this.#retainedBacklog;
    while (backlog?.length && this.#out.size < this.#c.clientReceiveMax) {
      this.#sendRetainedOne(backlog.shift()!);
    }
  }

  /** After a reconnect to a present session: the PUBREL of each QoS 2 message the client already has. */
  resendReleases(): void {
    for (const id of this.#c.packets.released) {
      this.#out.set(id, { tag: 0, released: true });
      this.#c.send({ cmd: "pubrel", messageId: id });
    }
  }

  #allocId(): number {
    const taken = this.#c.packets;
    for (let i = 0; i < 65535; i++) {
      const id = this.#nextId;
      this.#nextId = id === 65535 ? 1 : id + 1;
      if (!this.#out.has(id) && !taken.taken(id)) return id;
    }
    throw new Error("no free packet identifier");
  }

  /** The connection ended: unacked deliveries return to their queues with the core session. */
  dropInflight(): void {
    this.#outMap?.clear();
  }

  // ---- SUBSCRIBE / UNSUBSCRIBE ----

  async subscribe(p: Packet): Promise<void> {
    const c = this.#c;
    const granted: number[] = [];
    const fresh: SubInfo[] = [];
    const subId: number | undefined = p.properties?.subscriptionIdentifier;
    for (const s of p.subscriptions) {
      const record: SubRecord = {
        filter: s.topic,
        qos: Math.min(s.qos, 2),
        nl: !!s.nl,
        rap: !!s.rap,
        rh: s.rh ?? 0,
        id: subId,
      };
      const r = await this.#attach(record);
      if (isReject(r)) {
        granted.push(subackCode(r, c.version));
        continue;
      }
      granted.push(record.qos);
      if (record.rh === 0 || (record.rh === 1 && r.isNew)) fresh.push(r.info);
    }
    c.send({ cmd: "suback", messageId: p.messageId, granted });
    for (const info of fresh) if (!info.shared) this.#sendRetained(info); // [MQTT-3.3.1-6]
    await c.saveSession();
  }

  /** Re-attaches a persistent session's subscriptions after reconnect or restart. */
  async restore(records: SubRecord[]): Promise<void> {
    for (const r of records) {
      const out = await this.#attach(r);
      if (isReject(out)) {
        this.#c.server.log.warn(
          `cannot restore subscription "${r.filter}" of ${this.#c.clientId}: ${out.reason}`,
        );
      }
    }
  }

  async #attach(record: SubRecord) {
    const c = this.#c;
    let filter = record.filter;
    let group: string | undefined;
    if (filter.startsWith("$share/")) {
      const i = filter.indexOf("/", 7);
      group = filter.slice(7, i);
      filter = filter.slice(i + 1);
      if (i < 0 || group === "" || group.includes("+") || group.includes("#") || filter === "") {
        return {
          code: "invalid_destination",
          reason: `Shared subscription "${record.filter}" is malformed`,
        } as const;
      }
    }
    const pattern = filterToPattern(filter);
    if (isReject(pattern)) return pattern;
    const spec: SubscriptionSpec = {
      kind: "topic",
      destination: pattern,
      ack: record.qos === 0 ? "auto" : "client",
      prefetch: record.qos === 0 ? Infinity : Math.min(c.server.options.maxInflight, c.clientReceiveMax),
      noLocal: record.nl && !group,
      shared: group !== undefined
        ? `$mqtt.share.${encodeURIComponent(group)}.${encodeURIComponent(filter)}`
        : undefined,
      durable: c.persistent && !group ? MqttServer.queueName(c.clientId, record.filter) : undefined,
      maxLength: c.server.options.maxQueuedMessages || undefined,
    };
    const existing = c.subs.get(record.filter);
    // A SUBSCRIBE repeating a filter replaces its subscription without losing a message [MQTT-3.8.4-3]: the
    // core subscription stays when what it depends on (ack mode, no-local) is the same, and otherwise the
    // new one exists before the old one goes.
    if (existing && (existing.record.qos === 0) === (record.qos === 0) && existing.record.nl === record.nl) {
      const info: SubInfo = { ...existing, record };
      c.subs.set(record.filter, info);
      c.bySub.set(existing.sub, info);
      return { info, isNew: false };
    }
    const sub = await c.session!.subscribe(spec);
    if (isReject(sub)) return sub;
    if (existing) {
      c.bySub.delete(existing.sub);
      await existing.sub.cancel();
    }
    const info: SubInfo = { record, pattern, shared: group !== undefined, sub };
    c.subs.set(record.filter, info);
    c.bySub.set(sub, info);
    const early = this.#early.get(sub);
    if (early) {
      this.#early.delete(sub);
      for (const d of early) this.deliver(sub, d);
    }
    return { info, isNew: !existing };
  }

  async unsubscribe(p: Packet): Promise<void> {
    const c = this.#c;
    const codes: number[] = [];
    for (const filter of p.unsubscriptions as string[]) {
      const info = c.subs.get(filter);
      if (!info) {
        codes.push(RC.NO_SUBSCRIPTION_EXISTED);
        continue;
      }
      c.subs.delete(filter);
      c.bySub.delete(info.sub);
      await info.sub.cancel();
      if (c.persistent && !info.shared) await c.server.broker.deleteDestination(info.sub.queue, "queue");
      codes.push(0);
    }
    c.send({ cmd: "unsuback", messageId: p.messageId, granted: c.version === 5 ? codes : undefined });
    await c.saveSession();
  }

  #fatal(code: number, reason: string): void {
    this.#c.protocolError(code, reason);
  }
}
