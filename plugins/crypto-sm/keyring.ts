/**
 * The registries behind the `cipher` service: ciphers and signers by name, and keys by id. Keys are
 * imported once (key schedule, derived keys, CryptoKey) when they are added; a key whose cipher is not
 * registered yet waits until a plugin registers it. Old keys stay, so messages sealed before a
 * rotation still unseal.
 *
 * @module
 */
import type { Cipher, Signer } from "./cipher.ts";

/** A symmetric key ready to use, with its cipher. */
export interface SealKey {
  readonly id: string;
  readonly cipher: Cipher;
  readonly key: unknown;
}
/** A signing or verifying key ready to use, with its signer. */
export interface SignKey {
  readonly id: string;
  readonly signer: Signer;
  readonly key: unknown;
}
/** Key material for a signer, as configured. */
export interface SignMaterial {
  privateKey?: string;
  publicKey?: string;
  userId?: string;
}

/** Ciphers, signers and their keys. */
export class KeyRing {
  readonly #ciphers = new Map<string, Cipher>();
  readonly #signers = new Map<string, Signer>();
  readonly #keys = new Map<string, SealKey>();
  readonly #signKeys = new Map<string, SignKey>();
  readonly #pending = new Map<string, { cipher: string; raw: Uint8Array }>();
  readonly #pendingSign = new Map<string, { signer: string; material: SignMaterial }>();

  /** Registers a cipher and imports the keys that were waiting for it. Names are unique. */
  async registerCipher(c: Cipher): Promise<void> {
    if (this.#ciphers.has(c.name)) throw new TypeError(`Cannot register cipher "${c.name}": it exists`);
    this.#ciphers.set(c.name, c);
    for (const [id, p] of this.#pending) {
      if (p.cipher !== c.name) continue;
      this.#pending.delete(id);
      await this.addKey(id, p.cipher, p.raw);
    }
  }

  /** Registers a signer and imports the keys that were waiting for it. Names are unique. */
  registerSigner(s: Signer): void {
    if (this.#signers.has(s.name)) throw new TypeError(`Cannot register signer "${s.name}": it exists`);
    this.#signers.set(s.name, s);
    for (const [id, p] of this.#pendingSign) {
      if (p.signer !== s.name) continue;
      this.#pendingSign.delete(id);
      this.addSignKey(id, p.signer, p.material);
    }
  }

  /** Adds (or replaces) symmetric key `id` for `cipher`; held back until that cipher is registered. */
  async addKey(id: string, cipher: string, raw: Uint8Array): Promise<void> {
    const c = this.#ciphers.get(cipher);
    if (!c) {
      this.#pending.set(id, { cipher, raw });
      return;
    }
    if (raw.byteLength !== c.keyLength) {
      throw new TypeError(
        `Cannot add key "${id}": ${cipher} needs ${c.keyLength} bytes, got ${raw.byteLength}`,
      );
    }
    this.#keys.set(id, { id, cipher: c, key: await c.importKey(raw) });
  }

  /** Adds (or replaces) signing key `id` for `signer`; held back until that signer is registered. */
  addSignKey(id: string, signer: string, material: SignMaterial): void {
    const s = this.#signers.get(signer);
    if (!s) {
      this.#pendingSign.set(id, { signer, material });
      return;
    }
    this.#signKeys.set(id, { id, signer: s, key: s.importKey(material) });
  }

  key(id: string): SealKey | undefined {
    return this.#keys.get(id);
  }

  signKey(id: string): SignKey | undefined {
    return this.#signKeys.get(id);
  }

  /** Why key `id` cannot be used yet, or undefined when it can. */
  whyNot(id: string, sign = false): string | undefined {
    if (sign ? this.#signKeys.has(id) : this.#keys.has(id)) return undefined;
    const p = sign ? this.#pendingSign.get(id) : this.#pending.get(id);
    if (p) return `${sign ? "signer" : "cipher"} "${"cipher" in p ? p.cipher : p.signer}" is not registered`;
    return "no such key";
  }

  cipherNames(): string[] {
    return [...this.#ciphers.keys()];
  }

  signerNames(): string[] {
    return [...this.#signers.keys()];
  }

  keyIds(): { id: string; cipher: string; ready: boolean }[] {
    return [
      ...[...this.#keys.values()].map((k) => ({ id: k.id, cipher: k.cipher.name, ready: true })),
      ...[...this.#pending].map(([id, p]) => ({ id, cipher: p.cipher, ready: false })),
    ];
  }
}
