/**
 * The message transforms: on publish, digest and sign the plain body, then seal it; on deliver,
 * unseal, then check the signature and digest. Every failure on deliver is a Reject whose reason
 * starts with a {@linkcode FailureCode}: the core dead-letters the message with that reason, so a
 * tampered or unreadable message is never delivered. Failures are counted and logged.
 *
 * @module
 */
import {
  type DeliverEvent,
  DROP,
  type Logger,
  type Message,
  type Principal,
  type PropertyValue,
  type Reject,
  type SubscriptionSpec,
} from "../../mod.ts";
import { type FailureCode, UnsealError } from "./cipher.ts";
import type { KeyRing } from "./keyring.ts";
import { isReader, type RuleTable } from "./rules.ts";
import { sm3Hex } from "./sm3.ts";

/** The properties a sealed or signed message carries. */
export const HEADERS = {
  SEAL_ALG: "x-seal-alg",
  SEAL_KEY: "x-seal-key",
  SIG_ALG: "x-sig-alg",
  SIG_KEY: "x-sig-key",
  SIG: "x-sig",
  SM3: "x-sm3",
} as const;
const OURS: readonly string[] = Object.values(HEADERS);
const MQTT_RETAIN = "mqtt.retain";

/** What the plugin has done since start; exposed by the `cipher` service. */
export interface CryptoCounters {
  sealed: number;
  unsealed: number;
  signed: number;
  verified: number;
  /** Sealed messages not delivered to a topic subscriber who is not a reader. */
  withheld: number;
  /** Queue subscriptions refused because the subscriber is not a reader. */
  refused: number;
  /** Messages dead-lettered on delivery, by reason. */
  failures: Record<FailureCode, number>;
}

const encoder = new TextEncoder();

/** Binds a sealed body to its cipher, key and destination: moved elsewhere, it no longer opens. */
function aad(alg: string, keyId: string, destination: string): Uint8Array {
  return encoder.encode(`${alg}\0${keyId}\0${destination}`);
}

/** Seals on publish and opens on deliver, per the rule table, with the key ring's keys. */
export class Sealer {
  readonly counters: CryptoCounters = {
    sealed: 0,
    unsealed: 0,
    signed: 0,
    verified: 0,
    withheld: 0,
    refused: 0,
    failures: {
      seal_tampered: 0,
      seal_malformed: 0,
      seal_unknown_key: 0,
      signature_invalid: 0,
      signature_unknown_key: 0,
      digest_mismatch: 0,
      not_reader: 0,
    },
  };
  /** Who opened each subscription (set by the subscribe fold; the deliver event has no principal). */
  readonly readers = new WeakMap<SubscriptionSpec, Principal>();
  readonly #rules: RuleTable;
  readonly #ring: KeyRing;
  readonly #log: Logger;

  constructor(rules: RuleTable, ring: KeyRing, log: Logger) {
    this.#rules = rules;
    this.#ring = ring;
    this.#log = log;
  }

  /** The publish fold: the message with its body sealed and headers set, or a Reject. */
  seal(m: Message): Message | Reject | Promise<Message | Reject> {
    const rule = this.#rules.for(m.destination);
    if (!rule) return m;
    // The MQTT plugin keeps retained messages apart, as published and sent without the deliver fold:
    // they would sit in the store in plain text and reach non-readers. Refused until that path is sealed.
    if ((rule.seal !== undefined || rule.readers) && m.annotations?.[MQTT_RETAIN] === true) {
      return {
        code: "not_authorized",
        reason: `Cannot retain a message on "${m.destination}": retained messages bypass sealing`,
      };
    }
    // Producers cannot choose these headers: whatever they sent is replaced.
    const props: Record<string, PropertyValue> = {};
    for (const k in m.properties) if (!OURS.includes(k)) props[k] = m.properties[k];
    if (rule.digest) props[HEADERS.SM3] = sm3Hex(m.body);
    if (rule.sign !== undefined) {
      const k = this.#ring.signKey(rule.sign);
      if (!k || !k.signer.canSign(k.key)) {
        return busy(
          `Cannot sign for "${m.destination}" with key "${rule.sign}": ${
            k ? "the key has no private half" : this.#ring.whyNot(rule.sign, true)
          }`,
        );
      }
      props[HEADERS.SIG_ALG] = k.signer.name;
      props[HEADERS.SIG_KEY] = k.id;
      props[HEADERS.SIG] = k.signer.sign(k.key, m.body);
      this.counters.signed++;
    }
    if (rule.seal === undefined) return { ...m, properties: props };
    const k = this.#ring.key(rule.seal);
    if (!k) {
      return busy(
        `Cannot seal for "${m.destination}" with key "${rule.seal}": ${this.#ring.whyNot(rule.seal)}`,
      );
    }
    props[HEADERS.SEAL_ALG] = k.cipher.name;
    props[HEADERS.SEAL_KEY] = k.id;
    const sealed = k.cipher.seal(k.key, m.body, aad(k.cipher.name, k.id, m.destination));
    const done = (body: Uint8Array): Message => {
      this.counters.sealed++;
      return { ...m, body, properties: props };
    };
    return sealed instanceof Promise ? sealed.then(done) : done(sealed);
  }

