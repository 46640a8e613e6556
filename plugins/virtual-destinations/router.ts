/**
 * Looks up the forwarding routes for a published message and makes the copies. Literal sources are
 * one map lookup; pattern sources are matched once per destination and cached, so a destination
 * with no routes costs a map hit on the publish path.
 *
 * @module
 */
import type { DestinationKind, Message, MessageInit, PropertyValue } from "../../mod.ts";
import type { Route } from "./config.ts";

/** Annotation counting forwarding hops (loop guard). */
export const HOPS = "vd.hops";
/** Annotation naming the destination a copy was forwarded from. */
export const FROM = "vd.from";

const EMPTY: readonly Route[] = Object.freeze([]);
const CACHE_MAX = 10_000;

/**
 * True when `name` matches `pattern` ("*" one level, ">" zero or more trailing levels); names whose
 * first level starts with "$" are not matched by a first-level wildcard.
 */
export function matches(pattern: string, name: string): boolean {
  if (pattern === name) return true;
  const p = pattern.split("."), n = name.split(".");
  if ((p[0] === "*" || p[0] === ">") && n[0].startsWith("$")) return false;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return true;
    if (i >= n.length || (p[i] !== "*" && p[i] !== n[i])) return false;
  }
  return p.length === n.length;
}

/** The compiled route table. */
export class Router {
  #literal: Record<DestinationKind, Map<string, Route[]>> = { queue: new Map(), topic: new Map() };
  #patterns: Route[] = [];
  #cache: Record<DestinationKind, Map<string, readonly Route[]>> = { queue: new Map(), topic: new Map() };

  /** Replaces every route (a configuration change). */
  set(routes: readonly Route[]): void {
    const literal: Record<DestinationKind, Map<string, Route[]>> = { queue: new Map(), topic: new Map() };
    const patterns: Route[] = [];
    for (const r of routes) {
      if (r.literal) {
        const list = literal[r.kind].get(r.source) ?? [];
        list.push(r);
        literal[r.kind].set(r.source, list);
      } else patterns.push(r);
    }
    this.#literal = literal;
    this.#patterns = patterns;
    this.#cache = { queue: new Map(), topic: new Map() };
  }

  /** Routes whose source matches a message sent to `destination` of `kind`. */
  lookup(kind: DestinationKind, destination: string): readonly Route[] {
    const cache = this.#cache[kind];
    const hit = cache.get(destination);
    if (hit !== undefined) return hit;
    let out: Route[] | undefined = this.#literal[kind].get(destination)?.slice();
    for (const r of this.#patterns) {
      if (r.kind === kind && matches(r.source, destination)) (out ??= []).push(r);
    }
    const result = out ?? EMPTY;
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(destination, result);
    return result;
  }
}

/** The copies `routes` make of `m`, and whether the original should be dropped. */
export function forward(
  m: Message,
  routes: readonly Route[],
  hops: number,
): { copies: MessageInit[]; forwardOnly: boolean } {
  const copies: MessageInit[] = [];
  let forwardOnly = false;
  for (const r of routes) {
    if (r.filter !== undefined && !r.filter(m)) continue;
    if (r.forwardOnly) forwardOnly = true;
    for (const t of r.targets) {
      if (t.filter !== undefined && !t.filter(m)) continue;
      const dest = t.templated ? t.destination.replaceAll("{destination}", m.destination) : t.destination;
      if (dest === m.destination && t.kind === m.kind) continue;
      copies.push(copyOf(m, dest, t.kind, hops + 1));
    }
  }
  return { copies, forwardOnly };
}

function copyOf(m: Message, destination: string, kind: DestinationKind, hops: number): MessageInit {
  const annotations: Record<string, PropertyValue> = {
    ...m.annotations,
    [HOPS]: hops,
    [FROM]: m.destination,
  };
  return {
    destination,
    kind,
    body: m.body,
    properties: m.properties as Record<string, PropertyValue>,
    priority: m.priority,
    persistent: m.persistent,
    expiresAt: m.expiresAt === 0 ? undefined : m.expiresAt,
    deliverAt: m.deliverAt === 0 ? undefined : m.deliverAt,
    groupId: m.groupId,
    correlationId: m.correlationId,
    replyTo: m.replyTo,
    subject: m.subject,
    contentType: m.contentType,
    annotations,
  };
}
