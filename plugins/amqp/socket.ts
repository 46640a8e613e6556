/**
 * A node-socket face on a broker transport, for rhea: plain AMQP connections use the broker's own TCP
 * listener and transport (write coalescing, back-pressure) instead of node:net streams, which cost about a
 * fifth of the broker's time per message.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { Transport } from "../../mod.ts";

type Handler = (arg?: unknown) => void;
/** What rhea may read of a chunk: all of it, the part before a refused frame, or nothing. */
type Admit = (bytes: Uint8Array) => Uint8Array | undefined;

/** What rhea's Connection uses of a socket. */
export interface RheaSocket {
  readonly remoteAddress: string;
  readonly remotePort: number;
  get_id_string(): string;
  on(event: string, fn: Handler): void;
  write(data: Uint8Array): boolean;
  end(): void;
  destroy(): void;
  /** Starts reading; call once rhea has attached its handlers. */
  start(): void;
}

/** Wraps `t` for `container.create_connection(...).accept(socket)`; rhea reads what `admit` lets through. */
export function rheaSocket(t: Transport, admit: Admit): RheaSocket {
  const handlers: Record<string, Handler> = {};
  const colon = t.remote.lastIndexOf(":");
  return {
    remoteAddress: t.remote.slice(0, colon),
    remotePort: Number(t.remote.slice(colon + 1)),
    get_id_string: () => t.remote,
    on(event, fn) {
      handlers[event] = fn;
    },
    write(data) {
      t.write(data);
      return true;
    },
    end: () => t.end(),
    destroy: () => t.close(),
    // rhea keeps unread bytes across reads: the transport's buffer is reused, so each chunk is copied.
    start: () =>
      t.start(gated(admit, (bytes) => handlers.data?.(Buffer.from(bytes))), () => handlers.end?.()),
  };
}

/** `deliver` called with what `admit` lets through of each chunk. */
function gated(admit: Admit, deliver: (bytes: Uint8Array) => void): (chunk: Uint8Array) => void {
  return (chunk) => {
    const admitted = admit(chunk);
    if (admitted) deliver(admitted);
  };
}

/** For a node socket rhea reads itself (TLS): the chunks its `data` handlers get pass `admit` first. */
export function filterData(
  socket: { on(event: string, fn: (chunk: Uint8Array) => void): unknown },
  admit: Admit,
): void {
  const on = socket.on.bind(socket);
  socket.on = (event, fn) => on(event, event === "data" ? gated(admit, fn) : fn);
}
