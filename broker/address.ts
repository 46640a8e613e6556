/**
 * The one internal destination form: levels separated by ".", "*" as a whole level matches exactly
 * one level, ">" as the last level matches zero or more levels; levels may be empty ("a..b"). Names whose first level starts with
 * "$" are not matched by a wildcard in the first level ([MQTT-4.7.2-1], applied to every protocol).
 *
 * @module
 */
import { BrokerError } from "./errors.ts";
import type { DestinationKind } from "./message.ts";

export const SEPARATOR = ".";
export const ONE = "*";
export const REST = ">";

/** Size limits for names and patterns. */
export interface AddressLimits {
  maxLength: number;
  maxLevels: number;
}
export const DEFAULT_ADDRESS_LIMITS: AddressLimits = Object.freeze({ maxLength: 1024, maxLevels: 64 });

const DOT = 46, STAR = 42, GT = 62;

// One pass over the characters: control characters, wildcard levels, limits.
function check(s: string, limits: AddressLimits, pattern: boolean, verb: string): void {
  if (typeof s !== "string" || s.length === 0) {
    throw new BrokerError("invalid_destination", `Cannot ${verb} "${s}": the name is empty`);
  }
  if (s.length > limits.maxLength) {
    throw new BrokerError(
      "invalid_destination",
      `Cannot ${verb} "${s.slice(0, 40)}...": longer than ${limits.maxLength} characters`,
    );
  }
  let levels = 1, start = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i === s.length ? DOT : s.charCodeAt(i);
    if (c === DOT) {
      // Empty levels are legal, as in MQTT ("/a//b"); only a wholly empty name is not.
      if (i - start === 1) {
        const w = s.charCodeAt(start);
        if (w === STAR || w === GT) {
          if (!pattern) {
            throw new BrokerError(
              "invalid_destination",
              `Cannot ${verb} "${s}": wildcard "${s[start]}" in a name`,
            );
          }
          if (w === GT && i !== s.length) {
            throw new BrokerError("invalid_destination", `Cannot ${verb} "${s}": ">" must be the last level`);
          }
        }
      }
      if (i !== s.length && ++levels > limits.maxLevels) {
        throw new BrokerError(
          "invalid_destination",
          `Cannot ${verb} "${s}": more than ${limits.maxLevels} levels`,
        );
      }
      start = i + 1;
    } else if (c < 32 || c === 127) {
      throw new BrokerError("invalid_destination", `Cannot ${verb} "${s}": control character at ${i}`);
    }
  }
}

/** Validates a publish or queue name: no empty level, no wildcard level, no control characters. */
export function validateName(name: string, limits: AddressLimits = DEFAULT_ADDRESS_LIMITS): void {
  check(name, limits, false, "use destination");
}

/** Validates a subscription pattern: like names, with "*" levels and a final ">" level allowed. */
export function validatePattern(pattern: string, limits: AddressLimits = DEFAULT_ADDRESS_LIMITS): void {
  check(pattern, limits, true, "subscribe to");
}

/** Whether `s` has a wildcard level. */
export function isPattern(s: string): boolean {
  return s === ONE || s === REST || s.startsWith("*.") || s.startsWith(">.") || s.includes(".*.") ||
    s.endsWith(".*") || s.endsWith(".>");
}

/** Linear reference matcher: does `pattern` match `name`? */
export function matchesPattern(pattern: string, name: string): boolean {
  const p = pattern.split(SEPARATOR), n = name.split(SEPARATOR);
  for (let i = 0; i < p.length; i++) {
    const t = p[i];
    if (t === REST) return !(i === 0 && n[0].startsWith("$"));
    if (i >= n.length) return false;
    if (t === ONE) {
      if (i === 0 && n[0].startsWith("$")) return false;
      continue;
    }
    if (t !== n[i]) return false;
  }
  return p.length === n.length;
}

/**
 * A reply address (`Message.replyTo`): a destination kind and a name in the core form, written
 * `queue://<name>` or `topic://<name>`. One string, so stores, selectors (`JMSReplyTo`) and the admin API
 * carry it as they carry any header; each protocol translates it to and from its own wire form with the
 * mapping it uses for destinations.
 */
export function formatReplyTo(kind: DestinationKind, name: string): string {
  return `${kind}://${name}`;
}

/**
 * The kind and name of a reply address; undefined when `replyTo` begins with neither `queue://` nor `topic://`.
 */
export function parseReplyTo(replyTo: string): { kind: DestinationKind; name: string } | undefined {
  if (replyTo.startsWith("queue://")) return { kind: "queue", name: replyTo.slice(8) };
  if (replyTo.startsWith("topic://")) return { kind: "topic", name: replyTo.slice(8) };
  return undefined;
}
