/**
 * ACL rules, first match wins, in the order given; no match falls to the default. A rule pattern
 * covers a subscription pattern only when every destination the subscription can match is matched
 * by the rule ("a.>" covers "a.*.b"; "a.*" does not cover "a.>").
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
    if (covers(rule.pattern.replaceAll("%u", p.id), destination)) return rule.allow;
  }
  return undefined;
}
