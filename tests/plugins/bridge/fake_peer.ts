/**
 * A peer that is not a broker: a rhea listener whose receiving links grant credit and settle only when
 * the test says so, for a slow peer, one that gives no credit, or one that releases everything.
 *
 * @module
 */
import rhea from "rhea";
import { deferred } from "../../helpers/wait.ts";

// deno-lint-ignore no-explicit-any
type Rhea = any;

/** A message the fake peer got and has not settled yet. */
export interface Got {
  readonly message: Record<string, unknown>;
  readonly delivery: Rhea;
  /** When it arrived, ms since the epoch. */
  readonly at: number;
}

/** The fake peer: what arrived, and the levers. */
export interface FakePeer {
  readonly port: number;
  /** Every message that arrived, in order. */
  readonly got: Got[];
  /** Links attached by the bridge. */
  readonly links: Rhea[];
  /** Grants `n` more credit on every attached link (and on links to come, as their first credit). */
  credit(n: number): void;
  /** From now on answers each message with `fn`, those waiting unanswered first. */
  answer(fn: (g: Got) => void): void;
  close(): Promise<void>;
}

/**
 * Starts the fake peer on 127.0.0.1 (`port` 0: a free one). `settle` answers each message as it arrives
 * (e.g. `(g) => g.delivery.release()`); without it messages stay unsettled. `initialCredit` is what a new
 * link gets.
 */
export async function fakePeer(
  o: { port?: number; initialCredit?: number; settle?: (g: Got) => void; id?: string } = {},
): Promise<FakePeer> {
  const container = rhea.create_container({ id: o.id ?? "fake-peer" });
  const got: Got[] = [];
  const links: Rhea[] = [];
  const conns = new Set<Rhea>();
  container.on("connection_open", (c: Rhea) => conns.add(c.connection));
  container.on("disconnected", (c: Rhea) => conns.delete(c.connection));
  container.on("receiver_open", (c: Rhea) => {
    links.push(c.receiver);
    if (o.initialCredit) c.receiver.add_credit(o.initialCredit);
  });
  container.on("receiver_close", (c: Rhea) => links.splice(links.indexOf(c.receiver), 1));
  let settle = o.settle;
  const unanswered: Got[] = [];
  container.on("message", (c: Rhea) => {
    const g = { message: c.message, delivery: c.delivery, at: Date.now() };
    got.push(g);
    if (settle) settle(g);
    else unanswered.push(g);
  });
  container.on("error", () => {});
  // autoaccept and credit_window are link options rhea takes from the listener's; its types leave them out.
  const server = container.listen(
    { port: o.port ?? 0, host: "127.0.0.1", autoaccept: false, credit_window: 0 } as Rhea,
  );
  const ready = deferred();
  server.once("listening", () => ready.resolve());
  await ready.promise;
  return {
    port: (server.address() as { port: number }).port,
    got,
    links,
    credit: (n) => {
      for (const l of links) l.add_credit(n);
    },
    answer: (fn) => {
      settle = fn;
      for (const g of unanswered.splice(0)) fn(g);
    },
    async close() {
      const closed = deferred();
      server.close(() => closed.resolve());
      for (const c of conns) c.socket?.destroy?.();
      await closed.promise;
    },
  };
}
