/**
 * The packet identifiers a session remembers between its connections [MQTT-4.4.0-1]: a client that comes
 * back gets its unacknowledged PUBLISH packets again under their original identifiers, and the PUBREL of
 * every QoS 2 message it already holds, never the message a second time; a QoS 2 PUBLISH it sends again
 * is acknowledged, not routed again.
 *
 * @module
 */

/** A {@linkcode PacketState} as the session record stores it. */
export interface PacketRecord {
  received: number[];
  released: number[];
  unacked: [string, number][];
}

/** One session's packet identifiers; the collections are made on first use (most sessions need none). */
export class PacketState {
  #received: Set<number> | undefined;
  #released: Set<number> | undefined;
  #ids: Map<string, number> | undefined;
  #keys: Map<number, string> | undefined;

  /** Inbound QoS 2 identifiers answered with PUBREC, until their PUBREL. */
  get received(): Set<number> {
    return this.#received ??= new Set();
  }

  /** Outbound QoS 2 identifiers the client answered with PUBREC: PUBREL sent, PUBCOMP awaited. */
  get released(): Set<number> {
    return this.#released ??= new Set();
  }

  /** The identifier an unacknowledged delivery went out with (`key`: its queue and message id). */
  idOf(key: string): number | undefined {
    return this.#ids?.get(key);
  }

  /** Remembers the identifier of an unacknowledged delivery, for its resend. */
  hold(key: string, id: number): void {
    (this.#ids ??= new Map()).set(key, id);
    (this.#keys ??= new Map()).set(id, key);
  }

  /** The delivery with this identifier is acknowledged (PUBACK, PUBREC) or given up. */
  drop(id: number): void {
    const key = this.#keys?.get(id);
    if (key === undefined) return;
    this.#keys!.delete(id);
    this.#ids!.delete(key);
  }

  /** Whether `id` still belongs to a delivery of an earlier connection, held or released. */
  taken(id: number): boolean {
    return this.#keys?.has(id) === true || this.#released?.has(id) === true;
  }

  toRecord(): PacketRecord {
    return {
      received: [...this.#received ?? []],
      released: [...this.#released ?? []],
      unacked: [...this.#ids ?? []],
    };
  }

  static from(r: PacketRecord | undefined): PacketState {
    const s = new PacketState();
    if (!r) return s;
    for (const id of r.received) s.received.add(id);
    for (const id of r.released) s.released.add(id);
    for (const [key, id] of r.unacked) s.hold(key, id);
    return s;
  }
}