  /** The deliver fold: the plain message, DROP for a topic subscriber who may not read, or a Reject. */
  open(e: DeliverEvent): Message | Reject | typeof DROP {
    const m = e.message;
    const rule = this.#rules.for(m.destination);
    if (!rule) return m;
    if (rule.readers && !isReader(rule, this.readers.get(e.subscription.spec))) {
      const spec = e.subscription.spec;
      // A plain topic subscription has its own copy: withholding it loses nothing for others.
      if (spec.kind === "topic" && spec.shared === undefined) {
        this.counters.withheld++;
        return DROP;
      }
      return this.#fail(e, "not_reader", `subscription "${e.subscription.id}" is not a reader`);
    }
    const p = m.properties;
    let body = m.body, props = p;
    const alg = p[HEADERS.SEAL_ALG];
    if (rule.seal !== undefined || alg !== undefined) {
      const keyId = p[HEADERS.SEAL_KEY];
      if (alg === undefined) return this.#fail(e, "seal_malformed", "the message is not sealed");
      if (typeof keyId !== "string" || keyId === "") {
        return this.#fail(e, "seal_unknown_key", `no ${HEADERS.SEAL_KEY} header`);
      }
      const k = this.#ring.key(keyId);
      if (!k) return this.#fail(e, "seal_unknown_key", `key "${keyId}": ${this.#ring.whyNot(keyId)}`);
      if (k.cipher.name !== alg) {
        return this.#fail(e, "seal_unknown_key", `key "${keyId}" is for ${k.cipher.name}, not ${alg}`);
      }
      try {
        body = k.cipher.unseal(k.key, m.body, aad(alg, keyId, m.destination));
      } catch (err) {
        if (!(err instanceof UnsealError)) throw err;
        return this.#fail(e, err.code, `${err.message} (key "${keyId}")`);
      }
      const rest: Record<string, PropertyValue> = {};
      for (const n in p) if (n !== HEADERS.SEAL_ALG && n !== HEADERS.SEAL_KEY) rest[n] = p[n];
      props = rest;
    }
    const sigAlg = p[HEADERS.SIG_ALG];
    if (rule.sign !== undefined || sigAlg !== undefined) {
      const keyId = p[HEADERS.SIG_KEY], sig = p[HEADERS.SIG];
      if (sigAlg === undefined || typeof sig !== "string") {
        return this.#fail(e, "signature_invalid", "the message is not signed");
      }
      const k = typeof keyId === "string" ? this.#ring.signKey(keyId) : undefined;
      if (!k || k.signer.name !== sigAlg) {
        return this.#fail(e, "signature_unknown_key", `no ${String(sigAlg)} key "${String(keyId)}"`);
      }
      if (!k.signer.verify(k.key, body, sig)) {
        return this.#fail(e, "signature_invalid", `${sigAlg} signature by key "${keyId}" does not verify`);
      }
      this.counters.verified++;
    }
    const digest = p[HEADERS.SM3];
    if (rule.digest || digest !== undefined) {
      if (digest !== sm3Hex(body)) return this.#fail(e, "digest_mismatch", "the SM3 digest does not match");
    }
    if (body === m.body) return m;
    this.counters.unsealed++;
    return { ...m, body, properties: props };
  }

  #fail(e: DeliverEvent, code: FailureCode, detail: string): Reject {
    this.counters.failures[code]++;
    const reason = `${code}: ${detail}`;
    this.#log.warn(`not delivering message "${e.message.id}" from "${e.queue}"`, {
      reason,
      destination: e.message.destination,
    });
    return { code: code === "not_reader" ? "not_authorized" : "invalid_message", reason };
  }
}

function busy(reason: string): Reject {
  return { code: "server_busy", reason };
}
