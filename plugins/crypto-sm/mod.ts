/**
 * The crypto-sm plugin: per destination pattern, seals message bodies on publish (SM4-CBC with
 * HMAC-SM3, or AES-256-GCM, or a cipher another plugin registers), signs them with SM2 and adds SM3
 * digests; on delivery it unseals and verifies for consumers who may read, and dead-letters anything
 * that does not authenticate. Bodies stay sealed in queues and in the store. Keys come from
 * broker.json or files and are named by id in each sealed message (`x-seal-key`), so a rotated-out
 * key still opens the messages it sealed.
 *
 * Other plugins add ciphers through the typed `cipher` service:
 *
 * @example
 * ```ts
 * // plugin.json: "requires": ["cipher"]
 * const ciphers = ctx.use("cipher");
 * await ciphers.registerCipher(myCipher);
 * await ciphers.addKey({ id: "k9", cipher: myCipher.name, hex: "00112233..." });
 * ```
 *
 * @module
 */
import { isAbsolute, join } from "node:path";
import {
  BROKER_PRINCIPAL,
  BrokerError,
  definePlugin,
  type ErrorCode,
  type Principal,
  Priority,
  validatePattern,
} from "../../mod.ts";
import { aes256Gcm } from "./aes_gcm.ts";
import type { Cipher, Signer } from "./cipher.ts";
import { fromHex } from "./hex.ts";
import { KeyRing } from "./keyring.ts";
import { isReader, type RuleConfig, RuleTable } from "./rules.ts";
import { type CryptoCounters, HEADERS, Sealer } from "./seal.ts";
import { sm2Sm3 } from "./sm2.ts";
import { sm3Hex } from "./sm3.ts";
import { sm4CbcHmacSm3 } from "./sm4.ts";

export { type Cipher, equalBytes, type FailureCode, type Signer, UnsealError } from "./cipher.ts";
export type { CryptoCounters } from "./seal.ts";
export type { RuleConfig } from "./rules.ts";
export { HEADERS };

/** A symmetric key as configured: material inline (`hex`) or in a file of hex text (`file`). */
export interface KeyConfig {
  id: string;
  /** Default "sm4-cbc-hmac-sm3". */
  cipher?: string;
  hex?: string;
  /** Relative to node.dataDir. */
  file?: string;
}
/** An SM2 (or other signer's) key as configured; a key without a private half only verifies. */
export interface SigningKeyConfig {
  id: string;
  /** Default "sm2-sm3". */
  signer?: string;
  privateKey?: string;
  privateKeyFile?: string;
  publicKey?: string;
  publicKeyFile?: string;
  /** The signer's distinguishing id in the SM2 Z value; default "1234567812345678". */
  userId?: string;
}
interface Options {
  keys: KeyConfig[];
  signingKeys: SigningKeyConfig[];
  rules: RuleConfig[];
}

/** The typed service the plugin provides as "cipher". */
export interface CipherService {
  /** Adds a cipher; keys configured for it are imported now. */
  registerCipher(c: Cipher): Promise<void>;
  /** Adds a signer; keys configured for it are imported now. */
  registerSigner(s: Signer): void;
  /** Adds or replaces a symmetric key at run time (lost at restart unless broker.json has it too). */
  addKey(k: KeyConfig): Promise<void>;
  /** Seals new messages of the rule with exactly this pattern under `keyId`; old keys keep opening. */
  rotate(pattern: string, keyId: string, by?: Principal): void;
  /** SM3 digest as lowercase hex. */
  sm3(data: Uint8Array): string;
  ciphers(): string[];
  signers(): string[];
  keys(): { id: string; cipher: string; ready: boolean }[];
  counters(): CryptoCounters;
}

declare module "../../mod.ts" {
  interface Services {
    cipher: CipherService;
  }
}

