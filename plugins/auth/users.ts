/**
 * Users and their scrypt password hashes (`scrypt:N:r:p:salt:hash`, base64), checked in constant time.
 *
 * @module
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/** A user as configured. */
export interface UserConfig {
  username: string;
  password?: string;
  passwordHash?: string;
  groups?: string[];
}

/** A user as kept: never a plain password. */
export interface User {
  readonly username: string;
  readonly passwordHash: string;
  readonly groups: readonly string[];
}

const N = 16384, R = 8, P = 1, KEYLEN = 32;

function derive(password: string, salt: Uint8Array, n: number, r: number, p: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    scrypt(
      password,
      salt,
      KEYLEN,
      { N: n, r, p, maxmem: 128 * n * r * 2 },
      (err, key) => (err ? reject(err) : resolve(key)),
    )
  );
}

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** Hashes a password with a fresh salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  return `scrypt:${N}:${R}:${P}:${b64(salt)}:${b64(await derive(password, salt, N, R, P))}`;
}

/** Checks a password against a stored hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split(":");
  if (kind !== "scrypt" || !hash) return false;
  const expected = unb64(hash);
  const got = await derive(password, unb64(salt), Number(n), Number(r), Number(p));
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** Turns configured users into stored users, hashing plain passwords. */
export async function toUsers(list: readonly UserConfig[]): Promise<Map<string, User>> {
  const out = new Map<string, User>();
  for (const u of list) {
    const hash = u.passwordHash ?? (u.password !== undefined ? await hashPassword(u.password) : undefined);
    if (!hash) throw new Error(`User "${u.username}" has neither password nor passwordHash`);
    out.set(u.username, { username: u.username, passwordHash: hash, groups: u.groups ?? [] });
  }
  return out;
}
