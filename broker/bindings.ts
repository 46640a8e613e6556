/**
 * Extra topic bindings of existing queues (`BrokerApi.bindQueue`): a queue that is not itself a
 * subscription can collect messages from one or more topic patterns (virtual-topic consumer groups,
 * fan-in queues). The core's matcher holds the bindings; this module keeps which queue has which,
 * so they can be listed, persisted with the queue's definition, and removed with the queue.
 *
 * @module
 */

/** A persisted extra binding. */
export interface BindDef {
  readonly pattern: string;
  readonly selector?: string;
}

/** Bookkeeping of extra bindings per queue name; `B` is the core's binding object. */
export class ExtraBindings<B> {
  readonly #byQueue = new Map<string, Map<string, { binding: B; selector?: string }>>();
  readonly #add: (pattern: string, b: B) => void;
  readonly #remove: (pattern: string, b: B) => void;

  constructor(add: (pattern: string, b: B) => void, remove: (pattern: string, b: B) => void) {
    this.#add = add;
    this.#remove = remove;
  }

  /** Binds; returns false when the same pattern and selector were bound already (nothing changes). */
  bind(queue: string, pattern: string, selector: string | undefined, make: () => B): boolean {
    let m = this.#byQueue.get(queue);
    const old = m?.get(pattern);
    if (old !== undefined && old.selector === selector) return false;
    if (old !== undefined) this.#remove(pattern, old.binding);
    const binding = make();
    this.#add(pattern, binding);
    if (m === undefined) this.#byQueue.set(queue, m = new Map());
    m.set(pattern, { binding, selector });
    return true;
  }

  /** Removes one binding; false when there was none. */
  unbind(queue: string, pattern: string): boolean {
    const m = this.#byQueue.get(queue);
    const old = m?.get(pattern);
    if (m === undefined || old === undefined) return false;
    this.#remove(pattern, old.binding);
    m.delete(pattern);
    if (m.size === 0) this.#byQueue.delete(queue);
    return true;
  }

  /** Removes every binding of a queue (the queue is deleted). */
  drop(queue: string): void {
    const m = this.#byQueue.get(queue);
    if (m === undefined) return;
    for (const [pattern, { binding }] of m) this.#remove(pattern, binding);
    this.#byQueue.delete(queue);
  }

  /** The bindings of a queue, for its persisted definition; undefined when it has none. */
  defs(queue: string): BindDef[] | undefined {
    const m = this.#byQueue.get(queue);
    if (m === undefined) return undefined;
    return [...m].map(([pattern, { selector }]) =>
      selector === undefined ? { pattern } : { pattern, selector }
    );
  }
}
