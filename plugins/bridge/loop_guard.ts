/**
 * Loop prevention for bridges. A forwarded message carries the application property `ferrymq_via`: the
 * ids of the nodes it has left through a bridge, comma-separated, oldest first ("east,west"). A bridge
 * never forwards a message whose list holds its own node id (it has been here before) or its peer's (it
 * came from there), so brokers bridged both ways on one destination pass each message once and stop.
 *
 * @example
 * ```ts
 * import { mayForward, stamp, viaOf } from "./loop_guard.ts";
 * const via = viaOf({ ferrymq_via: "east" });
 * mayForward(via, "west", "east"); // false: it came from east
 * stamp(via, "west"); // "east,west"
 * ```
 *
 * @module
 */
import type { PropertyValue } from "../../mod.ts";

/** The application property holding the route. A selector identifier, so queue sources can filter on it. */
export const VIA = "ferrymq_via";

/** The node ids a message has passed through, from its properties. */
export function viaOf(properties: Readonly<Record<string, PropertyValue>>): readonly string[] {
  const v = properties[VIA];
  return typeof v === "string" && v !== "" ? v.split(",") : [];
}

/** Whether a message with route `via` may go from node `self` to node `peer` (undefined: not known yet). */
export function mayForward(via: readonly string[], self: string, peer: string | undefined): boolean {
  return !via.includes(self) && (peer === undefined || !via.includes(peer));
}

/** The route a forwarded message carries: `via` and then `self`. */
export function stamp(via: readonly string[], self: string): string {
  return via.length === 0 ? self : `${via.join(",")},${self}`;
}

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;
const like = (s: string) => s.replace(/[!%_]/g, "!$&");

/**
 * A selector that passes messages whose route holds none of `nodes`: a queue source's consumer leaves
 * them in the queue for local consumers instead of taking and dropping them.
 *
 * @example
 * ```ts
 * excludeSelector(["a"]);
 * // "ferrymq_via IS NULL OR NOT (ferrymq_via = 'a' OR ferrymq_via LIKE 'a,%' ESCAPE '!' OR ...)"
 * ```
 */
export function excludeSelector(nodes: readonly string[]): string {
  const terms = nodes.flatMap((n) => [
    `${VIA} = ${quote(n)}`,
    `${VIA} LIKE ${quote(`${like(n)},%`)} ESCAPE '!'`,
    `${VIA} LIKE ${quote(`%,${like(n)}`)} ESCAPE '!'`,
    `${VIA} LIKE ${quote(`%,${like(n)},%`)} ESCAPE '!'`,
  ]);
  return `${VIA} IS NULL OR NOT (${terms.join(" OR ")})`;
}
