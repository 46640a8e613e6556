/**
 * A transaction controller for rhea clients in tests. rhea has no client transaction API: the
 * controller is a sender attached to a coordinator target, and a transactional transfer carries a
 * transactional state that rhea's transfer frames do not expose, so this wraps the frame builder.
 *
 * @module
 */
import frames from "rhea/lib/frames.js";
import {
  acceptedIn,
  coordinatorTarget,
  declareBody,
  type Declared,
  dischargeBody,
} from "../../plugins/amqp/rhea_ext.ts";
import type { AmqpConnection } from "./amqp.ts";
import { within } from "./wait.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const transferStates = new Map<string, Any>();
const buildTransfer = frames.transfer;
frames.transfer = (f: Any) => {
  const k = `${f.handle}/${f.delivery_id}`;
  const state = transferStates.get(k);
  if (!state) return buildTransfer(f);
  transferStates.delete(k);
  return buildTransfer({ ...f, state });
};

/** The outcome of a control message: "declared", "accepted" or "rejected <condition>". */
function outcome(sender: Any, body: Any): Promise<{ outcome: string; txnId?: Uint8Array }> {
  return within(
    new Promise((resolve) => {
      const d = sender.send({ body });
      const settle = (o: string, txnId?: Uint8Array) => (c: Any) => {
        if (c.delivery !== d) return;
        resolve({
          outcome: o === "rejected" ? `rejected ${c.delivery.remote_state?.error?.condition}` : o,
          txnId,
        });
      };
      sender.on("declared", (c: Any) => settle("declared", (c.delivery.remote_state as Declared).txnId)(c));
      sender.on("accepted", settle("accepted"));
      sender.on("rejected", settle("rejected"));
    }),
    5000,
    "coordinator disposition",
  );
}

/** A controller link on `conn`. */
export class TxnController {
  private constructor(private readonly sender: Any) {}

  static attach(conn: AmqpConnection): Promise<TxnController> {
    const sender = conn.open_sender({ target: {} });
    sender.local.attach.target = coordinatorTarget();
    return within(
      new Promise((resolve, reject) => {
        sender.once("sendable", () => resolve(new TxnController(sender)));
        sender.once("sender_close", () => reject(new Error("coordinator link closed")));
      }),
      5000,
      "coordinator attach",
    );
  }

  async declare(): Promise<Uint8Array> {
    const r = await outcome(this.sender, declareBody());
    if (!r.txnId) throw new Error(`declare answered ${r.outcome}`);
    return r.txnId;
  }

  /** "accepted" or "rejected <condition>". */
  async discharge(txnId: Uint8Array, fail: boolean): Promise<string> {
    return (await outcome(this.sender, dischargeBody(txnId, fail))).outcome;
  }
}

/** Sends `msg` on `sender` inside the transaction. */
export function sendInTransaction(sender: Any, msg: Record<string, unknown>, txnId: Uint8Array): Any {
  const d = sender.send(msg);
  transferStates.set(`${sender.local.handle}/${d.id}`, acceptedIn(txnId));
  return d;
}

/** Accepts a received delivery inside the transaction. */
export function acceptInTransaction(delivery: Any, txnId: Uint8Array): void {
  delivery.update(true, acceptedIn(txnId));
}
