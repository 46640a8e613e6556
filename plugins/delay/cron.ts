/**
 * Cron expressions for repeating deliveries, evaluated with croner (5, 6 or 7 fields: optional
 * seconds, optional year; `L`, `W`, `#`, nicknames such as `@hourly`). Parsed schedules are cached,
 * since one expression usually serves many messages.
 *
 * @module
 */
import { Cron } from "croner";

/** A parsed cron expression. */
export interface CronSchedule {
  readonly expression: string;
  /** The first matching time strictly after `after` (ms since the epoch), or undefined when none. */
  next(after: number): number | undefined;
}

const cache = new Map<string, CronSchedule>();
const CACHE_MAX = 1000;

/**
 * Parses `expression` in time zone `timezone` (IANA name, e.g. "UTC", "Europe/Berlin").
 * Throws an Error naming the problem when the expression does not parse.
 *
 * @example
 * ```ts
 * const every5s = parseCron("*\/5 * * * * *", "UTC");
 * every5s.next(Date.now()); // the next multiple of 5 s
 * ```
 */
export function parseCron(expression: string, timezone: string): CronSchedule {
  const key = timezone + "\u0000" + expression;
  const hit = cache.get(key);
  if (hit) return hit;
  const cron = new Cron(expression, { timezone, paused: true });
  const schedule: CronSchedule = {
    expression,
    next(after: number): number | undefined {
      return cron.nextRun(new Date(after))?.getTime();
    },
  };
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(key, schedule);
  return schedule;
}
