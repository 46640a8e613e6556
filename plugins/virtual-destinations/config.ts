/**
 * Virtual destination configuration: its JSON shape (broker.json options and the runtime API take
 * the same), validation with field-named errors, and compilation into forwarding routes the publish
 * fold looks up by destination.
 *
 * @module
 */
import {
  BrokerError,
  compileSelector,
  type DestinationKind,
  isPattern,
  type Message,
  validateName,
  validatePattern,
} from "../../mod.ts";

/** One target of a composite destination or rule; `{destination}` in the name is the source name. */
export interface TargetDef {
  destination: string;
  kind: DestinationKind;
  /** Only messages matching this JMS selector go to this target. */
  selector?: string;
}

/** A composite destination: one publish to `name` goes to every target. */
export interface CompositeDef {
  name: string;
  kind: DestinationKind;
  targets: TargetDef[];
  /** Only the targets receive the message, not `name` itself (default true). */
  forwardOnly?: boolean;
}

/** A routing rule: messages to destinations matching `source` (and `selector`) are also sent to targets. */
export interface RuleDef {
  name: string;
  /** Destination pattern ("orders.>"). */
  source: string;
  kind: DestinationKind;
  selector?: string;
  targets: TargetDef[];
  /** Only the targets receive matching messages (default false). */
  forwardOnly?: boolean;
}

/** Mirrored queues: everything sent to a matching queue is also published to topic `<prefix><queue>`. */
export interface MirrorDef {
  /** Queue patterns to mirror; empty = none. */
  queues: string[];
  prefix: string;
}

/** Virtual topics: a publish to `<topicPrefix>X` reaches every `<consumerPrefix><group>.<topicPrefix>X` queue. */
export interface VirtualTopicDef {
  enabled: boolean;
  topicPrefix: string;
  consumerPrefix: string;
  /** Let topic subscribers (MQTT) consume a group queue by subscribing to its name as a topic. */
  topicSubscriptions: boolean;
}

/** The whole configuration. */
export interface VirtualConfig {
  virtualTopics: VirtualTopicDef;
  composites: CompositeDef[];
  rules: RuleDef[];
  mirrors: MirrorDef;
  /** Most forwarding hops a message may take (stops loops between rules). */
  maxHops: number;
}

type Filter = (m: Message) => boolean;

/** A compiled target. */
export interface Target {
  readonly destination: string;
  readonly templated: boolean;
  readonly kind: DestinationKind;
  readonly filter?: Filter;
}

/** A compiled route: where a published message is forwarded. */
export interface Route {
  readonly id: string;
  readonly source: string;
  readonly literal: boolean;
  readonly kind: DestinationKind;
  readonly filter?: Filter;
  readonly forwardOnly: boolean;
  readonly targets: readonly Target[];
}

const KINDS = new Set(["queue", "topic"]);

function fail(field: string, msg: string): never {
  throw new BrokerError("invalid_argument", `Cannot use virtual destination ${field}: ${msg}`);
}

function checkName(field: string, v: unknown, allowWildcards: boolean): string {
  if (typeof v !== "string") fail(field, `must be a string, got ${JSON.stringify(v)}`);
  try {
    if (allowWildcards) validatePattern(v);
    else validateName(v);
  } catch (e) {
    fail(field, (e as Error).message);
  }
  return v;
}

function checkKind(field: string, v: unknown): DestinationKind {
  if (typeof v !== "string" || !KINDS.has(v)) {
    fail(field, `must be "queue" or "topic", got ${JSON.stringify(v)}`);
  }
  return v as DestinationKind;
}

function selector(field: string, v: unknown): Filter | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") fail(field, "must be a string");
  try {
    return compileSelector(v) as Filter;
  } catch (e) {
    fail(field, (e as Error).message);
  }
}

function targets(field: string, v: unknown): Target[] {
  if (!Array.isArray(v) || v.length === 0) fail(field, "must be a non-empty array");
  return v.map((t, i) => {
    const f = `${field}[${i}]`;
    if (typeof t !== "object" || t === null) fail(f, "must be an object");
    const dest = (t as TargetDef).destination;
    if (typeof dest !== "string") fail(`${f}.destination`, "must be a string");
    checkName(`${f}.destination`, dest.replaceAll("{destination}", "x"), false);
    return {
      destination: dest,
      templated: dest.includes("{destination}"),
      kind: checkKind(`${f}.kind`, (t as TargetDef).kind),
      filter: selector(`${f}.selector`, (t as TargetDef).selector),
    };
  });
}

