/**
 * AMQP addresses <-> core destinations: `queue://name`, `topic://name`, and bare names meaning the
 * configured default kind. Names use the core form ("a.b.c", "*" and ">" wildcards on topics), the
 * same names MQTT (`a/b/c`) and STOMP (`/topic/a.b.c`) clients see. The prefixed forms are the core's
 * reply addresses (`formatReplyTo`), so a reply-to goes out as it is held.
 *
 * @module
 */
import { type DestinationKind, formatReplyTo, parseReplyTo } from "../../mod.ts";

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
  return parseReplyTo(address) ?? { kind: defaultKind, name: address };
}

/** The address a core destination has on the wire. */
export const formatAddress: (kind: DestinationKind, name: string) => string = formatReplyTo;

/** A message's reply-to -> the core's reply address (a bare name is of the default kind). */
export function replyToAddress(
  replyTo: string | undefined,
  defaultKind: DestinationKind,
): string | undefined {
  const a = parseAddress(replyTo, defaultKind);
  return a && formatAddress(a.kind, a.name);
}
