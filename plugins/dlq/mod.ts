/**
 * The dlq plugin: dead letters (expired, rejected, redelivered too often) go to a dead-letter queue
 * per destination (`DLQ.<queue>`) or a shared one (`DLQ`), or are discarded, per destination pattern.
 * It also sets the core's redelivery policy (limit and backoff per pattern) and provides a typed
 * `dlq` service to list dead letters and move them back (re-drive).
 *
 * @example
 * ```ts
 * const dlq = ctx.use("dlq"); // with "after": ["dlq"] in the caller's plugin.json
 * for (const q of dlq.queues()) await dlq.redriveAll(q.name);
 * ```
 *
 * @module
 */
import {
  BROKER_PRINCIPAL,
  BrokerError,
  type DeadLetterEvent,
  definePlugin,
  type DestinationInfo,
  type Message,
  newMessageId,
  type Principal,
} from "../../mod.ts";
import { backoffDelay, type DeadLetterPolicy, type DlqOptions, PolicyTable } from "./policy.ts";
import { drain, literal, P, restore } from "./redrive.ts";

export type { DeadLetterPolicy, DlqOptions, PatternPolicy } from "./policy.ts";

/** The typed service the dlq plugin provides as "dlq". */
export interface DlqService {
  /** Dead-letter queues that exist now, with their counts. */
  queues(): DestinationInfo[];
  /** Dead letters waiting in `queue`, oldest first within each priority. */
  list(queue: string, opts?: { offset?: number; limit?: number; selector?: string }): Message[];
  /**
   * Moves one dead letter (by its id in the DLQ) back to where it came from. Searches every DLQ when
   * `queue` is not given. False when no such dead letter is pending.
   */
  redrive(id: string, opts?: { queue?: string; by?: Principal }): Promise<boolean>;
  /** Moves every pending dead letter of `queue` back; returns how many moved. */
  redriveAll(queue: string, opts?: { by?: Principal; selector?: string }): Promise<number>;
  /** The policy that applies to messages held in `queue` with destination `destination`. */
  policyFor(queue: string, destination?: string): DeadLetterPolicy;
}

declare module "../../mod.ts" {
  interface Services {
    dlq: DlqService;
  }
}

