/**
 * Links of one AMQP connection. A client's sender (our receiver) publishes: the disposition follows the
 * core's answer, after the store commit for durable messages. A client's receiver (our sender) is a
 * core subscription whose credit is the link credit; dispositions map to ack, requeue and dead-letter.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  type Delivery,
  type DeliverySink,
  type DestinationKind,
  type ErrorCode,
  isReject,
  type Logger,
  type MessageInit,
  type Reject,
  type Session,
  type Subscription,
  type SubscriptionSpec,
} from "../../mod.ts";
import { type AmqpAddress, parseAddress } from "./address_map.ts";
import { fromMessage, selectorOf, toInit } from "./message_map.ts";
import { encodeDelivery } from "./encode.ts";
import { type PendingOutcome, Transactions } from "./transactions.ts";
import {
  acceptedIn,
  controlOf,
  declared,
  drainRequested,
  innerOutcome,
  isCoordinator,
  type Outcome,
  PAYLOAD,
  type TransactionalState,
  transactionOf,
  type WithPayload,
} from "./rhea_ext.ts";

// deno-lint-ignore no-explicit-any
type Link = any;
// deno-lint-ignore no-explicit-any
type RheaDelivery = any;

/** Core codes -> AMQP error conditions. */
const CONDITIONS: Partial<Record<ErrorCode, string>> = {
  not_authorized: "amqp:unauthorized-access",
  bad_credentials: "amqp:unauthorized-access",
  invalid_destination: "amqp:invalid-field",
  destination_not_found: "amqp:not-found",
  payload_too_large: "amqp:resource-limit-exceeded",
  server_busy: "amqp:resource-limit-exceeded",
  invalid_selector: "amqp:invalid-field",
  invalid_message: "amqp:decode-error",
  store_failed: "amqp:internal-error",
};

/** Gives back the credit of an answered message (rhea sends one flow frame for all of a tick's). */
export function returnCredit(link: Link): void {
  if (link.is_open()) link.add_credit(1);
}

/** The AMQP error for a Reject. */
export const condition = (r: Reject) => ({
  condition: CONDITIONS[r.code] ?? "amqp:internal-error",
  description: r.reason,
});

/** Options the link handlers need. */
export interface LinkOptions {
  defaultKind: DestinationKind;
  autoCreate: boolean;
  queueExists(name: string): boolean;
  deleteQueue(name: string): Promise<unknown>;
  log: Logger;
}

/** One connection's session and links. */
export class AmqpLinks implements DeliverySink {
  readonly session: Session;
  readonly #o: LinkOptions;
  readonly #senders = new Map<Subscription, Link>();
  readonly #early = new Map<Subscription, Delivery[]>();
  readonly #held = new Map<Subscription, Delivery[]>();
  readonly #deliveries = new WeakMap<RheaDelivery, { sub: Subscription; tag: number }>();
  readonly #coordinators = new WeakSet<Link>();
  /** Senders that answered the drain of the peer's last flow. */
  readonly #drained = new WeakSet<Link>();
  readonly #transactions = new Transactions();

  constructor(session: Session, o: LinkOptions) {
    this.session = session;
    this.#o = o;
  }

