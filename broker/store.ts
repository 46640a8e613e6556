/**
 * The in-memory {@linkcode Store}: the non-persistent default and the conformance reference.
 *
 * @module
 */
import type { KeyValue, MessageRef, Store, StoredMessage } from "./api.ts";
import type { Message } from "./message.ts";

interface Held {
  message: Message;
  queues: Set<string>;
}

/** Keeps everything in maps; nothing survives the process. */
export class MemoryStore implements Store {
  readonly #messages = new Map<string, Held>();
  readonly #spaces = new Map<string, Map<string, unknown>>();

  append(batch: readonly StoredMessage[]): Promise<void> {
    for (const { message, queues } of batch) {
      const held = this.#messages.get(message.id);
      if (held) { for (const q of queues) held.queues.add(q); }
      else this.#messages.set(message.id, { message, queues: new Set(queues) });
    }
    return Promise.resolve();
  }

  ack(refs: readonly MessageRef[]): Promise<void> {
    for (const { queue, id } of refs) {
      const held = this.#messages.get(id);
      if (!held) continue;
      held.queues.delete(queue);
      if (held.queues.size === 0) this.#messages.delete(id);
    }
    return Promise.resolve();
  }

  redelivered(refs: readonly MessageRef[], count: number): Promise<void> {
    for (const { id } of refs) {
      const held = this.#messages.get(id);
      if (held) held.message = { ...held.message, redeliveryCount: count };
    }
    return Promise.resolve();
  }

  async *recover(): AsyncIterable<StoredMessage> {
    for (const { message, queues } of [...this.#messages.values()]) yield { message, queues: [...queues] };
  }

  kv<V>(namespace: string): KeyValue<V> {
    let space = this.#spaces.get(namespace);
    if (!space) {
      space = new Map();
      this.#spaces.set(namespace, space);
    }
    const map = space as Map<string, V>;
    return {
      get: (key) => Promise.resolve(map.get(key)),
      set: (key, value) => {
        map.set(key, value);
        return Promise.resolve();
      },
      delete: (key) => {
        map.delete(key);
        return Promise.resolve();
      },
      async *entries(prefix = "") {
        for (const [k, v] of [...map]) if (k.startsWith(prefix)) yield [k, v] as [string, V];
      },
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
