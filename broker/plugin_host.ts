/**
 * The plugin host: resolve every manifest entry, validate options, order by provides/requires/after,
 * set up in order with a timeout, tear down in reverse. Nothing half-starts: a failure tears down what
 * was set up and names the plugin and the field; a setup that finishes after its timeout is torn down
 * then. Instances of runtime plugins (bridges) are also added and removed while the broker runs; they
 * are kept in the store and set up again after the manifest's plugins at every start-up.
 *
 * @module
 */
import type {
  BrokerApi,
  HookBus,
  Logger,
  Plugin,
  PluginContext,
  PluginEntry,
  PluginInfo,
  PluginManifest,
  RuntimePluginEntry,
  RuntimePlugins,
  ServiceFamily,
  ServiceIn,
  ServiceName,
  Services,
  Teardown,
} from "./api.ts";
import { BrokerError, isBrokerError } from "./errors.ts";
import type { HookRegistry } from "./hooks.ts";
import type { LogHub } from "./log.ts";
import { checkOptions, INSTANCE_ID, resolvePlugin } from "./manifest.ts";

/** The store's key-value space of runtime-added instances, by instance id. */
export const RUNTIME_KV = "plugins.runtime";

/** One plugin instance as the host tracks it. */
export interface PluginInstance {
  readonly id: string;
  readonly manifest: PluginManifest;
  readonly source: string;
  readonly options: Record<string, unknown>;
  /** Added at runtime (removable, recorded in the store), not from the manifest. */
  readonly runtime: boolean;
  state: "pending" | "running" | "failed" | "stopped";
  teardown?: Teardown | void;
  abort: AbortController;
}

/** What the host needs from the broker. */
export interface HostDeps {
  readonly broker: BrokerApi;
  readonly hooks: HookRegistry;
  readonly logs: LogHub;
  readonly dataDir: string;
  readonly baseDir: string;
  readonly timeoutMs: number;
  /** Called right after a plugin's setup resolves (the broker attaches store and scheduler). */
  readonly onProvided: (name: ServiceName, impl: unknown) => Promise<void> | void;
}

/** Loads, orders, starts and stops plugins. */
export class PluginHost {
  readonly #deps: HostDeps;
  readonly #services = new Map<string, { owner: string; impl: unknown }>();
  #instances: PluginInstance[] = [];
  #stopping = false;
  #log: Logger;

  constructor(deps: HostDeps) {
    this.#deps = deps;
    this.#log = deps.logs.get("host");
  }

  /** Instances in setup order. */
  get instances(): readonly PluginInstance[] {
    return this.#instances;
  }

  /**
   * Resolves, validates and orders every enabled entry, then sets each up; all or nothing. Then the
   * runtime-added instances recorded in the store, each on its own: one that fails is logged and skipped.
   */
  async start(entries: readonly PluginEntry[]): Promise<void> {
    const resolved: Resolved[] = [];
    const ids = new Set<string>();
    for (const entry of entries) {
      if (entry.enabled === false) continue;
      const r = await this.#resolve(entry, false);
      if (ids.has(r.inst.id)) {
        throw new BrokerError(
          "plugin_invalid",
          `Cannot start plugin "${r.inst.id}" twice: give the second entry an "as" name`,
        );
      }
      ids.add(r.inst.id);
      resolved.push(r);
    }
    const ordered = order(resolved.map((r) => r.inst));
    const loaders = new Map(resolved.map((r) => [r.inst, r.load]));
    const plugins = new Map<PluginInstance, Plugin<Record<string, unknown>>>();
    for (const inst of ordered) plugins.set(inst, await loaders.get(inst)!());
    this.#instances = ordered;
    for (const inst of ordered) {
      try {
        await this.#setup(inst, plugins.get(inst)!);
      } catch (e) {
        inst.state = "failed";
        await this.stop("failed");
        throw startError(inst.id, e);
      }
    }
    // Read after the manifest's plugins: the store plugin is among them.
    for await (const [id, entry] of this.#records().entries()) {
      try {
        await this.#add(entry, false);
      } catch (e) {
        this.#log.error(`cannot start runtime plugin "${id}"; it stays recorded until removed`, { error: e });
      }
    }
  }

