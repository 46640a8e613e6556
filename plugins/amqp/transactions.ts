/**
 * Local transactions of one AMQP connection (spec part 4): a declared transaction collects the
 * messages sent and the outcomes given in it; discharge applies them all (commit) or none (rollback).
 *
 * @module
 */
import type { MessageInit, Reject } from "../../mod.ts";

/** An outcome given in a transaction to one of our transfers, applied when it commits. */
export interface PendingOutcome {
  readonly apply: () => void;
  readonly undo: () => void;
}

/** A message sent in a transaction, with its access check (done at send time, awaited at commit). */
export interface PendingSend {
  readonly message: MessageInit;
  readonly allowed: Promise<true | Reject>;
}

/** What one transaction holds until it is discharged. */
export interface Transaction {
  readonly sends: PendingSend[];
  readonly outcomes: PendingOutcome[];
}

const key = (id: Uint8Array) => Array.from(id, (b) => b.toString(16).padStart(2, "0")).join("");

/** The open transactions of a connection, by transaction id. */
export class Transactions {
  readonly #open = new Map<string, Transaction>();
  #next = 0;

  /** Opens a transaction and returns its id (4 bytes, unique within the connection). */
  declare(): Uint8Array {
    const id = new Uint8Array(4);
    new DataView(id.buffer).setUint32(0, ++this.#next);
    this.#open.set(key(id), { sends: [], outcomes: [] });
    return id;
  }

  get(id: Uint8Array): Transaction | undefined {
    return this.#open.get(key(id));
  }

  /** Removes and returns the transaction being discharged. */
  take(id: Uint8Array): Transaction | undefined {
    const k = key(id);
    const t = this.#open.get(k);
    this.#open.delete(k);
    return t;
  }

  /** The connection ended: every open transaction rolls back. */
  rollbackAll(): void {
    for (const t of this.#open.values()) for (const o of t.outcomes) o.undo();
    this.#open.clear();
  }

  get size(): number {
    return this.#open.size;
  }
}
