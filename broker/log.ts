/**
 * Structured logger: one line per record, a child per plugin, level settable at runtime. The only
 * module allowed to write to the console.
 *
 * @module
 */
import type { LogControl, Logger, LogLevel, LogRecord } from "./api.ts";

export type { LogRecord };

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Where records go besides stderr; the admin plugin subscribes for the live tail. */
export type LogListener = (r: LogRecord) => void;

/** Owns every logger of one broker, so levels can be listed and changed per plugin. */
export class LogHub implements LogControl {
  #loggers = new Map<string, HubLogger>();
  #listeners = new Set<LogListener>();
  #recent: LogRecord[] = [];
  defaultLevel: LogLevel;
  /** Print records to stderr (off in tests that expect silence). */
  print: boolean;

  constructor(opts: { level?: LogLevel; print?: boolean } = {}) {
    this.defaultLevel = opts.level ?? envLevel() ?? "info";
    this.print = opts.print ?? true;
  }

  /** The logger named `name`, made on first use. */
  get(name: string): Logger {
    let l = this.#loggers.get(name);
    if (!l) {
      // A child made after its plugin's level was changed starts at that level.
      const colon = name.indexOf(":");
      const parent = colon > 0 ? this.#loggers.get(name.slice(0, colon)) : undefined;
      l = new HubLogger(this, name, parent?.level ?? this.defaultLevel);
      this.#loggers.set(name, l);
    }
    return l;
  }

  /** Every logger with its level. */
  levels(): Record<string, LogLevel> {
    const out: Record<string, LogLevel> = {};
    for (const [name, l] of this.#loggers) out[name] = l.level;
    return out;
  }

  /** Sets the level of logger `name` and its children; false when no such logger exists. */
  setLevel(name: string, level: LogLevel): boolean {
    const l = this.#loggers.get(name);
    if (!l) return false;
    l.level = level;
    for (const [n, child] of this.#loggers) if (n.startsWith(name + ":")) child.level = level;
    return true;
  }

  /** Subscribes to records; returns the unsubscribe function. */
  listen(fn: LogListener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** The last records (up to 500), oldest first. */
  recent(): readonly LogRecord[] {
    return this.#recent;
  }

  write(r: LogRecord): void {
    this.#recent.push(r);
    if (this.#recent.length > 500) this.#recent.splice(0, 100);
    if (this.print) {
      const fields = r.fields ? " " + safeJson(r.fields) : "";
      // deno-lint-ignore no-console
      console.error(
        `${new Date(r.time).toISOString()} ${
          r.level.toUpperCase().padEnd(5)
        } [${r.logger}] ${r.msg}${fields}`,
      );
    }
    for (const fn of this.#listeners) {
      try {
        fn(r);
      } catch { /* a broken listener must not break logging */ }
    }
  }
}

class HubLogger implements Logger {
  #hub: LogHub;
  #name: string;
  #rank: number;
  #level: LogLevel;

  constructor(hub: LogHub, name: string, level: LogLevel) {
    this.#hub = hub;
    this.#name = name;
    this.#level = level;
    this.#rank = RANK[level];
  }
  get level(): LogLevel {
    return this.#level;
  }
  set level(l: LogLevel) {
    if (!(l in RANK)) throw new TypeError(`Cannot set log level "${l}": must be one of ${Object.keys(RANK)}`);
    this.#level = l;
    this.#rank = RANK[l];
  }
  debug(msg: string, fields?: Record<string, unknown>): void {
    if (this.#rank <= 10) this.#write("debug", msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    if (this.#rank <= 20) this.#write("info", msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    if (this.#rank <= 30) this.#write("warn", msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    if (this.#rank <= 40) this.#write("error", msg, fields);
  }
  child(name: string): Logger {
    return this.#hub.get(`${this.#name}:${name}`);
  }
  #write(level: LogRecord["level"], msg: string, fields?: Record<string, unknown>) {
    this.#hub.write({ time: Date.now(), level, logger: this.#name, msg, fields });
  }
}

function envLevel(): LogLevel | undefined {
  try {
    const v = Deno.env.get("FERRYMQ_LOG_LEVEL");
    return v && v in RANK ? v as LogLevel : undefined;
  } catch {
    return undefined;
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => x instanceof Error ? { name: x.name, message: x.message } : x);
  } catch {
    return "[unserializable]";
  }
}
