/**
 * MQTT topic names and filters <-> the core's address form. Level separators swap ("/" <-> ".") and so
 * does a literal "." inside a level ("." <-> "/"), as ActiveMQ does, so every MQTT topic round-trips and
 * STOMP/AMQP users see `a/b/c` as `a.b.c`. Wildcards: "+" <-> "*", "#" <-> ">".
 *
 * @module
 */
import { type Reject, validateName, validatePattern } from "../../mod.ts";

const SLASH = 47, DOT = 46, PLUS = 43, HASH = 35, STAR = 42, GT = 62;

function swap(s: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === SLASH || c === DOT) {
      out += s.slice(from, i) + (c === SLASH ? "." : "/");
      from = i + 1;
    }
  }
  return from === 0 ? s : out + s.slice(from);
}

/** An MQTT topic name -> a core name, or a Reject for wildcards and empty names [MQTT-3.3.2-2]. */
export function topicToAddress(topic: string): string | Reject {
  if (topic.length === 0) return { code: "invalid_destination", reason: "Topic name is empty" };
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === PLUS || c === HASH) {
      return { code: "invalid_destination", reason: `Topic name "${topic}" contains a wildcard` };
    }
    if (c === 0) return { code: "invalid_destination", reason: "Topic name contains U+0000" };
  }
  const addr = swap(topic);
  // A level that is exactly "*" or ">" would be a core wildcard: such topics cannot be published.
  try {
    validateName(addr);
  } catch (e) {
    return { code: "invalid_destination", reason: (e as Error).message };
  }
  return addr;
}

/** An MQTT topic filter -> a core pattern; checks "+" and "#" placement [MQTT-4.7.1-1, 4.7.1-2]. */
export function filterToPattern(filter: string): string | Reject {
  if (filter.length === 0) return { code: "invalid_destination", reason: "Topic filter is empty" };
  const levels = filter.split("/");
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    if (l.includes("#") && (l !== "#" || i !== levels.length - 1)) {
      return {
        code: "invalid_destination",
        reason: `Topic filter "${filter}": "#" must be a whole last level`,
      };
    }
    if (l.includes("+") && l !== "+") {
      return { code: "invalid_destination", reason: `Topic filter "${filter}": "+" must be a whole level` };
    }
    if (l === "*" || l === ">") {
      return { code: "invalid_destination", reason: `Topic filter "${filter}": level "${l}" is reserved` };
    }
  }
  const pattern = levels.map((l) => (l === "+" ? "*" : l === "#" ? ">" : l.replaceAll(".", "/"))).join(".");
  try {
    validatePattern(pattern);
  } catch (e) {
    return { code: "invalid_destination", reason: (e as Error).message };
  }
  return pattern;
}

/** A core name or pattern -> the MQTT form. */
export function addressToTopic(address: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === SLASH || c === DOT) {
      out += address.slice(from, i) + (c === SLASH ? "." : "/");
      from = i + 1;
    } else if ((c === STAR || c === GT) && isWholeLevel(address, i)) {
      out += address.slice(from, i) + (c === STAR ? "+" : "#");
      from = i + 1;
    }
  }
  return from === 0 ? address : out + address.slice(from);
}

function isWholeLevel(s: string, i: number): boolean {
  return (i === 0 || s.charCodeAt(i - 1) === DOT) && (i === s.length - 1 || s.charCodeAt(i + 1) === DOT);
}
