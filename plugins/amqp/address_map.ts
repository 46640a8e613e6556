/**
 * AMQP addresses <-> core destinations: `queue://name`, `topic://name`, and bare names meaning the
 * configured default kind. Names use the core form ("a.b.c", "*" and ">" wildcards on topics), the
 * same names MQTT (`a/b/c`) and STOMP (`/topic/a.b.c`) clients see.
 *
 * @module
 */
import type { DestinationKind } from "../../mod.ts";

/** A parsed address. */
export interface AmqpAddress {
  kind: DestinationKind;
  name: string;
}

/** Parses an attach address; undefined when empty. */
export function parseAddress(
  address: string | undefined,
  defaultKind: DestinationKind,
): AmqpAddress | undefined {
  if (!address) return undefined;
  if (address.startsWith("queue://")) return { kind: "queue", name: address.slice(8) };
  if (address.startsWith("topic://")) return { kind: "topic", name: address.slice(8) };
  return { kind: defaultKind, name: address };
}

/** The address a core destination has on the wire. */
export function formatAddress(kind: DestinationKind, name: string): string {
  return `${kind}://${name}`;
}