/** Validates a composite definition; throws invalid_argument naming the field. */
export function compileComposite(c: CompositeDef, field = `composite "${c?.name}"`): Route {
  const name = checkName(`${field}.name`, c?.name, false);
  return {
    id: `composite:${name}`,
    source: name,
    literal: true,
    kind: checkKind(`${field}.kind`, c.kind),
    forwardOnly: c.forwardOnly !== false,
    targets: targets(`${field}.targets`, c.targets),
  };
}

/** Validates a rule; throws invalid_argument naming the field. */
export function compileRule(r: RuleDef, field = `rule "${r?.name}"`): Route {
  if (typeof r?.name !== "string" || r.name === "") fail(`${field}.name`, "must be a non-empty string");
  const source = checkName(`${field}.source`, r.source, true);
  return {
    id: `rule:${r.name}`,
    source,
    literal: !isPattern(source),
    kind: checkKind(`${field}.kind`, r.kind),
    filter: selector(`${field}.selector`, r.selector),
    forwardOnly: r.forwardOnly === true,
    targets: targets(`${field}.targets`, r.targets),
  };
}

/** Compiles mirrors into one route per queue pattern. */
export function compileMirrors(m: MirrorDef): Route[] {
  if (typeof m?.prefix !== "string" || m.prefix === "") fail("mirrors.prefix", "must be a non-empty string");
  if (!Array.isArray(m.queues)) fail("mirrors.queues", "must be an array of queue patterns");
  return m.queues.map((q, i) => {
    const source = checkName(`mirrors.queues[${i}]`, q, true);
    return {
      id: `mirror:${source}`,
      source,
      literal: !isPattern(source),
      kind: "queue" as const,
      forwardOnly: false,
      targets: [{ destination: `${m.prefix}{destination}`, templated: true, kind: "topic" as const }],
    };
  });
}

/** Validates a whole configuration and compiles every route; throws on the first bad field. */
export function compileConfig(c: VirtualConfig): Route[] {
  const vt = c.virtualTopics;
  if (vt.enabled) {
    checkName("virtualTopics.topicPrefix", vt.topicPrefix.replace(/\.$/, ""), false);
    checkName("virtualTopics.consumerPrefix", vt.consumerPrefix.replace(/\.$/, ""), false);
  }
  const names = new Set<string>();
  const routes: Route[] = [];
  c.composites.forEach((x, i) => {
    const r = compileComposite(x, `composites[${i}]`);
    if (names.has(r.id)) fail(`composites[${i}].name`, `"${x.name}" is defined twice`);
    names.add(r.id);
    routes.push(r);
  });
  c.rules.forEach((x, i) => {
    const r = compileRule(x, `rules[${i}]`);
    if (names.has(r.id)) fail(`rules[${i}].name`, `"${x.name}" is defined twice`);
    names.add(r.id);
    routes.push(r);
  });
  routes.push(...compileMirrors(c.mirrors));
  return routes;
}

/**
 * For a virtual-topic consumer queue name (`Consumer.<group>.VirtualTopic.<rest>`), the group and the
 * topic; undefined for any other name.
 */
export function consumerQueue(
  vt: VirtualTopicDef,
  name: string,
): { group: string; topic: string } | undefined {
  if (!vt.enabled || !name.startsWith(vt.consumerPrefix)) return undefined;
  const rest = name.slice(vt.consumerPrefix.length);
  const dot = rest.indexOf(".");
  if (dot <= 0) return undefined;
  const group = rest.slice(0, dot), topic = rest.slice(dot + 1);
  if (
    group === "*" || group === ">" || !topic.startsWith(vt.topicPrefix) ||
    topic.length === vt.topicPrefix.length
  ) {
    return undefined;
  }
  if (isPattern(topic)) return undefined;
  return { group, topic };
}