  async #resolve(entry: PluginEntry, runtime: boolean): Promise<Resolved> {
    const r = await resolvePlugin(entry.use, this.#deps.baseDir);
    const id = entry.as ?? r.manifest.name;
    const options = checkOptions(id, r.manifest.options, entry.options);
    return {
      inst: {
        id,
        manifest: instanceManifest(r.manifest, id),
        source: r.source,
        options,
        runtime,
        state: "pending",
        abort: new AbortController(),
      },
      load: r.load,
    };
  }

  #records() {
    return this.#deps.broker.store.kv<RuntimePluginEntry>(RUNTIME_KV);
  }

  /** The capability plugins get as `ctx.plugins`. */
  readonly runtime: RuntimePlugins = {
    add: async (entry) => info(await this.#add(entry, true)),
    remove: (id) => this.#remove(id),
  };

  async #add(entry: RuntimePluginEntry, record: boolean): Promise<PluginInstance> {
    if (this.#stopping) throw new BrokerError("server_busy", `Cannot add plugin "${entry.as}": stopping`);
    if (!INSTANCE_ID.test(entry.as)) {
      throw new BrokerError(
        "invalid_argument",
        `Cannot add plugin "${entry.as}": its id must be lowercase letters, digits, ".", "_" or "-", ` +
          `beginning with a letter or digit`,
      );
    }
    const { inst, load } = await this.#resolve(entry, true);
    if (!inst.manifest.runtime) {
      throw new BrokerError(
        "plugin_invalid",
        `Cannot add plugin "${inst.id}": "${inst.manifest.name}" is not a runtime plugin ` +
          `(no "runtime": true in its plugin.json)`,
      );
    }
    // Checked after the last await before the instance is listed, so two adds cannot both pass.
    if (this.#instances.some((i) => i.id === inst.id)) {
      throw new BrokerError("conflict", `Cannot add plugin "${inst.id}": an instance of that id runs`);
    }
    const missing = (inst.manifest.requires ?? []).find((s) => !this.#services.has(s));
    if (missing !== undefined) {
      throw new BrokerError(
        "plugin_dependency",
        `Cannot add plugin "${inst.id}": field "requires" names "${missing}", which no running plugin provides`,
      );
    }
    this.#instances.push(inst);
    try {
      await this.#setup(inst, await load());
    } catch (e) {
      this.#unlist(inst);
      inst.state = "failed";
      inst.abort.abort();
      this.#release(inst);
      throw startError(inst.id, e);
    }
    if (record) {
      try {
        await this.#records().set(inst.id, { use: entry.use, as: entry.as, options: entry.options });
      } catch (e) {
        this.#unlist(inst);
        await this.#teardown(inst, "failed");
        throw e;
      }
    }
    return inst;
  }

  async #remove(id: string): Promise<void> {
    const inst = this.#instances.find((i) => i.id === id);
    if (inst === undefined) {
      // A recorded instance that failed to start at start-up: only its record is left to drop.
      if (await this.#records().get(id) === undefined) {
        throw new BrokerError("not_found", `Cannot remove plugin "${id}": no such instance`);
      }
      return this.#records().delete(id);
    }
    if (!inst.runtime) {
      throw new BrokerError(
        "conflict",
        `Cannot remove plugin "${id}": it comes from broker.json; remove it there and restart`,
      );
    }
    if (inst.state !== "running") {
      throw new BrokerError("conflict", `Cannot remove plugin "${id}": it is ${inst.state}`);
    }
    const provides = new Set<string>(inst.manifest.provides ?? []);
    const dependant = this.#instances.find((i) =>
      i !== inst && i.state === "running" && i.manifest.requires?.some((s) => provides.has(s))
    );
    if (dependant !== undefined) {
      throw new BrokerError("conflict", `Cannot remove plugin "${id}": plugin "${dependant.id}" requires it`);
    }
    this.#unlist(inst);
    await this.#records().delete(id);
    await this.#teardown(inst, "stop");
  }

  #unlist(inst: PluginInstance): void {
    this.#instances = this.#instances.filter((i) => i !== inst);
  }

  async #setup(inst: PluginInstance, plugin: Plugin<Record<string, unknown>>): Promise<void> {
    const deps = this.#deps;
    const after = inst.manifest.after ?? [];
    const allowed = new Set<string>([...(inst.manifest.requires ?? []), ...after]);
    const families = after.map(familyPrefix).filter((p) => p !== undefined);
    const provides = new Set(inst.manifest.provides ?? []);
    const log = deps.logs.get(inst.id);
    const hooks: HookBus = { on: (name, fn, opts) => deps.hooks.on(inst.id, name, fn, opts) };
    const services = this.#services;
    const provided: [ServiceName, unknown][] = [];
    const ctx: PluginContext<Record<string, unknown>> = {
      id: inst.id,
      options: Object.freeze(inst.options),
      broker: deps.broker,
      hooks,
      signal: inst.abort.signal,
      log,
      dataDir: deps.dataDir,
      plugins: this.runtime,
      provide(name, impl) {
        if (!provides.has(name)) {
          throw new BrokerError(
            "plugin_invalid",
            `Plugin "${inst.id}" cannot provide "${name}": not in its manifest's provides`,
          );
        }
        const held = services.get(name);
        if (held) {
          throw new BrokerError(
            "conflict",
            `Plugin "${inst.id}" cannot provide "${name}": "${held.owner}" provides it`,
          );
        }
        services.set(name, { owner: inst.id, impl });
        provided.push([name, impl]);
      },
      use<K extends ServiceName>(name: K): Services[K] {
        const impl = ctx.tryUse(name);
        if (impl === undefined) {
          throw new BrokerError(
            "plugin_dependency",
            `Plugin "${inst.id}" cannot use "${name}": no plugin provides it`,
          );
        }
        return impl;
      },
      tryUse<K extends ServiceName>(name: K): Services[K] | undefined {
        if (!allowed.has(name) && !families.some((p) => name.startsWith(p))) {
          throw new BrokerError(
            "plugin_dependency",
            `Plugin "${inst.id}" cannot use "${name}": add it to "requires" or "after" in its plugin.json`,
          );
        }
        return services.get(name)?.impl as Services[K] | undefined;
      },
      useAll<P extends string>(prefix: P): Map<ServiceIn<P>, Services[ServiceIn<P>]> {
        if (!families.includes(prefix)) {
          throw new BrokerError(
            "plugin_dependency",
            `Plugin "${inst.id}" cannot use every "${prefix}*": add "${prefix}*" to "after" in its plugin.json`,
          );
        }
        const all = new Map<ServiceIn<P>, Services[ServiceIn<P>]>();
        for (const [name, s] of services) {
          if (name.startsWith(prefix)) all.set(name as ServiceIn<P>, s.impl as Services[ServiceIn<P>]);
        }
        return all;
      },
    };
    const setup = Promise.resolve(plugin.setup(ctx));
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(
          new BrokerError(
            "plugin_failed",
            `Plugin "${inst.id}" did not finish setup within ${deps.timeoutMs} ms`,
          ),
        );
      }, deps.timeoutMs);
    });
    try {
      inst.teardown = await Promise.race([setup, timeout]);
    } catch (e) {
      if (timedOut) this.#undoLate(inst, setup);
      throw e;
    } finally {
      clearTimeout(timer);
    }
    inst.state = "running";
    for (const [name, impl] of provided) await deps.onProvided(name, impl);
    this.#log.debug(`started ${inst.id}`);
  }

  /**
   * A setup the host gave up on keeps running; whatever it opens by the time it finishes (listeners,
   * timers) is torn down then, as start-up has failed.
   */
  #undoLate(inst: PluginInstance, setup: Promise<Teardown | void>): void {
    setup.then(async (teardown) => {
      this.#log.warn(`${inst.id} finished setup after the timeout; tearing it down`);
      try {
        if (typeof teardown === "function") await teardown("failed");
      } catch (e) {
        this.#log.error(`teardown of ${inst.id} failed`, { error: e });
      }
      this.#release(inst);
    }, () => {/* it failed late: nothing to undo */});
  }

  /** Drops the hooks and services a plugin registered. */
  #release(inst: PluginInstance): void {
    this.#deps.hooks.release(inst.id);
    for (const [name, s] of this.#services) if (s.owner === inst.id) this.#services.delete(name);
  }

  /** Tears down every started plugin in reverse order; errors are logged, never thrown. */
  async stop(reason: "stop" | "failed" = "stop"): Promise<void> {
    this.#stopping = true;
    for (const inst of [...this.#instances].reverse()) {
      if (inst.state === "running" || inst.state === "failed") await this.#teardown(inst, reason);
    }
  }

  /** Aborts, runs the teardown within the timeout, releases hooks and services. Never throws. */
  async #teardown(inst: PluginInstance, reason: "stop" | "failed"): Promise<void> {
    inst.abort.abort();
    try {
      if (typeof inst.teardown === "function") {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          Promise.resolve(inst.teardown(reason)),
          new Promise((resolve) => {
            timer = setTimeout(resolve, this.#deps.timeoutMs);
          }),
        ]);
        clearTimeout(timer);
      }
    } catch (e) {
      this.#log.error(`teardown of ${inst.id} failed`, { error: e });
    }
    this.#release(inst);
    inst.state = "stopped";
  }

  /** The provider of a service, for the broker's own wiring. */
  service<K extends ServiceName>(name: K): Services[K] | undefined {
    return this.#services.get(name)?.impl as Services[K] | undefined;
  }
}

