/**
 * The virtual-destinations plugin: virtual topics (each consumer group's own queue bound to the
 * topic; consuming it takes the right to subscribe to the topic), composite destinations, mirrored
 * queues and routing rules with selector filters. Set in broker.json options; changed at runtime
 * through the typed `virtual-destinations` service, each change persisted and reported as an
 * `adminAction`.
 *
 * @example
 * ```ts
 * const vd = ctx.use("virtual-destinations"); // with "after": ["virtual-destinations"]
 * await vd.setComposite({ name: "orders", kind: "queue", targets: [
 *   { destination: "orders.eu", kind: "queue", selector: "region = 'EU'" },
 *   { destination: "orders.audit", kind: "topic" },
 * ] });
 * ```
 *
 * @module
 */
import {
  BROKER_PRINCIPAL,
  BrokerError,
  definePlugin,
  DROP,
  isBrokerError,
  type Principal,
  Priority,
  type Reject,
  type SubscriptionSpec,
} from "../../mod.ts";
import {
  compileComposite,
  compileConfig,
  compileRule,
  type CompositeDef,
  consumerQueue,
  type MirrorDef,
  type RuleDef,
  type VirtualConfig,
  type VirtualTopicDef,
} from "./config.ts";
import { forward, HOPS, Router } from "./router.ts";

export type {
  CompositeDef,
  MirrorDef,
  RuleDef,
  TargetDef,
  VirtualConfig,
  VirtualTopicDef,
} from "./config.ts";

/** A virtual-topic consumer group queue. */
export interface ConsumerGroupInfo {
  readonly queue: string;
  readonly group: string;
  readonly topic: string;
  readonly pending: number;
  readonly consumers: number;
}

/** The typed service the plugin provides as "virtual-destinations". Every change is an adminAction. */
export interface VirtualDestinationsService {
  /** The configuration in force (a copy). */
  config(): VirtualConfig;
  /** Adds or replaces a composite destination. */
  setComposite(def: CompositeDef, by?: Principal): Promise<void>;
  removeComposite(name: string, by?: Principal): Promise<boolean>;
  /** Adds or replaces a routing rule. */
  setRule(def: RuleDef, by?: Principal): Promise<void>;
  removeRule(name: string, by?: Principal): Promise<boolean>;
  setMirrors(def: MirrorDef, by?: Principal): Promise<void>;
  setVirtualTopics(def: Partial<VirtualTopicDef>, by?: Principal): Promise<void>;
  /** Virtual-topic consumer group queues that exist now. */
  consumerGroups(): ConsumerGroupInfo[];
  /** Deletes a consumer group's queue (and its binding); false when it does not exist. */
  removeConsumerGroup(queue: string, by?: Principal): Promise<boolean>;
}

declare module "../../mod.ts" {
  interface Services {
    "virtual-destinations": VirtualDestinationsService;
  }
}

interface Stored {
  /** The broker.json options these runtime changes were made on top of. */
  basis: string;
  config: VirtualConfig;
}

const clone = <T>(v: T): T => structuredClone(v);

/** Puts a copy of `def` in place of the entry of the same name, or last; the change record of `change`. */
function upsertNamed<T extends { name: string }>(list: T[], def: T) {
  const i = list.findIndex((x) => x.name === def.name);
  const before = i >= 0 ? list[i] : null;
  if (i >= 0) list[i] = clone(def);
  else list.push(clone(def));
  return { before, after: def, result: undefined };
}

/** Takes out the entry called `name`; the change record of `change`, `result` whether there was one. */
function removeNamed<T extends { name: string }>(list: T[], name: string) {
  const i = list.findIndex((x) => x.name === name);
  if (i < 0) return { before: null, after: null, result: false };
  const [before] = list.splice(i, 1);
  return { before, after: null, result: true };
}

