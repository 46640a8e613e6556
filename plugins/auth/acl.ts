/**
 * ACL rules, first match wins, in the order given; no match falls to the default. For a wildcard
 * subscription an allow rule matches only when it covers every destination the subscription can
 * match ("a.>" covers "a.*.b"; "a.*" does not cover "a.>"), and a deny rule matches as soon as it
 * overlaps one ("a.secret.>" denies a subscription to "a.>"): a subscriber must never receive what an
 * earlier rule denies it. For a plain destination both come to the same thing.
 *
 * @module
 */
import type { Action, Principal } from "../../mod.ts";

/** One rule as configured. */
export interface AclRule {
  allow: boolean;
  pattern: string;
  users?: string[];
  groups?: string[];
  actions?: Action[];
}

/** Whether rule pattern `rule` covers destination or pattern `target`. */
export function covers(rule: string, target: string): boolean {
  const r = rule.split("."), t = target.split(".");
  for (let i = 0; i < r.length; i++) {
    if (r[i] === ">") return !(i === 0 && t[0].startsWith("$"));
    if (i >= t.length) return false;
    if (t[i] === ">") return false;
    if (r[i] === "*") {
      if (i === 0 && t[0].startsWith("$")) return false;
      continue;
    }
    if (r[i] !== t[i]) return false;
  }
  return r.length === t.length;
}

/** Whether patterns `a` and `b` can match one same destination. */
export function intersects(a: string, b: string): boolean {
  const x = a.split("."), y = b.split(".");
  for (let i = 0;; i++) {
    if (i === x.length || i === y.length) return x.length === y.length;
    const p = x[i], q = y[i];
    // Wildcards in the first level never match "$" names ($SYS), as in covers().
    const dollar = i === 0 && (p.startsWith("$") || q.startsWith("$"));
    if (p === ">" || q === ">") return !dollar || p === q;
    if (p === "*" || q === "*") {
      if (dollar && p !== q) return false;
      continue;
    }
    if (p !== q) return false;
  }
}

/** The first matching rule's answer, or undefined when none matches. */
export function evaluate(
  rules: readonly AclRule[],
  p: Principal,
  action: Action,
  destination: string,
): boolean | undefined {
  for (const rule of rules) {
    if (rule.actions && !rule.actions.includes(action)) continue;
    if (rule.users && !rule.users.includes(p.id)) continue;
    if (rule.groups && !rule.groups.some((g) => p.groups?.includes(g))) continue;
    const pattern = rule.pattern.replaceAll("%u", p.id);
    if (rule.allow ? covers(pattern, destination) : intersects(pattern, destination)) return rule.allow;
  }
  return undefined;
}