/** An instance before setup, with the loader of its module. */
interface Resolved {
  inst: PluginInstance;
  load: () => Promise<Plugin<Record<string, unknown>>>;
}

/** A setup failure as start-up and runtime adds report it: broker errors as they are, others wrapped. */
function startError(id: string, e: unknown): BrokerError {
  if (isBrokerError(e)) return e;
  return new BrokerError("plugin_failed", `Cannot start plugin "${id}": ${(e as Error)?.message ?? e}`, {
    cause: e,
  });
}

/** An instance as plugins and embedders see it. */
export function info(i: PluginInstance): PluginInfo {
  return {
    id: i.id,
    manifest: i.manifest,
    options: i.options,
    state: i.state,
    source: i.source,
    runtime: i.runtime,
  };
}

/**
 * The manifest as one instance sees it: `{id}` in a `provides` name becomes the instance id, so a plugin
 * that runs twice (two bridges) provides one service per instance (`"bridge:{id}"` -> `"bridge:east"`).
 */
export function instanceManifest(m: PluginManifest, id: string): PluginManifest {
  if (!m.provides?.some((p) => p.includes("{id}"))) return m;
  return { ...m, provides: m.provides.map((p) => p.replaceAll("{id}", id) as ServiceName) };
}

/** The prefix of a family name in `after` (`"bridge:*"` -> `"bridge:"`); undefined for a plain name. */
function familyPrefix(name: ServiceName | ServiceFamily): string | undefined {
  return name.endsWith("*") ? name.slice(0, -1) : undefined;
}

