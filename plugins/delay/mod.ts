/**
 * The delay plugin: delayed delivery (by `delay` ms or at `deliver-at`), repeats (`repeat-count`,
 * `repeat-period`) and cron schedules (`cron`), requested from any protocol through user properties,
 * headers or annotations. It provides the core's `scheduler` service and a typed `delay` service to
 * list and cancel scheduled messages.
 *
 * @example
 * ```ts
 * const delay = ctx.use("delay"); // with "after": ["delay"] in the caller's plugin.json
 * const { items } = delay.list({ limit: 10 });
 * await delay.cancel(items[0].id);
 * ```
 *
 * @module
 */
import { BROKER_PRINCIPAL, definePlugin, Priority } from "../../mod.ts";
import type { ScheduleRecord } from "./record.ts";
import { applyRequest, type RequestLimits } from "./request.ts";
import { DelayScheduler, type DelayService } from "./scheduler.ts";

export type { DelayService, ScheduledInfo } from "./scheduler.ts";

declare module "../../mod.ts" {
  interface Services {
    delay: DelayService;
  }
}

/** Options from plugin.json (defaults filled by the host). */
export interface DelayOptions {
  maxDelayMs: number;
  maxScheduled: number;
  maxRepeatCount: number;
  minRepeatPeriodMs: number;
  cronTimezone: string;
  fireBatch: number;
  stripProperties: boolean;
}

export default definePlugin<DelayOptions>({
  name: "delay",
  async setup(ctx) {
    const o = ctx.options;
    const scheduler = new DelayScheduler(ctx.broker, ctx.broker.store.kv<ScheduleRecord>("delay"), ctx.log, {
      maxScheduled: o.maxScheduled,
      fireBatch: o.fireBatch,
      cronTimezone: o.cronTimezone,
    });
    const limits: RequestLimits = {
      maxDelayMs: o.maxDelayMs,
      minRepeatPeriodMs: o.minRepeatPeriodMs,
      maxRepeatCount: o.maxRepeatCount,
      cronTimezone: o.cronTimezone,
      stripProperties: o.stripProperties,
    };
    try {
      Intl.DateTimeFormat(undefined, { timeZone: o.cronTimezone });
    } catch {
      throw new Error(`option "cronTimezone" must be an IANA time zone, got "${o.cronTimezone}"`);
    }
    ctx.hooks.on("publish", ({ message }) => {
      const now = Date.now();
      const r = applyRequest(message, now, limits);
      // Refuse here, as a Reject the protocol can report, rather than fail inside schedule().
      if (scheduler.size >= o.maxScheduled && "id" in r && r.deliverAt > now) {
        return {
          code: "server_busy",
          reason: `Cannot schedule: ${scheduler.size} messages are scheduled (delay option maxScheduled)`,
        };
      }
      return r;
    }, { priority: Priority.ROUTE });

    const restored = await scheduler.load();
    if (restored !== 0) ctx.log.info(`restored ${restored} scheduled messages`);
    ctx.provide("scheduler", scheduler);
    const service: DelayService = {
      get size() {
        return scheduler.size;
      },
      list: (opts) => scheduler.list(opts),
      get: (id) => scheduler.get(id),
      async cancel(id, by = BROKER_PRINCIPAL) {
        const before = scheduler.get(id);
        const ok = await scheduler.cancel(id);
        if (ok) {
          const { message: _, ...shown } = before!;
          ctx.broker.emit("adminAction", {
            principal: by,
            action: "delay.cancel",
            object: id,
            before: shown,
            after: null,
          });
        }
        return ok;
      },
    };
    ctx.provide("delay", service);
    return () => scheduler.close();
  },
});
