/**
 * The cross-protocol matrix: for every (producer protocol, consumer protocol) pair among the clients
 * present, the same delivery features must behave the same: priority order, message-group stickiness,
 * TTL expiry into the DLQ, delayed delivery, selector filtering, and persistence across a restart
 * (with scheduled and dead-lettered messages pending). A pair skips a feature only where a protocol
 * cannot express it; those gaps are listed by name in the test output and in plugins/README.md.
 *
 * Clients live in ./matrix_clients.ts; a protocol joins the matrix when its plugin folder exists.
 *
 * @module
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import type { PluginEntry } from "../../mod.ts";
import { startBroker, type TestBroker } from "../helpers/broker.ts";
import { Collector, waitFor } from "../helpers/wait.ts";

/** What the matrix checks. */
export const FEATURES = [
  "priority",
  "groups",
  "ttl-dlq",
  "delay",
  "selector",
  "batch",
  "pull",
  "persistence",
] as const;
export type Feature = typeof FEATURES[number];

/** A destination in the core's internal form; clients translate it to their wire form. */
export interface Dest {
  readonly kind: "queue" | "topic";
  readonly name: string;
}

/** A message as a producer sends it. */
export interface Outgoing {
  body: string;
  properties?: Record<string, string | number | boolean>;
  priority?: number;
  groupId?: string;
  /** Time to live, ms. */
  ttl?: number;
  /** Delivery delay, ms. */
  delay?: number;
  persistent?: boolean;
}

/** A message as a consumer sees it (properties as the protocol carries them: often strings). */
export interface Incoming {
  body: string;
  properties: Record<string, unknown>;
}

/** A connected producer. `send` resolves once the broker confirmed the message. */
export interface Producer {
  send(dest: Dest, m: Outgoing): Promise<void>;
  /** Sends all without waiting for each confirmation (async / batch send); resolves when all are confirmed. */
  sendMany?(dest: Dest, ms: Outgoing[]): Promise<void>;
  close(): Promise<void>;
}

/** A running consumer; received messages are acked by the client. */
export interface Consumer {
  close(): Promise<void>;
}

/** How to consume: `pull` asks for one message at a time (credit 1, fetch, or receive calls). */
export interface ConsumeOptions {
  selector?: string;
  prefetch?: number;
  pull?: boolean;
}

/** One protocol's client in the matrix. */
export interface ProtocolClient {
  readonly name: string;
  /** Broker plugins it needs (listeners on port 0). */
  readonly plugins: PluginEntry[];
  /** False when user properties travel as strings only (MQTT user properties, STOMP headers). */
  readonly typedProperties?: boolean;
  /** False when the protocol reaches queues only through topics (MQTT): the pair then uses a virtual topic. */
  readonly queues?: boolean;
  /** Features it cannot express as a producer, with the reason. */
  readonly cannotProduce?: Partial<Record<Feature, string>>;
  /** Features it cannot express as a consumer, with the reason. */
  readonly cannotConsume?: Partial<Record<Feature, string>>;
  /**
   * Features that fail as a consumer because of a known bug in the protocol plugin (not a protocol
   * limit): skipped and listed as bugs until the plugin is fixed. Keep this empty when you can.
   */
  readonly knownConsumerBugs?: Partial<Record<Feature, string>>;
  producer(tb: TestBroker): Promise<Producer>;
  consume(
    tb: TestBroker,
    dest: Dest,
    opts: ConsumeOptions,
    onMessage: (m: Incoming) => void,
  ): Promise<Consumer>;
}

/** Why `feature` cannot run for the pair, or undefined when it can. */
export function gapOf(p: ProtocolClient, c: ProtocolClient, feature: Feature): string | undefined {
  const a = p.cannotProduce?.[feature], b = c.cannotConsume?.[feature];
  if (a && b) return `${p.name} producer: ${a}; ${c.name} consumer: ${b}`;
  if (a) return `${p.name} producer: ${a}`;
  if (b) return `${c.name} consumer: ${b}`;
  return undefined;
}

/** Whether a persistent store plugin is present (restart checks need it). */
export const HAS_STORE: boolean = existsSync(
  new URL("../../plugins/sqlite-store/plugin.json", import.meta.url),
);

