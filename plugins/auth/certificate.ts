/**
 * The user a TLS client certificate names: the CN of its subject, as the listener wrote it (RFC 4514,
 * special characters escaped with a backslash).
 *
 * @module
 */

/**
 * The first CN of an RFC 4514 distinguished name, unescaped; undefined when there is none.
 *
 * @example
 * ```ts
 * import { commonName } from "./certificate.ts";
 * commonName("CN=alice,O=Example\\, Inc."); // "alice"
 * ```
 */
export function commonName(dn: string): string | undefined {
  let i = 0;
  while (i < dn.length) {
    const eq = dn.indexOf("=", i);
    if (eq < 0) return undefined;
    const type = dn.slice(i, eq).trim();
    let value = "";
    let j = eq + 1;
    for (; j < dn.length && dn[j] !== "," && dn[j] !== "+"; j++) {
      if (dn[j] === "\\" && j + 1 < dn.length) j++;
      value += dn[j];
    }
    if (type.toUpperCase() === "CN") return value;
    i = j + 1;
  }
  return undefined;
}
