/**
 * A transaction controller for rhea clients in tests. rhea has no client transaction API: the
 * controller is a sender attached to a coordinator target, and a transactional transfer carries a
 * transactional state that rhea's transfer frames do not expose, so this wraps the frame builder.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import rhea from "rhea";
import frames from "rhea/lib/frames.js";
import { acceptedIn, coordinatorTarget, type Declared } from "../../plugins/amqp/rhea_ext.ts";
import type { AmqpConnection } from "./amqp.ts";
import { within } from "./wait.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const types: Any = rhea.types;

/**
 * A message whose amqp-value body is the described control list `code` (0x31 declare, 0x32 discharge).
 * rhea's encoder gives a described body the section's descriptor in place of its own, so the payload
 * is written here.
 */
function controlPayload(code: number, fields: Any[]): Buffer {
  const w = new types.Writer();
  w.write(types.described(types.wrap_ulong(code), types.wrap_list(fields)));
  return Buffer.concat([Buffer.from([0x00, 0x53, 0x77]), w.toBuffer()]);
}

const transferStates = new Map<string, Any>();
const buildTransfer = frames.transfer;
frames.transfer = (f: Any) => {
  const k = `${f.handle}/${f.delivery_id}`;
  const state = transferStates.get(k);
  if (!state) return buildTransfer(f);
  transferStates.delete(k);
  // rhea has no encoder for a transfer's state field (index 7): the described value goes in as is.
  const frame = buildTransfer(f);
  for (let i = 0; i < 7; i++) frame.value[i] ??= types.Null();
  frame.value[7] = state;
  return frame;
};

/** The outcome of a control message: "declared", "accepted" or "rejected <condition>". */
function outcome(sender: Any, payload: Buffer): Promise<{ outcome: string; txnId?: Uint8Array }> {
  return within(
    new Promise((resolve) => {
      const d = sender.send(payload, undefined, 0);
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
    const r = await outcome(this.sender, controlPayload(0x31, []));
    if (!r.txnId) throw new Error(`declare answered ${r.outcome}`);
    return r.txnId;
  }

  /** "accepted" or "rejected <condition>". */
  async discharge(txnId: Uint8Array, fail: boolean): Promise<string> {
    const fields = [types.wrap_binary(Buffer.from(txnId)), types.wrap_boolean(fail)];
    return (await outcome(this.sender, controlPayload(0x32, fields))).outcome;
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

/** Gives a delivery `outcome` (rhea's, e.g. `rhea.message.modified({...}).described()`) inside the transaction. */
export function settleInTransaction(delivery: Any, txnId: Uint8Array, outcome: Any): void {
  delivery.update(
    true,
    types.described(types.wrap_ulong(0x34), types.wrap_list([types.wrap_binary(txnId), outcome])),
  );
}
