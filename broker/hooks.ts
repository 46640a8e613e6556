/**
 * The hook bus: registration appends to a list; a registration change recompiles each chain into one
 * function, so nothing is sorted or filtered per message. Gates fail closed, folds stop on Reject or
 * DROP, observers never delay dispatch.
 *
 * @module
 */
import {
  type AccessEvent,
  type ConnectEvent,
  DEFER,
  type DeliverEvent,
  DROP,
  type HookName,
  type HookOptions,
  type Hooks,
  isReject,
  type Logger,
  type Message,
  type Principal,
  type PublishEvent,
  type Reject,
  type SubscribeEvent,
  type SubscriptionSpec,
} from "./api.ts";
import { matchesPattern } from "./address.ts";

interface Registration {
  readonly hook: HookName;
  // deno-lint-ignore no-explicit-any
  readonly fn: (e: any) => any;
  readonly priority: number;
  readonly filter?: string;
  readonly owner: string;
  readonly order: number;
}

type GateResult<T> = T | Reject;
const FAIL_CLOSED: Reject = Object.freeze({ code: "not_authorized", reason: "No plugin granted access" });

/** Compiled chains. `undefined` means nobody listens, so the caller skips the hook entirely. */
export interface CompiledHooks {
  authenticate?: (e: ConnectEvent) => Promise<GateResult<Principal>>;
  authorize?: (e: AccessEvent) => Promise<GateResult<true>> | GateResult<true>;
  publish?: (e: PublishEvent) => Promise<Message | Reject | typeof DROP> | Message | Reject | typeof DROP;
  subscribe?: (e: SubscribeEvent) => Promise<SubscriptionSpec | Reject> | SubscriptionSpec | Reject;
  deliver?: (e: DeliverEvent) => Message | Reject | typeof DROP;
  acked?: Hooks["acked"];
  expired?: Hooks["expired"];
  deadLetter?: Hooks["deadLetter"];
  connected?: Hooks["connected"];
  disconnected?: Hooks["disconnected"];
  adminAction?: Hooks["adminAction"];
  authenticated?: Hooks["authenticated"];
  authFailed?: Hooks["authFailed"];
  accessDenied?: Hooks["accessDenied"];
}

/** Registered handlers of every plugin and their compiled chains. */
export class HookRegistry {
  #regs: Registration[] = [];
  #order = 0;
  #log: Logger;
  /** Read on the hot path; replaced as a whole on every registration change. */
  compiled: Readonly<CompiledHooks> = Object.freeze({});

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Registers `fn` for `hook` on behalf of `owner` (a plugin instance id). */
  on<H extends HookName>(owner: string, hook: H, fn: Hooks[H], opts: HookOptions = {}): void {
    if (typeof fn !== "function") {
      throw new TypeError(`Cannot register hook "${hook}": handler is not a function`);
    }
    this.#regs.push({
      hook,
      fn,
      priority: opts.priority ?? 0,
      filter: opts.filter,
      owner,
      order: this.#order++,
    });
    this.#compile();
  }

  /** Removes every handler `owner` registered. */
  release(owner: string): void {
    const before = this.#regs.length;
    this.#regs = this.#regs.filter((r) => r.owner !== owner);
    if (this.#regs.length !== before) this.#compile();
  }

  /** The handler table for the console and docs: hook, owner, priority, filter, in call order. */
  table(): { hook: HookName; owner: string; priority: number; filter?: string }[] {
    return this.#sorted().map(({ hook, owner, priority, filter }) => ({ hook, owner, priority, filter }));
  }

  #sorted(): Registration[] {
    return [...this.#regs].sort((a, b) => b.priority - a.priority || a.order - b.order);
  }

  #compile(): void {
    const by = new Map<HookName, Registration[]>();
    for (const r of this.#sorted()) {
      const list = by.get(r.hook) ?? [];
      list.push(r);
      by.set(r.hook, list);
    }
    const log = this.#log;
    const c: CompiledHooks = {};
    const authn = by.get("authenticate");
    if (authn) c.authenticate = compileGate(authn, () => undefined, log) as CompiledHooks["authenticate"];
    const authz = by.get("authorize");
    if (authz) {
      c.authorize = compileGate(authz, (e: AccessEvent) => e.destination, log) as CompiledHooks["authorize"];
    }
    const pub = by.get("publish");
    if (pub) {
      c.publish = compileFold(
        pub,
        (e: PublishEvent) => e.message,
        (e, m) => ({ ...e, message: m }),
        (m) => m.destination,
        log,
      );
    }
    const sub = by.get("subscribe");
    if (sub) {
      c.subscribe = compileFold(
        sub,
        (e: SubscribeEvent) => e.spec,
        (e, s) => ({ ...e, spec: s }),
        (s) => s.destination,
        log,
      ) as CompiledHooks["subscribe"];
    }
    const del = by.get("deliver");
    if (del) c.deliver = compileDeliver(del.reverse(), log);
    const observers = [
      "acked",
      "expired",
      "deadLetter",
      "connected",
      "disconnected",
      "adminAction",
      "authenticated",
      "authFailed",
      "accessDenied",
    ] as const;
    for (const name of observers) {
      const list = by.get(name);
      // deno-lint-ignore no-explicit-any
      if (list) (c as any)[name] = compileObserve(name, list, log);
    }
    this.compiled = Object.freeze(c);
  }
}