  /** The client opened a sender: its messages are published to the link's target. */
  receiverOpened(link: Link): void {
    if (isCoordinator(link.remote?.attach?.target)) {
      this.#coordinators.add(link);
      return;
    }
    const target = parseAddress(link.remote?.attach?.target?.address, this.#o.defaultKind);
    if (target && target.kind === "queue" && !this.#o.autoCreate && !this.#o.queueExists(target.name)) {
      link.close({ condition: "amqp:not-found", description: `Queue "${target.name}" does not exist` });
    }
  }

  /**
   * A message arrived on a receiving link. Its link credit comes back once it is answered, so a producer
   * has at most its credit of unconfirmed messages.
   */
  onMessage(link: Link, delivery: RheaDelivery, message: Record<string, unknown>): void {
    if (this.#coordinators.has(link)) {
      void this.#control(delivery, (message as unknown as WithPayload)[PAYLOAD]).finally(() =>
        returnCredit(link)
      );
      return;
    }
    const target =
      parseAddress(link.target?.address ?? link.remote?.attach?.target?.address, this.#o.defaultKind) ??
        parseAddress(message.to as string | undefined, this.#o.defaultKind);
    if (!target) {
      delivery.reject({ condition: "amqp:invalid-field", description: "No target address and no to field" });
      return returnCredit(link);
    }
    let init;
    try {
      init = toInit(message, target.kind, target.name, this.#o.defaultKind);
    } catch (e) {
      delivery.reject({ condition: "amqp:decode-error", description: String((e as Error).message) });
      return returnCredit(link);
    }
    const txnId = transactionOf(delivery.remote_state);
    if (txnId) {
      this.#sendInTransaction(delivery, txnId, init);
      return returnCredit(link);
    }
    this.session.publish(init).then((r) => {
      if (r) delivery.reject(condition(r));
      else delivery.accept();
      returnCredit(link);
    }, (e) => {
      delivery.reject({ condition: "amqp:internal-error", description: String(e?.message ?? e) });
      returnCredit(link);
    });
  }

  /** The client opened a receiver: subscribe its source with the link credit. */
  async senderOpened(link: Link, containerId: string, temporary?: string): Promise<void> {
    // The attach waits for this answer (`deferAttach`): a refusal is an attach and at once a detach with the error.
    const refuse = (error: { condition: string; description: string }) => (link.open(), link.close(error));
    const src = link.remote?.attach?.source ?? {};
    let address: AmqpAddress | undefined;
    if (temporary) {
      address = { kind: "queue", name: temporary };
    } else {
      address = parseAddress(src.address, this.#o.defaultKind);
    }
    if (!address) {
      return refuse({ condition: "amqp:invalid-field", description: "The source has no address" });
    }
    if (
      address.kind === "queue" && !src.dynamic && !this.#o.autoCreate && !this.#o.queueExists(address.name)
    ) {
      return refuse({ condition: "amqp:not-found", description: `Queue "${address.name}" does not exist` });
    }
    const durable = address.kind === "topic" &&
      (src.durable === 2 || src.durable === 1 || src.expiry_policy === "never");
    const caps: string[] = Array.isArray(src.capabilities) ? src.capabilities.map(String) : [];
    const shared = address.kind === "topic" && caps.includes("shared");
    const linkName = String(link.name).split("|")[0];
    const spec: SubscriptionSpec = {
      kind: address.kind,
      destination: address.name,
      selector: selectorOf(src.filter),
      ack: link.snd_settle_mode === 1 ? "auto" : "client",
      prefetch: 0,
      // The core deletes it with the link's subscription and lets no other connection consume from it.
      temporary: temporary !== undefined,
      // A shared durable subscription is one durable queue that every member names (JMS 2.0 shared durable).
      durable: durable
        ? (shared
          ? `$amqp.shared.${linkName}`
          // Under the user too: another login naming the same container id gets a subscription of its own.
          : `$amqp.${encodeURIComponent(this.session.principal.id)}.${containerId}.${linkName}`)
        : undefined,
      shared: shared ? `$amqp.shared.${linkName}` : undefined,
    };
    const sub = await this.session.subscribe(spec);
    if (isReject(sub)) return refuse(condition(sub));
    if (!link.state.remote_open) return void await sub.cancel(); // detached while it was being made
    link.open();
    // rhea writes transfers before attaches in one pass: the first transfer waits for the attach to go out.
    await new Promise((r) => setTimeout(r, 0));
    if (!link.state.remote_open) return void await sub.cancel();
    this.#senders.set(sub, link);
    // Every flow sets what the core may push, lowered or raised: the link credit less the deliveries
    // the core already handed over that still wait here (rhea counts a transfer only once it is written).
    link.on("sender_flow", () => {
      this.#drained.delete(link);
      sub.setCredit(Math.max(0, (link.credit ?? 0) - (this.#held.get(sub)?.length ?? 0)));
    });
    link.on("sender_draining", () => this.#pump(sub, link));
    link.on("sendable", () => this.#pump(sub, link));
    sub.setCredit(link.credit ?? 0);
    const early = this.#early.get(sub);
    if (early) {
      this.#early.delete(sub);
      for (const d of early) this.deliver(sub, d);
    }
    // A drain that came with the attach, before the subscription existed, is answered now.
    this.#pump(sub, link);
  }

  /** Core delivery -> AMQP transfer. */
  deliver(sub: Subscription, d: Delivery): void {
    const link = this.#senders.get(sub);
    if (!link) {
      const list = this.#early.get(sub) ?? [];
      list.push(d);
      this.#early.set(sub, list);
      return;
    }
    const held = this.#held.get(sub);
    // rhea numbers a transfer when it is sent: one that the session window cannot take yet waits here,
    // in order, instead of going out of sequence.
    if (held?.length || !link.sendable()) {
      if (held) held.push(d);
      else this.#held.set(sub, [d]);
      return;
    }
    this.#transfer(sub, link, d);
  }

  #transfer(sub: Subscription, link: Link, d: Delivery): void {
    const bytes = encodeDelivery(d.message, Date.now());
    const delivery = bytes
      ? link.send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), undefined, 0)
      : link.send(fromMessage(d.message));
    if (d.tag !== 0) this.#deliveries.set(delivery, { sub, tag: d.tag });
  }

  #flush(sub: Subscription, link: Link): void {
    const held = this.#held.get(sub);
    if (!held) return;
    while (held.length && link.sendable()) this.#transfer(sub, link, held.shift()!);
    if (!held.length) this.#held.delete(sub);
  }

  /**
   * Sends what waits here; a link asked to drain is answered once nothing does. The core delivers what
   * it has at once when the flow sets its credit, so by then the link has had all there is: the rest of
   * the credit is used up (rhea advances the delivery-count by it in the flow it answers with) and the
   * core may push nothing more until the next flow.
   */
  #pump(sub: Subscription, link: Link): void {
    this.#flush(sub, link);
    if (!drainRequested(link) || this.#held.has(sub) || this.#drained.has(link)) return;
    this.#drained.add(link);
    sub.setCredit(0);
    link.set_drained(true);
  }

  /** A disposition from the client for one of our transfers. */
  settled(delivery: RheaDelivery, outcome: string): void {
    const t = this.#deliveries.get(delivery);
    if (!t) return;
    this.#deliveries.delete(delivery);
    this.#apply(t.sub, t.tag, outcome, delivery.remote_state);
  }

  /** A disposition given inside a transaction: applied when the transaction commits. */
  settledInTransaction(delivery: RheaDelivery): void {
    const t = this.#deliveries.get(delivery);
    const state = delivery.remote_state as TransactionalState;
    const txn = this.#transactions.get(state.txnId);
    // An outcome in an unknown transaction is not applied: the message stays unacked and comes back.
    if (!t || !txn) return;
    this.#deliveries.delete(delivery);
    const outcome = innerOutcome(state);
    const pending: PendingOutcome = {
      apply: () => this.#apply(t.sub, t.tag, outcome?.constructor.composite_type ?? "accepted", outcome),
      // Rolled back: the message goes back to its queue, as if the consumer had gone.
      undo: () => t.sub.nack([t.tag], true),
    };
    txn.outcomes.push(pending);
  }

  /** The client's outcome for one of our transfers: `state` is the outcome's fields. */
  #apply(sub: Subscription, tag: number, outcome: string, state: Outcome | undefined): void {
    if (outcome === "accepted") sub.ack([tag]);
    // rejected -> the deadLetter hook; so is a message undeliverable here: the core cannot keep it from
    // this one consumer only, and it must not come back to it.
    else if (outcome === "rejected" || state?.undeliverable_here === true) sub.nack([tag], false);
    // released is no delivery attempt, nor is modified without delivery-failed (3.4.4, 3.4.5): the
    // message goes back as it was, so a consumer that lets messages go cannot send them to the DLQ.
    else sub.nack([tag], true, state?.delivery_failed === true);
  }

  /** A transfer inside a transaction: checked now, published when the transaction commits. */
  #sendInTransaction(delivery: RheaDelivery, txnId: Uint8Array, message: MessageInit): void {
    const txn = this.#transactions.get(txnId);
    if (!txn) {
      return delivery.reject({
        condition: "amqp:transaction:unknown-id",
        description: "Unknown transaction",
      });
    }
    // Access is checked at send time so that a commit does not fail half-way on a denied address; the
    // send joins the transaction now, in order, and the commit waits for its check.
    const allowed = this.session.authorize("publish", message.destination, message.kind ?? "queue");
    txn.sends.push({ message, allowed });
    void allowed.then((a) =>
      isReject(a) ? delivery.reject(condition(a)) : delivery.update(undefined, acceptedIn(txnId))
    );
  }

  /** A declare or discharge from the client's transaction controller. */
  async #control(delivery: RheaDelivery, payload: Uint8Array): Promise<void> {
    const control = controlOf(payload);
    if (!control) {
      return delivery.reject({
        condition: "amqp:decode-error",
        description: "Expected declare or discharge",
      });
    }
    if (control.kind === "declare") return delivery.update(true, declared(this.#transactions.declare()));
    // rhea dispatches a transfer as it reads it but the dispositions read with it only after the
    // whole input: outcomes the client gave before this discharge are reported after it otherwise.
    await new Promise((r) => setTimeout(r, 0));
    const txn = this.#transactions.take(control.txnId);
    if (!txn) {
      return delivery.reject({
        condition: "amqp:transaction:unknown-id",
        description: "Unknown transaction",
      });
    }
    if (control.fail) {
      for (const o of txn.outcomes) o.undo();
      return delivery.accept();
    }
    // All or nothing: a send refused when it came, or by the core now, rolls the whole transaction back.
    const refused = (await Promise.all(txn.sends.map((s) => s.allowed))).find(isReject);
    const failed = refused ?? await this.session.publishBatch(txn.sends.map((s) => s.message));
    if (failed) {
      for (const o of txn.outcomes) o.undo();
      return delivery.reject({ condition: "amqp:transaction:rollback", description: failed.reason });
    }
    for (const o of txn.outcomes) o.apply();
    delivery.accept();
  }

  /** A link closed: cancel its subscription (the core deletes a dynamic node with it); a durable one stays. */
  async linkClosed(link: Link): Promise<void> {
    for (const [sub, l] of this.#senders) {
      if (l !== link) continue;
      this.#senders.delete(sub);
      // rhea reports the outcomes read with the detach only when it next writes: the subscription ends
      // after they apply, or the messages they settle would go back to the queue as lost deliveries.
      sub.setCredit(0);
      await new Promise((r) => setTimeout(r, 0));
      await sub.cancel();
      const closedForGood = link.remote?.detach?.closed !== false;
      if (closedForGood && sub.spec.durable && link.remote?.detach) {
        // A client closing (not detaching) a durable link ends the subscription.
        await this.#o.deleteQueue(sub.queue).catch(() => {});
      }
    }
  }

  /** The connection ended. */
  async close(reason: string): Promise<void> {
    this.#transactions.rollbackAll();
    await this.session.close(reason);
  }
}
