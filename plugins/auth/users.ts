/**
 * Users and their password hashes, checked in constant time: scrypt (`scrypt:N:r:p:salt:hash`) by
 * default, PBKDF2-HMAC-SM3 (`pbkdf2-sm3:iterations:salt:hash`) under the national-crypto profile;
 * salt and hash in base64. A stored hash of either kind verifies whatever the profile, so switching
 * profiles does not lock anyone out.
 *
 * @module
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { hmacSm3Prf, pbkdf2 } from "./pbkdf2.ts";

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

/** How new passwords are hashed. */
export type HashScheme = "scrypt" | "pbkdf2-sm3";

const N = 16384, R = 8, P = 1, KEYLEN = 32;
/** PBKDF2-SM3 iterations for new hashes: SM3 runs in JavaScript here, far slower than native SHA-256. */
export const SM3_ITERATIONS = 10_000;

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
const utf8 = (s: string) => new TextEncoder().encode(s);

/** Hashes a password with a fresh salt. */
export async function hashPassword(password: string, scheme: HashScheme = "scrypt"): Promise<string> {
  const salt = randomBytes(16);
  if (scheme === "pbkdf2-sm3") {
    const key = await pbkdf2(hmacSm3Prf(utf8(password)), salt, SM3_ITERATIONS, KEYLEN);
    return `pbkdf2-sm3:${SM3_ITERATIONS}:${b64(salt)}:${b64(key)}`;
  }
  return `scrypt:${N}:${R}:${P}:${b64(salt)}:${b64(await derive(password, salt, N, R, P))}`;
}

/** Checks a password against a stored hash of either scheme. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split(":");
  let expected: Uint8Array, got: Uint8Array;
  if (parts[0] === "scrypt" && parts.length === 6) {
    const [, n, r, p, salt, hash] = parts;
    expected = unb64(hash);
    got = await derive(password, unb64(salt), Number(n), Number(r), Number(p));
  } else if (parts[0] === "pbkdf2-sm3" && parts.length === 4) {
    const [, iterations, salt, hash] = parts;
    expected = unb64(hash);
    got = await pbkdf2(hmacSm3Prf(utf8(password)), unb64(salt), Number(iterations), expected.length);
  } else {
    return false;
  }
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** Turns a configured user into a stored one, hashing a plain password. */
export async function toUser(u: UserConfig, scheme: HashScheme = "scrypt"): Promise<User> {
  const hash = u.passwordHash ??
    (u.password !== undefined ? await hashPassword(u.password, scheme) : undefined);
  if (!hash) throw new Error(`User "${u.username}" has neither password nor passwordHash`);
  return { username: u.username, passwordHash: hash, groups: u.groups ?? [] };
}

/** Turns configured users into stored users, hashing plain passwords. */
export async function toUsers(
  list: readonly UserConfig[],
  scheme: HashScheme = "scrypt",
): Promise<Map<string, User>> {
  const out = new Map<string, User>();
  for (const u of list) out.set(u.username, await toUser(u, scheme));
  return out;
}
