/**
 * Looks up the forwarding routes for a published message and makes the copies. Sources live in the
 * core's subscription trie (with its literal cache), so a destination with no routes costs one cache
 * hit on the publish path.
 *
 * @module
 */
import {
  type DestinationKind,
  Matcher,
  type Message,
  type MessageInit,
  type PropertyValue,
} from "../../mod.ts";
import type { Route } from "./config.ts";

/** Annotation counting forwarding hops (loop guard). */
export const HOPS = "vd.hops";
/** Annotation naming the destination a copy was forwarded from. */
export const FROM = "vd.from";

/** The compiled route table: one trie per destination kind (the core's matcher, with its cache). */
export class Router {
  #routes: Record<DestinationKind, Matcher<Route>> = { queue: new Matcher(), topic: new Matcher() };

  /** Replaces every route (a configuration change). */
  set(routes: readonly Route[]): void {
    const next: Record<DestinationKind, Matcher<Route>> = { queue: new Matcher(), topic: new Matcher() };
    for (const r of routes) next[r.kind].add(r.source, r);
    this.#routes = next;
  }

  /** Routes whose source matches a message sent to `destination` of `kind`. */
  lookup(kind: DestinationKind, destination: string): readonly Route[] {
    return this.#routes[kind].match(destination);
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
    producerId: m.producerId,
  };
}
