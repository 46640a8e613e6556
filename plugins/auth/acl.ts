/**
 * ACL rules, first match wins, in the order given; no match falls to the default. For a wildcard
 * subscription an allow rule matches only when it covers every destination the subscription can
 * match ("a.>" covers "a.*.b"; "a.*" does not cover "a.>"), and a deny rule matches as soon as it
 * overlaps one ("a.secret.>" denies a subscription to "a.>"): a subscriber must never receive what an
 * earlier rule denies it. For a plain destination both come to the same thing. Rules are split into
 * levels once, when the plugin starts.
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

/** A rule ready to evaluate. */
export interface CompiledRule {
  readonly allow: boolean;
  readonly levels: readonly string[];
  /** The pattern names the user (%u): levels are filled in per principal. */
  readonly perUser: boolean;
  readonly users?: ReadonlySet<string>;
  readonly groups?: readonly string[];
  readonly actions?: ReadonlySet<Action>;
}

/** Splits each rule's pattern into levels. */
export function compileRules(rules: readonly AclRule[]): CompiledRule[] {
  return rules.map((r) => ({
    allow: r.allow,
    levels: r.pattern.split("."),
    perUser: r.pattern.includes("%u"),
    users: r.users && new Set(r.users),
    groups: r.groups,
    actions: r.actions && new Set(r.actions),
  }));
}

// Wildcards in the first level never match "$" names ($SYS).
const wildcardMisses = (i: number, level: string) => i === 0 && level.startsWith("$");

function coversLevels(r: readonly string[], t: readonly string[]): boolean {
  for (let i = 0; i < r.length; i++) {
    if (r[i] === ">") return !wildcardMisses(i, t[0]);
    if (i >= t.length || t[i] === ">") return false;
    if (r[i] === "*") {
      if (wildcardMisses(i, t[0])) return false;
      continue;
    }
    if (r[i] !== t[i]) return false;
  }
  return r.length === t.length;
}

function intersectsLevels(x: readonly string[], y: readonly string[]): boolean {
  for (let i = 0;; i++) {
    if (i === x.length || i === y.length) return x.length === y.length;
    const p = x[i], q = y[i];
    const dollar = wildcardMisses(i, p) || wildcardMisses(i, q);
    if (p === ">" || q === ">") return !dollar || p === q;
    if (p === "*" || q === "*") {
      if (dollar && p !== q) return false;
      continue;
    }
    if (p !== q) return false;
  }
}

/** Whether rule pattern `rule` covers destination or pattern `target`. */
export const covers = (rule: string, target: string): boolean =>
  coversLevels(rule.split("."), target.split("."));

/** Whether patterns `a` and `b` can match one same destination. */
export const intersects = (a: string, b: string): boolean => intersectsLevels(a.split("."), b.split("."));

/** The first matching rule's answer, or undefined when none matches. */
export function evaluate(
  rules: readonly CompiledRule[],
  p: Principal,
  action: Action,
  destination: string,
): boolean | undefined {
  const target = destination.split(".");
  for (const rule of rules) {
    if (rule.actions && !rule.actions.has(action)) continue;
    if (rule.users && !rule.users.has(p.id)) continue;
    if (rule.groups && !rule.groups.some((g) => p.groups?.includes(g))) continue;
    // Per level, so a "." in a user name cannot reach into other levels.
    const levels = rule.perUser ? rule.levels.map((l) => l.replaceAll("%u", p.id)) : rule.levels;
    if (rule.allow ? coversLevels(levels, target) : intersectsLevels(levels, target)) return rule.allow;
  }
  return undefined;
}
