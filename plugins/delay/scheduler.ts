/**
 * The scheduler: one heap, one timer. Persistent jobs are written to the store's "delay" key-value
 * space before `schedule()` resolves (so the publish is confirmed only once the job is durable),
 * rewritten after each repeat and deleted after the last delivery is durable in its queue.
 *
 * @module
 */
import {
  type BrokerApi,
  BrokerError,
  isBrokerError,
  type KeyValue,
  type Logger,
  type Message,
  type Principal,
  type PropertyValue,
  type Scheduler,
} from "../../mod.ts";
import { type CronSchedule, parseCron } from "./cron.ts";
import { smallest, type Timed, TimerHeap } from "./heap.ts";
import { messageFromRecord, messageToRecord, type ScheduleRecord } from "./record.ts";
import { A_CRON, A_REPEAT_COUNT, A_REPEAT_PERIOD } from "./request.ts";

/** What the delay service reports about one scheduled message. */
export interface ScheduledInfo {
  /** Schedule id (the message id, suffixed when a producer reused an id). */
  readonly id: string;
  readonly destination: string;
  readonly kind: Message["kind"];
  /** Next delivery, ms since the epoch. */
  readonly deliverAt: number;
  readonly persistent: boolean;
  /** Deliveries still to come after the next one; -1 = until cancelled. */
  readonly remaining: number;
  readonly period?: number;
  readonly cron?: string;
  /** Deliveries so far. */
  readonly fired: number;
  readonly bodySize: number;
}

/** The typed service the delay plugin provides as "delay". */
export interface DelayService {
  /** How many messages are scheduled. */
  readonly size: number;
  /** Scheduled messages in due order. */
  list(
    opts?: { offset?: number; limit?: number; destination?: string },
  ): { total: number; items: ScheduledInfo[] };
  /** One scheduled message with its body, or undefined. */
  get(id: string): (ScheduledInfo & { message: Message }) | undefined;
  /**
   * Cancels a scheduled message (and its repeats); false when there is none with that id. Reported
   * as an `adminAction` by `principal` (default the broker itself).
   */
  cancel(id: string, by?: Principal): Promise<boolean>;
}

/** Scheduler settings. */
export interface SchedulerOptions {
  /** Most messages held at once; schedule() fails with server_busy beyond it. */
  maxScheduled: number;
  /** Most deliveries per timer turn before yielding to I/O. */
  fireBatch: number;
  cronTimezone: string;
}

interface Job extends Timed {
  readonly id: string;
  readonly message: Message;
  remaining: number;
  readonly period: number;
  readonly cron: CronSchedule | undefined;
  fired: number;
  readonly firstAt: number;
  /** Last store write for this job; the next one waits for it so writes land in order. */
  write: Promise<void> | undefined;
}

const MAX_TIMEOUT = 2 ** 31 - 1;
/** A delivery the store refused is tried again this much later: a short outage clears, a failing disk rests. */
const RETRY_MS = 1000;
const RESOLVED = Promise.resolve();

/** Holds messages until their deliverAt and routes them then. */
export class DelayScheduler implements Scheduler, DelayService {
  readonly #heap = new TimerHeap<Job>();
  readonly #jobs = new Map<string, Job>();
  readonly #broker: BrokerApi;
  readonly #kv: KeyValue<ScheduleRecord>;
  readonly #log: Logger;
  readonly #opts: SchedulerOptions;
  readonly #writes = new Set<Promise<void>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedAt = Infinity;
  #seq = 0;
  #closed = false;
  /** Deliveries made, for stats. */
  fired = 0;

  constructor(broker: BrokerApi, kv: KeyValue<ScheduleRecord>, log: Logger, opts: SchedulerOptions) {
    this.#broker = broker;
    this.#kv = kv;
    this.#log = log;
    this.#opts = opts;
  }

  get size(): number {
    return this.#jobs.size;
  }

