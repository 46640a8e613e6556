/**
 * `createBroker()`: wires the core, the hook registry, the logs and the plugin host; start and stop.
 * The only module that knows them all.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import type {
  BrokerLimits,
  BrokerManifest,
  Delivery,
  Message,
  MessageInit,
  PluginInfo,
  Scheduler,
  Store,
  Subscription,
  SubscriptionSpec,
} from "./api.ts";
import { isReject } from "./api.ts";
import { Core, DEFAULT_LIMITS } from "./core.ts";
import { BrokerError } from "./errors.ts";
import { HookRegistry } from "./hooks.ts";
import { LogHub } from "./log.ts";
import { checkBrokerManifest, readBrokerManifest } from "./manifest.ts";
import { reserveMessageId } from "./message.ts";
import { info, PluginHost } from "./plugin_host.ts";
import { MemoryStore } from "./store.ts";

/** Options for {@linkcode createBroker}. */
export interface CreateBrokerOptions {
  /** Directory relative paths in the manifest resolve against (default: the manifest's folder or cwd). */
  baseDir?: string;
  /** Print log lines to stderr (default true). */
  printLogs?: boolean;
  logLevel?: "debug" | "info" | "warn" | "error" | "silent";
}

/** A consumer callback for {@linkcode Broker.subscribe}. */
export type DeliveryHandler = (d: Delivery, sub: Subscription) => void;

/** A running broker. */
export class Broker extends Core {
  declare readonly logs: LogHub;
  readonly host: PluginHost;
  readonly manifest: BrokerManifest;
  #embedded: ReturnType<Core["internalSession"]> | undefined;
  #handlers = new Map<Subscription, DeliveryHandler>();
  // Deliveries made while subscribe() is still attaching (messages already pending) wait here.
  #early = new Map<Subscription, Delivery[]>();
  #stopped = false;

  /** @internal use {@linkcode createBroker} */
  constructor(
    init: { manifest: BrokerManifest; limits: BrokerLimits; logs: LogHub; baseDir: string; dataDir: string },
  ) {
    const hooks = new HookRegistry(init.logs.get("hooks"));
    super({
      nodeId: init.manifest.node?.id ?? "node-1",
      limits: init.limits,
      hooks,
      log: init.logs.get("core"),
      logs: init.logs,
    });
    this.manifest = init.manifest;
    this.host = new PluginHost({
      broker: this,
      hooks,
      logs: init.logs,
      dataDir: init.dataDir,
      baseDir: init.baseDir,
      timeoutMs: init.limits.pluginTimeoutMs,
      onProvided: async (name, impl) => {
        if (name === "store") await this.attachStore(impl as Store);
        else if (name === "scheduler") this.attachScheduler(impl as Scheduler);
      },
    });
  }

  /**
   * Subscribes in-process; `handler` receives each delivery. With the default `ack: "client"`, call
   * `sub.ack([d.tag])`.
   */
  async subscribe(spec: SubscriptionSpec, handler: DeliveryHandler): Promise<Subscription> {
    const s = this.#session();
    const sub = await s.subscribe(spec);
    if (isReject(sub)) throw new BrokerError(sub.code, sub.reason);
    this.#handlers.set(sub, handler);
    const early = this.#early.get(sub);
    if (early !== undefined) {
      this.#early.delete(sub);
      for (const d of early) handler(d, sub);
    }
    return sub;
  }

  /** Publishes in-process and returns the message id once accepted (durable when persistent). */
  async send(init: MessageInit): Promise<string> {
    const reserved = init.reservedId ?? reserveMessageId();
    await this.publish({ ...init, reservedId: reserved });
    return reserved.id;
  }

  #session() {
    this.#embedded ??= this.internalSession("embedded", {
      deliver: (sub, d) => {
        const h = this.#handlers.get(sub);
        if (h !== undefined) h(d, sub);
        else {
          const list = this.#early.get(sub);
          if (list === undefined) this.#early.set(sub, [d]);
          else list.push(d);
        }
      },
    });
    return this.#embedded;
  }

  override plugins(): PluginInfo[] {
    return this.host.instances.map(info);
  }

  /** Stops every plugin in reverse order, then the core. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.close();
    await this.host.stop("stop");
  }

  /** Browse helper typed for embedders. */
  peek(queue: string, limit = 100): Message[] {
    return this.browse(queue, { limit });
  }
}

/**
 * Creates and starts a broker from a manifest object or a path to broker.json. Every plugin is set up
 * before this resolves; on any failure nothing stays running and the error names the plugin.
 *
 * @example
 * ```ts
 * const broker = await createBroker({ plugins: [] });
 * await broker.subscribe({ kind: "queue", destination: "jobs" }, (d, sub) => sub.ack([d.tag]));
 * await broker.publish({ kind: "queue", destination: "jobs", body: "work" });
 * await broker.stop();
 * ```
 */
export async function createBroker(
  manifest: BrokerManifest | string,
  opts: CreateBrokerOptions = {},
): Promise<Broker> {
  let m: BrokerManifest;
  let baseDir = opts.baseDir;
  if (typeof manifest === "string") {
    m = await readBrokerManifest(manifest);
    baseDir ??= dirname(resolve(manifest));
  } else {
    m = checkBrokerManifest(manifest, "the manifest");
  }
  baseDir ??= Deno.cwd();
  const logs = new LogHub({ level: opts.logLevel, print: opts.printLogs });
  const limits: BrokerLimits = { ...DEFAULT_LIMITS, ...m.limits };
  const dataDir = resolve(baseDir, m.node?.dataDir ?? "./data");
  const broker = new Broker({ manifest: m, limits, logs, baseDir, dataDir });
  // The in-memory store serves until a store plugin provides one (store plugins set up first).
  await broker.attachStore(new MemoryStore());
  await broker.host.start(m.plugins);
  broker.start();
  return broker;
}