export default definePlugin<DlqOptions>({
  name: "dlq",
  setup(ctx) {
    const table = new PolicyTable(ctx.options);
    const broker = ctx.broker;
    const created = new Set<string>();
    let dropped = 0;

    const toDlq = (e: DeadLetterEvent): void => {
      const m = e.message, queue = e.queue;
      if (table.isDlq(queue)) {
        dropped++;
        return; // a dead letter's dead letter: dropping it beats a loop
      }
      if (queue.startsWith("$tmp.") && table.temporary === "discard") return;
      const p = table.for(queue, m);
      if (p.strategy === "discard") return;
      if (e.reason === "expired" && p.expired === "discard") return;
      if (e.reason === "rejected" && p.rejected === "discard") return;
      if (!m.persistent && !p.nonPersistent) return;
      const dlqName = p.strategy === "shared"
        ? p.sharedQueue
        : p.prefix + (queue.startsWith("$") ? m.destination : queue);
      const dl: Message = {
        ...m,
        // A new id: the original's store entry is being acked in this same turn.
        id: newMessageId(),
        destination: dlqName,
        kind: "queue",
        persistent: p.persistence === "persistent" ? true : m.persistent,
        expiresAt: 0,
        deliverAt: 0,
        redeliveryCount: 0,
        properties: {
          ...m.properties,
          [P.destination]: m.destination,
          [P.kind]: m.kind,
          [P.queue]: queue,
          [P.id]: m.id,
          [P.reason]: e.reason,
          [P.time]: Date.now(),
          [P.deliveries]: m.redeliveryCount,
          [P.expiration]: m.expiresAt,
        },
      };
      const fail = (err: unknown) =>
        ctx.log.error(`cannot dead-letter message "${m.id}" to "${dlqName}"`, { error: String(err) });
      // Create the DLQ on first use (autoCreate may be off), and again if an admin deleted it. The queue exists
      // once createQueue returns: routing in this same turn puts the copy in the store commit that acks the
      // original, so a crash cannot lose the dead letter between the two.
      const createThenRoute = () => {
        created.add(dlqName);
        Promise.all([broker.createQueue(dlqName, { durable: true }), broker.route(dl)]).catch((err) => {
          created.delete(dlqName);
          fail(err);
        });
      };
      if (!created.has(dlqName)) return createThenRoute();
      broker.route(dl).catch((err) => {
        if (err instanceof BrokerError && err.code === "destination_not_found") createThenRoute();
        else fail(err);
      });
    };
    ctx.hooks.on("deadLetter", toDlq);

    broker.setRedeliveryPolicy((queue, m) => {
      if (table.isDlq(queue)) return undefined;
      const p = table.for(queue, m);
      return {
        maxRedeliveries: p.maxRedeliveries < 0 ? undefined : p.maxRedeliveries,
        delayMs: backoffDelay(p.redelivery, m.redeliveryCount),
      };
    });

    const isDlqQueue = (name: string) => table.isDlq(name);
    // A topic message goes back to the subscription queue that held it (a durable subscriber or a
    // virtual-topic group), not to every subscriber of the topic; to the topic if that queue is gone.
    const moveBack = (dl: Message): Promise<void> => {
      const m = restore(dl);
      const held = dl.properties[P.queue];
      if (m.kind !== "topic" || typeof held !== "string" || held.startsWith("$")) return broker.route(m);
      return broker.route(m, held).catch((e) => {
        if (e instanceof BrokerError && e.code === "destination_not_found") return broker.route(m);
        throw e;
      });
    };

    const service: DlqService = {
      queues: () => broker.destinations().filter((d) => d.kind === "queue" && isDlqQueue(d.name)),
      list(queue, opts = {}) {
        if (!isDlqQueue(queue)) {
          throw new BrokerError("invalid_argument", `Cannot list "${queue}": it is not a dead-letter queue`);
        }
        return broker.browse(queue, opts);
      },
      async redrive(id, opts = {}) {
        const selector = `JMSMessageID = ${literal(id)}`;
        const queues = opts.queue !== undefined ? [opts.queue] : service.queues().map((q) => q.name);
        for (const q of queues) {
          if (!isDlqQueue(q)) {
            throw new BrokerError(
              "invalid_argument",
              `Cannot re-drive from "${q}": it is not a dead-letter queue`,
            );
          }
          const found = broker.destinations().some((d) => d.name === q) &&
            broker.browse(q, { selector, limit: 1 })[0];
          if (!found) continue;
          const n = await drain(broker, q, { selector, max: 1 }, moveBack);
          if (n === 1) {
            emit(opts.by, "dlq.redrive", `${q}/${id}`, { id, queue: q }, {
              destination: found.properties[P.destination],
            });
            return true;
          }
        }
        return false;
      },
      async redriveAll(queue, opts = {}) {
        if (!isDlqQueue(queue)) {
          throw new BrokerError(
            "invalid_argument",
            `Cannot re-drive from "${queue}": it is not a dead-letter queue`,
          );
        }
        if (!broker.destinations().some((d) => d.name === queue)) return 0;
        const n = await drain(
          broker,
          queue,
          { selector: opts.selector, max: Number.MAX_SAFE_INTEGER },
          moveBack,
        );
        emit(opts.by, "dlq.redriveAll", queue, { queue }, { moved: n });
        return n;
      },
      policyFor: (queue, destination = queue) => table.for(queue, { destination } as Message),
    };
    const emit = (
      by: Principal | undefined,
      action: string,
      object: string,
      before: unknown,
      after: unknown,
    ) => broker.emit("adminAction", { principal: by ?? BROKER_PRINCIPAL, action, object, before, after });
    ctx.provide("dlq", service);

    return () => {
      broker.setRedeliveryPolicy(undefined);
      if (dropped !== 0) ctx.log.debug(`dropped ${dropped} dead letters of dead-letter queues`);
    };
  },
});