  /** Reloads persisted jobs (after a restart); overdue ones fire on the next timer turn. */
  async load(): Promise<number> {
    const loaded: { job: Job; order: number }[] = [];
    for await (const [id, rec] of this.#kv.entries()) {
      try {
        if (typeof rec?.at !== "number" || !Number.isFinite(rec.at)) throw new TypeError("no due time");
        const message = messageFromRecord(rec.message);
        const cron = rec.cron ? parseCron(rec.cron, this.#opts.cronTimezone) : undefined;
        const job: Job = {
          at: rec.at,
          seq: 0,
          index: -1,
          id,
          message,
          remaining: Number(rec.remaining) || 0,
          period: Number(rec.period) || 0,
          cron,
          fired: Number(rec.fired) || 0,
          firstAt: Number(rec.firstAt) || rec.at,
          write: undefined,
        };
        loaded.push({ job, order: Number(rec.order) || 0 });
      } catch (e) {
        this.#log.warn(`dropping unreadable scheduled message "${id}"`, { error: String(e) });
        this.#track(this.#kv.delete(id));
      }
    }
    // Messages due at the same time keep the order they were scheduled in.
    loaded.sort((a, b) => a.job.at - b.job.at || a.order - b.order);
    for (const { job } of loaded) {
      (job as { seq: number }).seq = this.#seq++;
      this.#jobs.set(job.id, job);
      this.#heap.push(job);
    }
    this.#arm();
    return loaded.length;
  }

  schedule(m: Message): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new BrokerError("closed", "Cannot schedule: the delay plugin is stopping"));
    }
    if (this.#jobs.size >= this.#opts.maxScheduled) {
      return Promise.reject(
        new BrokerError(
          "server_busy",
          `Cannot schedule: ${this.#jobs.size} messages are scheduled (delay option maxScheduled)`,
        ),
      );
    }
    let id = m.id;
    if (this.#jobs.has(id)) id = `${m.id}~${this.#seq}`;
    const ann = m.annotations;
    let remaining = 0, period = 0, cron: CronSchedule | undefined, message = m;
    if (ann !== undefined && (ann[A_REPEAT_COUNT] !== undefined || ann[A_CRON] !== undefined)) {
      remaining = Number(ann[A_REPEAT_COUNT] ?? 0);
      period = Number(ann[A_REPEAT_PERIOD] ?? 0);
      if (typeof ann[A_CRON] === "string") cron = parseCron(ann[A_CRON], this.#opts.cronTimezone);
      const rest: Record<string, PropertyValue> = {};
      let any = false;
      for (const k in ann) {
        if (!k.startsWith("delay.")) {
          rest[k] = ann[k];
          any = true;
        }
      }
      message = { ...m, annotations: any ? rest : undefined };
    }
    const job: Job = {
      at: m.deliverAt,
      seq: this.#seq++,
      index: -1,
      id,
      message,
      remaining,
      period,
      cron,
      fired: 0,
      firstAt: m.deliverAt,
      write: undefined,
    };
    this.#jobs.set(id, job);
    this.#heap.push(job);
    this.#arm();
    if (!m.persistent) return RESOLVED;
    const w = this.#write(job, () => this.#kv.set(id, toRecord(job)));
    return w.catch((e) => {
      // Not durable: take it back so the producer's error is the whole truth.
      if (this.#jobs.get(id) === job) {
        this.#jobs.delete(id);
        this.#heap.remove(job);
      }
      throw new BrokerError(
        "store_failed",
        `Cannot store scheduled message "${id}": ${(e as Error)?.message ?? e}`,
      );
    });
  }

  async cancel(id: string): Promise<boolean> {
    const job = this.#jobs.get(id);
    if (!job) return false;
    this.#jobs.delete(id);
    this.#heap.remove(job);
    this.#arm();
    if (job.message.persistent) await this.#write(job, () => this.#kv.delete(id));
    return true;
  }

  list(
    opts: { offset?: number; limit?: number; destination?: string } = {},
  ): { total: number; items: ScheduledInfo[] } {
    const offset = Math.max(0, opts.offset ?? 0), limit = Math.max(0, Math.min(opts.limit ?? 100, 10_000));
    const all = this.#heap.values();
    if (opts.destination === undefined) {
      return { total: all.length, items: smallest(all, offset, limit).map(info) };
    }
    const dest = opts.destination;
    const matching = all.filter((j) => j.message.destination === dest);
    return { total: matching.length, items: smallest(matching, offset, limit).map(info) };
  }

  get(id: string): (ScheduledInfo & { message: Message }) | undefined {
    const job = this.#jobs.get(id);
    return job ? { ...info(job), message: job.message } : undefined;
  }

  /** Stops the timer and waits for store writes in flight; jobs stay persisted for the next start. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#writes.size !== 0) await Promise.allSettled([...this.#writes]);
    this.#heap.clear();
    this.#jobs.clear();
  }

  #arm(): void {
    if (this.#closed) return;
    const top = this.#heap.peek();
    if (top === undefined) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#armedAt = Infinity;
      return;
    }
    if (this.#timer !== undefined && this.#armedAt <= top.at) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedAt = top.at;
    this.#timer = setTimeout(this.#onTimer, Math.min(Math.max(0, top.at - Date.now()), MAX_TIMEOUT));
  }

  #onTimer = (): void => {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = Date.now();
    const heap = this.#heap;
    for (let n = this.#opts.fireBatch; n > 0; n--) {
      const top = heap.peek();
      if (top === undefined || top.at > now) break;
      heap.pop();
      this.#fire(top, now);
    }
    this.#arm();
  };

  #fire(job: Job, now: number): void {
    const t = job.message;
    let m = t;
    if (job.fired !== 0 || job.remaining !== 0) {
      // Repeats are separate messages: derived ids let consumers spot a repeat sent twice after a crash
      // (the producer's id too: AMQP consumers see that one).
      const repeat = job.fired === 0 ? "" : `#${job.fired}`;
      m = {
        ...t,
        id: t.id + repeat,
        producerId: t.producerId === undefined ? undefined : t.producerId + repeat,
        timestamp: job.fired === 0 ? t.timestamp : now,
        deliverAt: job.at,
        expiresAt: t.expiresAt === 0 ? 0 : t.expiresAt + (job.at - job.firstAt),
      };
    }
    job.fired++;
    this.fired++;
    const next = this.#next(job, now);
    const last = next === undefined;
    const routed = this.#broker.route(m).catch((e) => {
      this.#log.warn(`cannot deliver scheduled message "${job.id}" to "${t.destination}"`, {
        error: String(e),
      });
      // The store could not take it (a full or failing disk): a last delivery stays scheduled and is tried
      // again, its record kept; a dead letter would need the same store.
      if (last && isBrokerError(e, "store_failed") && !this.#closed) {
        this.#retry(job, now);
        throw e;
      }
      // Nothing is lost: an unroutable message goes where dead letters go (the dlq plugin).
      this.#broker.emit("deadLetter", { message: m, queue: m.destination, reason: "unroutable" });
    });
    if (last) {
      this.#jobs.delete(job.id);
      if (t.persistent) {
        this.#write(job, () => routed.then(() => this.#kv.delete(job.id))).catch(this.#logWrite);
      } else routed.catch(() => {}); // a refused one was retried and logged above
      return;
    }
    if (job.remaining > 0) job.remaining--;
    job.at = next;
    this.#heap.push(job);
    if (t.persistent) {
      this.#write(job, () => routed.then(() => this.#kv.set(job.id, toRecord(job)))).catch(this.#logWrite);
    }
  }

  /** Puts a last delivery the store refused back in the schedule, due after RETRY_MS, unless cancelled since. */
  #retry(job: Job, firedAt: number): void {
    if (this.#jobs.has(job.id)) return;
    job.fired--;
    this.fired--;
    job.at = Math.max(firedAt, Date.now()) + RETRY_MS;
    this.#jobs.set(job.id, job);
    this.#heap.push(job);
    this.#arm();
  }

  #next(job: Job, now: number): number | undefined {
    if (job.remaining === 0) return undefined;
    if (job.cron !== undefined) return job.cron.next(Math.max(now, job.at));
    // Fixed rate from the due time; a broker that was down skips to the next slot after now.
    let next = job.at + job.period;
    if (next <= now) next = now + job.period - ((now - job.at) % job.period);
    return next;
  }

  #write(job: Job, op: () => Promise<void>): Promise<void> {
    const prev = job.write;
    const w = prev ? prev.catch(() => {}).then(op) : op();
    job.write = w;
    this.#track(w);
    w.then(() => {
      if (job.write === w) job.write = undefined;
    }, () => {
      if (job.write === w) job.write = undefined;
    });
    return w;
  }

  #track(w: Promise<void>): void {
    this.#writes.add(w);
    const done = () => this.#writes.delete(w);
    w.then(done, done);
  }

  #logWrite = (e: unknown): void => {
    this.#log.error("cannot update a scheduled message in the store", { error: String(e) });
  };
}

// Orders records scheduled for the same time across restarts (seq restarts at 0).
let lastOrder = 0;

function toRecord(job: Job): ScheduleRecord {
  lastOrder = Math.max(lastOrder + 1, Date.now() * 1000);
  return {
    v: 1,
    order: lastOrder,
    at: job.at,
    remaining: job.remaining,
    period: job.period,
    cron: job.cron?.expression,
    fired: job.fired,
    firstAt: job.firstAt,
    message: messageToRecord(job.message),
  };
}

function info(j: Job): ScheduledInfo {
  return {
    id: j.id,
    destination: j.message.destination,
    kind: j.message.kind,
    deliverAt: j.at,
    persistent: j.message.persistent,
    remaining: j.remaining,
    period: j.period || undefined,
    cron: j.cron?.expression,
    fired: j.fired,
    bodySize: j.message.body.byteLength,
  };
}
