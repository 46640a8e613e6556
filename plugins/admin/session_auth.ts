/**
 * Console login state: opaque session cookies with an idle timeout, a CSRF token per session (sent back
 * in `X-CSRF-Token` on every change), and a per-address limit on failed logins.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { timingSafeEqual } from "node:crypto";
import type { PublicUser } from "./users.ts";

/** The session cookie's name. */
export const COOKIE = "ferrymq_admin";
/** The header a change must carry. */
export const CSRF_HEADER = "x-csrf-token";

/** One logged-in console session. */
export interface ConsoleSession {
  readonly user: PublicUser;
  readonly csrfToken: string;
  lastSeen: number;
  /** Logged out, expired or revoked: what the session started (a live stream) ends too. */
  ended?: boolean;
}

const token = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");

/** Sessions by cookie value. */
export class ConsoleSessions {
  readonly #byToken = new Map<string, ConsoleSession>();
  readonly #idleMs: number;
  readonly #now: () => number;

  /** `now` is the clock (tests pass their own). */
  constructor(idleMs: number, now: () => number = Date.now) {
    this.#idleMs = idleMs;
    this.#now = now;
  }

  /** Starts a session; returns its cookie value. */
  open(user: PublicUser): { cookie: string; session: ConsoleSession } {
    this.sweep();
    const cookie = token();
    const session = { user, csrfToken: token(), lastSeen: this.#now() };
    this.#byToken.set(cookie, session);
    return { cookie, session };
  }

  /** The session of a cookie value and why there is none; a valid one is kept alive. */
  use(cookie: string | undefined): ConsoleSession | "unauthenticated" | "session_expired" {
    const s = cookie === undefined ? undefined : this.#byToken.get(cookie);
    if (s === undefined) return "unauthenticated";
    const now = this.#now();
    if (now - s.lastSeen > this.#idleMs) {
      this.#end(cookie!, s);
      return "session_expired";
    }
    s.lastSeen = now;
    return s;
  }

  expiresAt(s: ConsoleSession): number {
    return s.lastSeen + this.#idleMs;
  }

  close(cookie: string | undefined): void {
    const s = cookie === undefined ? undefined : this.#byToken.get(cookie);
    if (s) this.#end(cookie!, s);
  }

  /** Ends every session of a user (deleted, or password changed elsewhere). */
  closeUser(username: string, except?: ConsoleSession): void {
    for (const [k, s] of this.#byToken) {
      if (s.user.username === username && s !== except) this.#end(k, s);
    }
  }

  /** Forgets sessions idle for more than twice the timeout (kept a while to answer session_expired). */
  sweep(): void {
    const cutoff = this.#now() - 2 * this.#idleMs;
    for (const [k, s] of this.#byToken) if (s.lastSeen < cutoff) this.#end(k, s);
  }

  #end(cookie: string, s: ConsoleSession): void {
    this.#byToken.delete(cookie);
    s.ended = true;
  }
}

/** Failed logins per remote address; locks an address out for the window after too many. */
export class LoginLimiter {
  readonly #failures = new Map<string, { count: number; since: number }>();
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;

  constructor(max: number, windowMs: number, now: () => number = Date.now) {
    this.#max = max;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Milliseconds until `address` may try again; 0 when it may now. */
  retryAfter(address: string): number {
    const f = this.#failures.get(address);
    if (f === undefined) return 0;
    const left = f.since + this.#windowMs - this.#now();
    if (left <= 0) {
      this.#failures.delete(address);
      return 0;
    }
    return f.count >= this.#max ? left : 0;
  }

  /** Counts an attempt as failed; the login route counts each one before checking its password. */
  fail(address: string): void {
    const now = this.#now();
    const f = this.#failures.get(address);
    if (f === undefined || now - f.since > this.#windowMs) {
      if (this.#failures.size >= 10_000) this.#failures.clear(); // bounded under a spray of addresses
      this.#failures.set(address, { count: 1, since: now });
    } else f.count++;
  }

  /**
   * Takes back the one attempt counted for a login that succeeded. Failures of other attempts stay until
   * the window ends: a good login of one account must not clear guesses at another from the same address.
   */
  succeed(address: string): void {
    const f = this.#failures.get(address);
    if (f && --f.count <= 0) this.#failures.delete(address);
  }
}

/** The value of cookie `name` in a Cookie header. */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie value of a session cookie (empty value and Max-Age=0 clears it). */
export function sessionCookie(value: string, secure: boolean): string {
  const clear = value === "" ? "; Max-Age=0" : "";
  return `${COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/${secure ? "; Secure" : ""}${clear}`;
}

/** Compares two strings in time independent of where they differ. */
export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