/**
 * Orders instances so that every provider of a required or `after` service (or of any service in an
 * `after` family) comes first; ties keep manifest order. Throws on an unmet `requires` or a cycle, naming
 * the plugins.
 */
export function order(insts: readonly PluginInstance[]): PluginInstance[] {
  const providers = new Map<string, PluginInstance[]>();
  for (const i of insts) {
    for (const s of i.manifest.provides ?? []) {
      const list = providers.get(s) ?? [];
      list.push(i);
      providers.set(s, list);
    }
  }
  const deps = new Map<PluginInstance, PluginInstance[]>();
  for (const i of insts) {
    const d: PluginInstance[] = [];
    for (const s of i.manifest.requires ?? []) {
      const p = providers.get(s);
      if (!p) {
        throw new BrokerError(
          "plugin_dependency",
          `Cannot start plugin "${i.id}": field "requires" names "${s}", which no enabled plugin provides`,
        );
      }
      d.push(...p.filter((x) => x !== i));
    }
    for (const s of i.manifest.after ?? []) {
      const prefix = familyPrefix(s);
      const found = prefix === undefined
        ? providers.get(s) ?? []
        : [...providers].flatMap(([name, p]) => name.startsWith(prefix) ? p : []);
      d.push(...found.filter((x) => x !== i));
    }
    deps.set(i, d);
  }
  const out: PluginInstance[] = [];
  const state = new Map<PluginInstance, "visiting" | "done">();
  const visit = (i: PluginInstance, path: PluginInstance[]) => {
    const st = state.get(i);
    if (st === "done") return;
    if (st === "visiting") {
      const cycle = [...path.slice(path.indexOf(i)), i].map((x) => `"${x.id}"`).join(" -> ");
      throw new BrokerError("plugin_dependency", `Cannot order plugins: requirements form a cycle ${cycle}`);
    }
    state.set(i, "visiting");
    for (const d of deps.get(i)!) visit(d, [...path, i]);
    state.set(i, "done");
    out.push(i);
  };
  for (const i of insts) visit(i, []);
  return out;
}