export default definePlugin<Options>({
  name: "crypto-sm",
  async setup(ctx) {
    const o = ctx.options;
    const path = (f: string) => isAbsolute(f) ? f : join(ctx.dataDir, f);
    const material = async (inline: string | undefined, file: string | undefined, what: string) =>
      inline ?? (file === undefined ? undefined : (await Deno.readTextFile(path(file)).catch((e) => {
        throw new BrokerError("plugin_options", `Cannot read ${what} from "${file}": ${e.message}`);
      })).trim());
    const bad = (msg: string, cause?: unknown, code: ErrorCode = "plugin_options") =>
      new BrokerError(code, msg, { cause });

    const ring = new KeyRing();
    await ring.registerCipher(sm4CbcHmacSm3);
    await ring.registerCipher(aes256Gcm);
    ring.registerSigner(sm2Sm3);

    // At start-up a bad key is a bad option; at run time (the service) a bad argument.
    const addKey = async (k: KeyConfig, code: ErrorCode = "plugin_options") => {
      const hex = await material(k.hex, k.file, `key "${k.id}"`);
      if (hex === undefined) throw bad(`Cannot add key "${k.id}": give "hex" or "file"`, undefined, code);
      try {
        await ring.addKey(k.id, k.cipher ?? sm4CbcHmacSm3.name, fromHex(hex, `key "${k.id}"`));
      } catch (e) {
        throw bad(`Cannot add key "${k.id}": ${(e as Error).message}`, e, code);
      }
    };
    for (const k of o.keys) await addKey(k);
    for (const k of o.signingKeys) {
      try {
        ring.addSignKey(k.id, k.signer ?? sm2Sm3.name, {
          privateKey: await material(k.privateKey, k.privateKeyFile, `private key "${k.id}"`),
          publicKey: await material(k.publicKey, k.publicKeyFile, `public key "${k.id}"`),
          userId: k.userId,
        });
      } catch (e) {
        throw e instanceof BrokerError
          ? e
          : bad(`Cannot add signing key "${k.id}": ${(e as Error).message}`, e);
      }
    }
    const keyIds = new Set(o.keys.map((k) => k.id)), signIds = new Set(o.signingKeys.map((k) => k.id));
    for (const [i, r] of o.rules.entries()) {
      const at = `rules[${i}] ("${r.pattern}")`;
      try {
        validatePattern(r.pattern);
      } catch (e) {
        throw bad(`${at}: ${(e as Error).message}`, e);
      }
      if (r.seal !== undefined && !keyIds.has(r.seal)) throw bad(`${at}: no key "${r.seal}" in keys`);
      if (r.sign !== undefined && !signIds.has(r.sign)) throw bad(`${at}: no key "${r.sign}" in signingKeys`);
    }

    const rules = new RuleTable(o.rules);
    const sealer = new Sealer(rules, ring, ctx.log);
    // No rules, no handlers: the plugin then costs nothing per message.
    if (rules.rules.length > 0) {
      ctx.hooks.on("publish", ({ message }) => sealer.seal(message), { priority: Priority.SEAL });
      ctx.hooks.on("deliver", (e) => sealer.open(e), { priority: Priority.SEAL });
    }
    if (rules.restrictsReaders) {
      ctx.hooks.on("subscribe", ({ spec, principal }) => {
        const rule = spec.kind === "queue" ? rules.for(spec.destination) : undefined;
        // A queue consumer who may not read would take messages from those who may: refuse it.
        if (rule && !isReader(rule, principal)) {
          sealer.counters.refused++;
          return { code: "not_authorized", reason: `Not allowed to read sealed queue "${spec.destination}"` };
        }
        sealer.readers.set(spec, principal);
        return spec;
      }, { priority: Priority.SEAL });
    }
    const pending = ring.keyIds().filter((k) => !k.ready);
    if (pending.length > 0) {
      ctx.log.warn(`keys waiting for their cipher to be registered: ${pending.map((k) => k.id).join(", ")}`);
    }

    ctx.provide("cipher", {
      registerCipher: (c) => ring.registerCipher(c),
      registerSigner: (s) => ring.registerSigner(s),
      addKey: (k) => addKey(k, "invalid_argument"),
      rotate(pattern, keyId, by = BROKER_PRINCIPAL) {
        const rule = rules.rules.find((r) => r.pattern === pattern);
        if (!rule) throw new BrokerError("not_found", `Cannot rotate "${pattern}": no rule has this pattern`);
        const why = ring.whyNot(keyId);
        if (why) {
          throw new BrokerError("invalid_argument", `Cannot rotate "${pattern}" to key "${keyId}": ${why}`);
        }
        const before = rule.seal;
        rule.seal = keyId;
        ctx.log.info(`"${pattern}" now seals with key "${keyId}" (was "${before}")`);
        ctx.broker.emit("adminAction", {
          principal: by,
          action: "crypto.rotate",
          object: pattern,
          before: { seal: before },
          after: { seal: keyId },
        });
      },
      sm3: sm3Hex,
      ciphers: () => ring.cipherNames(),
      signers: () => ring.signerNames(),
      keys: () => ring.keyIds(),
      counters: () => structuredClone(sealer.counters),
    });
  },
});