/** The core plugins the matrix broker runs besides the protocols. */
export const BASE_PLUGINS: PluginEntry[] = [
  ...(HAS_STORE ? [{ use: "sqlite-store", options: { synchronous: "NORMAL" } }] : []),
  { use: "delay" },
  { use: "dlq", options: { default: { maxRedeliveries: 3 } } },
  { use: "virtual-destinations" },
];

function pluginsFor(p: ProtocolClient, c: ProtocolClient): PluginEntry[] {
  const seen = new Set<string>();
  const out: PluginEntry[] = [];
  for (const e of [...BASE_PLUGINS, ...p.plugins, ...c.plugins]) {
    if (seen.has(e.use)) continue;
    seen.add(e.use);
    out.push(e);
  }
  return out;
}

/** A broker for one pair; restart() keeps the data dir. */
export class PairBroker {
  tb!: TestBroker;
  readonly #plugins: PluginEntry[];
  constructor(p: ProtocolClient, c: ProtocolClient) {
    this.#plugins = pluginsFor(p, c);
  }
  async start(dataDir?: string): Promise<TestBroker> {
    this.tb = await startBroker({ plugins: this.#plugins, dataDir, limits: { expirySweepMs: 25 } });
    return this.tb;
  }
  async restart(): Promise<TestBroker> {
    const dir = this.tb.dataDir;
    await this.tb.stop({ keepData: true });
    return await this.start(dir);
  }
  stop(): Promise<void> {
    return this.tb.stop();
  }
}

/**
 * Where one check's messages go. Protocols that address queues directly use the queue itself;
 * a protocol that only knows topics (MQTT) reaches a queue through a virtual topic: the producer
 * publishes to topic `VirtualTopic.<name>` and the consumer takes consumer-group queue
 * `Consumer.mx.VirtualTopic.<name>` (which the virtual-destinations plugin lets a topic subscriber use).
 */
export interface Lane {
  readonly produce: Dest;
  readonly consume: Dest;
  /** The core queue the messages wait in. */
  readonly queue: string;
}

async function openLane(p: ProtocolClient, c: ProtocolClient, b: PairBroker, name: string): Promise<Lane> {
  if (p.queues !== false && c.queues !== false) {
    const d: Dest = { kind: "queue", name };
    return { produce: d, consume: d, queue: name };
  }
  const topic = `VirtualTopic.${name}`, queue = `Consumer.mx.${topic}`;
  await b.tb.broker.createQueue(queue);
  await b.tb.broker.bindQueue(queue, topic);
  return { produce: { kind: "topic", name: topic }, consume: { kind: "queue", name: queue }, queue };
}

type Check = (ctx: {
  p: ProtocolClient;
  c: ProtocolClient;
  b: PairBroker;
  lane: (n: string) => Promise<Lane>;
  /** Records a partial gap: the feature ran, but in a reduced form. */
  note: (gap: string) => void;
}) => Promise<void>;

async function collect(c: ProtocolClient, tb: TestBroker, dest: Dest, opts: ConsumeOptions = {}) {
  const got = new Collector<Incoming>();
  const consumer = await c.consume(tb, dest, opts, got.push);
  return { got, consumer };
}

const bodies = (b: PairBroker, queue: string) =>
  b.tb.broker.browse(queue).map((m) => new TextDecoder().decode(m.body));
const pendingIn = (b: PairBroker, queue: string) =>
  b.tb.broker.destinations().find((d) => d.name === queue)?.pending ?? 0;

const CHECKS: Record<Feature, Check> = {
  async priority({ p, c, b, lane }) {
    const l = await lane("prio");
    const prod = await p.producer(b.tb);
    const prios = [1, 9, 4, 9, 1, 4];
    for (let i = 0; i < prios.length; i++) {
      await prod.send(l.produce, { body: String(i), priority: prios[i], persistent: true });
    }
    await prod.close();
    await waitFor(() => pendingIn(b, l.queue) === 6, "six messages queued");
    const { got, consumer } = await collect(c, b.tb, l.consume, { prefetch: 10 });
    const items = await got.atLeast(6);
    await consumer.close();
    assert.deepEqual(
      items.map((m) => m.body),
      ["1", "3", "2", "5", "0", "4"],
      "highest priority first, FIFO within one",
    );
  },

  async groups({ p, c, b, lane }) {
    const l = await lane("groups");
    const a = await collect(c, b.tb, l.consume, { prefetch: 50 });
    const z = await collect(c, b.tb, l.consume, { prefetch: 50 });
    const prod = await p.producer(b.tb);
    for (let i = 0; i < 24; i++) {
      await prod.send(l.produce, { body: `g${i % 4}:${i}`, groupId: `g${i % 4}`, persistent: true });
    }
    await prod.close();
    await waitFor(() => a.got.items.length + z.got.items.length === 24, "24 deliveries");
    await a.consumer.close();
    await z.consumer.close();
    const owner = new Map<string, string>();
    for (const [who, got] of [["a", a.got], ["z", z.got]] as const) {
      for (const m of got.items) {
        const g = m.body.split(":")[0];
        assert.equal(owner.get(g) ?? who, who, `group ${g} stuck to one consumer`);
        owner.set(g, who);
      }
    }
    assert.equal(owner.size, 4);
    assert.ok(a.got.items.length > 0 && z.got.items.length > 0, "groups spread over both consumers");
  },

  async "ttl-dlq"({ p, c, b, lane }) {
    const l = await lane("ttl");
    const prod = await p.producer(b.tb);
    await prod.send(l.produce, { body: "short-lived", ttl: 100, persistent: true });
    await prod.send(l.produce, { body: "long-lived", ttl: 60_000, persistent: true });
    await prod.close();
    const dlq = `DLQ.${l.queue}`;
    await waitFor(() => pendingIn(b, dlq) === 1, "the expired message in the DLQ");
    const [m] = b.tb.broker.browse(dlq);
    assert.equal(new TextDecoder().decode(m.body), "short-lived");
    assert.equal(m.properties.dlqReason, "expired");
    assert.equal(m.properties.dlqOriginalDestination, l.produce.name);
    const live = await collect(c, b.tb, l.consume);
    assert.deepEqual((await live.got.atLeast(1)).map((x) => x.body), ["long-lived"]);
    await live.consumer.close();
  },

  async delay({ p, c, b, lane }) {
    const l = await lane("delay");
    const { got, consumer } = await collect(c, b.tb, l.consume);
    const prod = await p.producer(b.tb);
    const t0 = Date.now();
    await prod.send(l.produce, { body: "delayed", delay: 400 });
    await prod.send(l.produce, { body: "at once" });
    await prod.close();
    const items = await got.atLeast(2);
    const at = Date.now();
    await consumer.close();
    assert.deepEqual(items.map((m) => m.body), ["at once", "delayed"]);
    assert.ok(at - t0 >= 400, `delayed message arrived after ${at - t0} ms`);
  },

  async selector({ p, c, b, lane, note }) {
    const l = await lane("sel");
    // JMS selectors compare numbers only with numbers: a protocol whose properties are strings is
    // checked with a string comparison, and the difference is listed with the gaps.
    const typed = p.typedProperties !== false;
    if (!typed) note(`numeric selector comparisons: ${p.name} sends properties as strings`);
    const selector = typed ? "color = 'red' AND size > 2" : "color = 'red' AND size <> '1'";
    const { got, consumer } = await collect(c, b.tb, l.consume, { selector });
    const prod = await p.producer(b.tb);
    await prod.send(l.produce, { body: "blue", properties: { color: "blue", size: 5 } });
    await prod.send(l.produce, { body: "small red", properties: { color: "red", size: 1 } });
    await prod.send(l.produce, { body: "red", properties: { color: "red", size: 3 } });
    await prod.close();
    const items = await got.atLeast(1);
    assert.deepEqual(items.map((m) => m.body), ["red"]);
    assert.equal(String(items[0].properties.color), "red");
    await consumer.close();
    assert.deepEqual(bodies(b, l.queue), ["blue", "small red"]);
  },

  async batch({ p, c, b, lane }) {
    const l = await lane("batch");
    const { got, consumer } = await collect(c, b.tb, l.consume, { prefetch: 50 });
    const prod = await p.producer(b.tb);
    const ms = Array.from({ length: 100 }, (_, i) => ({ body: String(i), persistent: i % 2 === 0 }));
    await (prod.sendMany
      ? prod.sendMany(l.produce, ms)
      : Promise.all(ms.map((m) => prod.send(l.produce, m))));
    await prod.close();
    const items = await got.atLeast(100);
    await consumer.close();
    assert.deepEqual(items.map((m) => Number(m.body)), ms.map((_, i) => i), "all 100, in send order");
  },

  async pull({ p, c, b, lane }) {
    const l = await lane("pull");
    const prod = await p.producer(b.tb);
    for (let i = 0; i < 5; i++) await prod.send(l.produce, { body: String(i), persistent: true });
    await prod.close();
    await waitFor(() => pendingIn(b, l.queue) === 5, "five messages queued");
    const { got, consumer } = await collect(c, b.tb, l.consume, { pull: true });
    const items = await got.atLeast(5);
    await consumer.close();
    assert.deepEqual(items.map((m) => m.body), ["0", "1", "2", "3", "4"]);
    await waitFor(
      () =>
        pendingIn(b, l.queue) === 0 &&
        b.tb.broker.destinations().find((d) => d.name === l.queue)?.inflight === 0,
      "every pulled message acked",
    );
  },

  async persistence({ p, c, b, lane }) {
    const l = await lane("durable");
    const prod = await p.producer(b.tb);
    await prod.send(l.produce, { body: "kept", persistent: true });
    const sentAt = Date.now();
    await prod.send(l.produce, { body: "scheduled", persistent: true, delay: 1500 });
    await prod.send(l.produce, { body: "expiring", persistent: true, ttl: 50 });
    await prod.close();
    const dlq = `DLQ.${l.queue}`;
    await waitFor(() => pendingIn(b, dlq) === 1, "the dead letter");
    await b.restart();
    assert.deepEqual(bodies(b, dlq), ["expiring"], "dead letter kept across restart");
    const { got, consumer } = await collect(c, b.tb, l.consume);
    const items = await got.atLeast(2, 5000);
    const firedAfter = Date.now() - sentAt;
    await consumer.close();
    assert.deepEqual(items.map((m) => m.body), ["kept", "scheduled"]);
    assert.ok(
      firedAfter >= 1500,
      `the scheduled message fired ${firedAfter} ms after it was sent, not early`,
    );
  },
};

/** Runs every feature for one pair as test steps; a gap is an ignored step whose name says why. */
export async function runPair(
  t: Deno.TestContext,
  p: ProtocolClient,
  c: ProtocolClient,
  gaps: string[],
): Promise<void> {
  const b = new PairBroker(p, c);
  await b.start();
  try {
    for (const f of FEATURES) {
      if (f === "persistence" && !HAS_STORE) {
        await t.step({ name: `${f} [skipped: no sqlite-store plugin]`, ignore: true, fn: () => {} });
        continue;
      }
      const bug = c.knownConsumerBugs?.[f];
      if (bug) {
        gaps.push(`${p.name} -> ${c.name}: ${f} (KNOWN BUG in the ${c.name} plugin: ${bug})`);
        await t.step({ name: `${f} [known bug: ${bug}]`, ignore: true, fn: () => {} });
        continue;
      }
      const gap = gapOf(p, c, f);
      if (gap) {
        gaps.push(`${p.name} -> ${c.name}: ${f} (${gap})`);
        await t.step({ name: `${f} [gap: ${gap}]`, ignore: true, fn: () => {} });
        continue;
      }
      const prefix = `mx.${p.name}.${c.name}`.replaceAll("-", "_");
      const lane = (n: string) => openLane(p, c, b, `${prefix}.${n}`);
      const note = (gap: string) => gaps.push(`${p.name} -> ${c.name}: ${f}, partial (${gap})`);
      await t.step(f, () => CHECKS[f]({ p, c, b, lane, note }));
    }
  } finally {
    await b.stop();
  }
}