function passes(r: Registration, destination: string | undefined): boolean {
  return r.filter === undefined || destination === undefined || matchesPattern(r.filter, destination);
}

function compileGate<E, T>(
  regs: Registration[],
  destOf: (e: E) => string | undefined,
  log: Logger,
): (e: E) => Promise<T | Reject> | T | Reject {
  return (e: E) => {
    const dest = destOf(e);
    const step = (i: number): Promise<T | Reject> | T | Reject => {
      for (; i < regs.length; i++) {
        const r = regs[i];
        if (!passes(r, dest)) continue;
        let out;
        try {
          out = r.fn(e);
        } catch (err) {
          log.error(`hook ${r.hook} of ${r.owner} threw; denying`, { error: err });
          return FAIL_CLOSED;
        }
        if (out instanceof Promise) {
          const next = i + 1;
          return out.then(
            (v) => v === DEFER ? step(next) : v,
            (err) => {
              log.error(`hook ${r.hook} of ${r.owner} threw; denying`, { error: err });
              return FAIL_CLOSED;
            },
          );
        }
        if (out !== DEFER) return out;
      }
      return FAIL_CLOSED;
    };
    return step(0);
  };
}

function compileFold<E, V>(
  regs: Registration[],
  valueOf: (e: E) => V,
  withValue: (e: E, v: V) => E,
  destOf: (v: V) => string,
  log: Logger,
): (e: E) => Promise<V | Reject | typeof DROP> | V | Reject | typeof DROP {
  const busy = (r: Registration, err: unknown): Reject => {
    log.error(`hook ${r.hook} of ${r.owner} threw`, { error: err });
    return { code: "server_busy", reason: `Plugin "${r.owner}" failed in hook "${r.hook}"` };
  };
  return (e: E) => {
    const step = (i: number, ev: E): Promise<V | Reject | typeof DROP> | V | Reject | typeof DROP => {
      for (; i < regs.length; i++) {
        const r = regs[i];
        const v = valueOf(ev);
        if (!passes(r, destOf(v))) continue;
        let out;
        try {
          out = r.fn(ev);
        } catch (err) {
          return busy(r, err);
        }
        if (out instanceof Promise) {
          const next = i + 1;
          return out.then(
            (res) => res === DROP || isReject(res) ? res : step(next, res === v ? ev : withValue(ev, res)),
            (err) => busy(r, err),
          );
        }
        if (out === DROP || isReject(out)) return out;
        if (out !== v) ev = withValue(ev, out);
      }
      return valueOf(ev);
    };
    return step(0, e);
  };
}

function compileDeliver(
  regs: Registration[],
  log: Logger,
): (e: DeliverEvent) => Message | Reject | typeof DROP {
  return (e: DeliverEvent) => {
    let ev = e;
    for (const r of regs) {
      if (!passes(r, ev.message.destination)) continue;
      let out;
      try {
        out = r.fn(ev);
      } catch (err) {
        log.error(`hook deliver of ${r.owner} threw`, { error: err });
        return { code: "server_busy", reason: `Plugin "${r.owner}" failed in hook "deliver"` };
      }
      if (out === DROP || isReject(out)) return out;
      if (out !== ev.message) ev = { ...ev, message: out };
    }
    return ev.message;
  };
}

function compileObserve(name: HookName, regs: Registration[], log: Logger): (e: unknown) => void {
  return (e: unknown) => {
    // deno-lint-ignore no-explicit-any
    const dest = (e as any)?.message?.destination ?? (e as any)?.destination;
    for (const r of regs) {
      if (!passes(r, dest)) continue;
      try {
        const out = r.fn(e);
        if (out instanceof Promise) {
          out.catch((err) => log.error(`hook ${name} of ${r.owner} threw`, { error: err }));
        }
      } catch (err) {
        log.error(`hook ${name} of ${r.owner} threw`, { error: err });
      }
    }
  };
}
