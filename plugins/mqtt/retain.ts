/**
 * Retained messages: one per topic, kept in memory for lookups and in the store so they survive a
 * restart. An empty payload clears the topic's retained message [MQTT-3.3.1-10].
 *
 * @module
 */
import { decodeMessage, encodeMessage, type KeyValue, matchesPattern, type Message } from "../../mod.ts";
import { fromBase64, toBase64 } from "./message_map.ts";

/** The retained messages of one broker. */
export class RetainStore {
  readonly #byTopic = new Map<string, Message>();
  readonly #kv: KeyValue<string>;
  readonly #max: number;

  constructor(kv: KeyValue<string>, max: number) {
    this.#kv = kv;
    this.#max = max;
  }

  /** Loads what the store kept. */
  async load(): Promise<void> {
    for await (const [topic, b64] of this.#kv.entries()) {
      try {
        this.#byTopic.set(topic, decodeMessage(fromBase64(b64)));
      } catch {
        await this.#kv.delete(topic);
      }
    }
  }

  get size(): number {
    return this.#byTopic.size;
  }

  /** Keeps `m` as the topic's retained message, or clears it when the body is empty. */
  set(m: Message): Promise<void> {
    if (m.body.byteLength === 0) {
      if (!this.#byTopic.delete(m.destination)) return Promise.resolve();
      return this.#kv.delete(m.destination);
    }
    if (!this.#byTopic.has(m.destination) && this.#byTopic.size >= this.#max) return Promise.resolve();
    this.#byTopic.set(m.destination, m);
    return this.#kv.set(m.destination, toBase64(encodeMessage(m)));
  }

  /** Retained messages whose topic matches the core pattern, skipping expired ones. */
  match(pattern: string, now: number): Message[] {
    const out: Message[] = [];
    for (const [topic, m] of this.#byTopic) {
      if (m.expiresAt !== 0 && m.expiresAt <= now) continue;
      if (matchesPattern(pattern, topic)) out.push(m);
    }
    return out;
  }
}