export default definePlugin<VirtualConfig>({
  name: "virtual-destinations",
  async setup(ctx) {
    const broker = ctx.broker;
    const kv = broker.store.kv<Stored>("virtual-destinations");
    const basis = JSON.stringify(ctx.options);
    let cfg: VirtualConfig = clone(ctx.options) as VirtualConfig;
    const router = new Router();
    router.set(compileConfig(cfg));
    const stored = await kv.get("config");
    if (stored && stored.basis === basis) {
      try {
        router.set(compileConfig(stored.config));
        cfg = stored.config;
      } catch (e) {
        ctx.log.warn("ignoring stored runtime changes that no longer validate", { error: String(e) });
      }
    } else if (stored) {
      ctx.log.info("broker.json options changed: runtime changes made before are discarded");
      await kv.delete("config");
    }

    ctx.hooks.on("publish", ({ message: m }) => {
      const routes = router.lookup(m.kind, m.destination);
      if (routes.length === 0) return m;
      const hops = Number(m.annotations?.[HOPS] ?? 0);
      if (hops >= cfg.maxHops) {
        ctx.log.warn(`not forwarding "${m.destination}" further: ${hops} hops (option maxHops)`);
        return m;
      }
      const { copies, forwardOnly } = forward(m, routes, hops);
      if (copies.length === 0) return forwardOnly ? DROP : m;
      return Promise.all(copies.map((c) => broker.publish(c))).then(
        () => forwardOnly ? DROP : m,
        (e) => ({
          code: isBrokerError(e) ? e.code : "server_busy",
          reason: `Cannot forward "${m.destination}": ${(e as Error)?.message ?? e}`,
        }),
      );
    }, { priority: Priority.ROUTE });

    // A group queue is made on first use and bound to its topic; a topic subscription consumes it.
    const bindGroup = (spec: SubscriptionSpec, topic: string): Promise<SubscriptionSpec | Reject> => {
      const queueSpec: SubscriptionSpec = spec.kind === "queue" ? spec : {
        kind: "queue",
        destination: spec.destination,
        selector: spec.selector,
        prefetch: spec.prefetch,
        ack: spec.ack,
        exclusive: spec.exclusive,
      };
      return broker.createQueue(spec.destination, { durable: true })
        .then(() => broker.bindQueue(spec.destination, topic))
        .then(() => queueSpec, (e) => ({
          code: isBrokerError(e) ? e.code : "server_busy",
          reason: `Cannot bind "${spec.destination}" to "${topic}": ${(e as Error)?.message ?? e}`,
        }));
    };
    ctx.hooks.on("subscribe", ({ spec, session }) => {
      const vt = consumerQueue(cfg.virtualTopics, spec.destination);
      if (vt === undefined || (spec.kind === "topic" && !cfg.virtualTopics.topicSubscriptions)) return spec;
      // A group queue holds the topic's messages: reading it takes the right to subscribe to the topic,
      // asked of the same authorize gate (the core checked only the queue's name). Checked before the
      // queue is made, so nothing collects the topic for a consumer who may not read it.
      return session.authorize("subscribe", vt.topic, "topic").then((allowed) =>
        allowed === true
          ? bindGroup(spec, vt.topic)
          : { ...allowed, reason: `Cannot consume "${spec.destination}": ${allowed.reason}` }
      );
    }, { priority: Priority.ROUTE });

    // One change at a time, so before/after in adminAction events are exact.
    let chain: Promise<unknown> = Promise.resolve();
    const change = <T>(
      action: string,
      object: string,
      by: Principal | undefined,
      edit: (next: VirtualConfig) => { before: unknown; after: unknown; result: T },
    ): Promise<T> => {
      const run = async () => {
        const next = clone(cfg);
        const { before, after, result } = edit(next);
        const routes = compileConfig(next); // throws before anything changes
        await kv.set("config", { basis, config: next });
        cfg = next;
        router.set(routes);
        broker.emit("adminAction", {
          principal: by ?? BROKER_PRINCIPAL,
          action: `virtual-destinations.${action}`,
          object,
          before,
          after,
        });
        return result;
      };
      const p = chain.then(run, run);
      chain = p.catch(() => {});
      return p;
    };

    const service: VirtualDestinationsService = {
      config: () => clone(cfg),
      async setComposite(def, by) {
        compileComposite(def);
        return await change("setComposite", def.name, by, (next) => upsertNamed(next.composites, def));
      },
      removeComposite(name, by) {
        return change("removeComposite", name, by, (next) => removeNamed(next.composites, name));
      },
      async setRule(def, by) {
        compileRule(def);
        return await change("setRule", def.name, by, (next) => upsertNamed(next.rules, def));
      },
      removeRule(name, by) {
        return change("removeRule", name, by, (next) => removeNamed(next.rules, name));
      },
      setMirrors(def, by) {
        return change("setMirrors", "mirrors", by, (next) => {
          const before = next.mirrors;
          next.mirrors = clone(def);
          return { before, after: def, result: undefined };
        });
      },
      setVirtualTopics(def, by) {
        return change("setVirtualTopics", "virtualTopics", by, (next) => {
          const before = next.virtualTopics;
          next.virtualTopics = { ...before, ...clone(def) };
          return { before, after: next.virtualTopics, result: undefined };
        });
      },
      consumerGroups() {
        const out: ConsumerGroupInfo[] = [];
        for (const d of broker.destinations()) {
          if (d.kind !== "queue") continue;
          const vt = consumerQueue(cfg.virtualTopics, d.name);
          if (vt) out.push({ queue: d.name, ...vt, pending: d.pending, consumers: d.consumers });
        }
        return out;
      },
      async removeConsumerGroup(queue, by) {
        const vt = consumerQueue(cfg.virtualTopics, queue);
        if (vt === undefined) {
          throw new BrokerError(
            "invalid_argument",
            `Cannot remove "${queue}": it is not a virtual-topic consumer queue`,
          );
        }
        const ok = await broker.deleteDestination(queue, "queue");
        if (ok) {
          broker.emit("adminAction", {
            principal: by ?? BROKER_PRINCIPAL,
            action: "virtual-destinations.removeConsumerGroup",
            object: queue,
            before: vt,
            after: null,
          });
        }
        return ok;
      },
    };
    ctx.provide("virtual-destinations", service);
    return async () => {
      await chain;
    };
  },
});
