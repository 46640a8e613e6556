/**
 * Benchmarks for `broker/selector.ts`: the cost of compiling a typical selector, and of evaluating a
 * compiled one against a message, beside a hand-written predicate as the peer in the same run.
 *
 * Run with `deno bench scripts/bench/selector_bench.ts`.
 *
 * @module
 */
import { compileSelector, type SelectorSource } from "../../broker/selector.ts";

const TYPICAL = "color = 'red' AND weight > 10 OR region LIKE 'eu-%'";
const COMPLEX = "JMSPriority BETWEEN 4 AND 9 AND (kind IN ('order', 'refund', 'invoice') " +
  "OR amount * 1.2 >= 100) AND NOT (region LIKE 'us\\_%' ESCAPE '\\') AND note IS NULL";

const message: SelectorSource = {
  id: "ID:1",
  priority: 5,
  timestamp: 1_700_000_000_000,
  persistent: true,
  redeliveryCount: 0,
  properties: { color: "blue", weight: 12, region: "eu-west-1", kind: "refund", amount: 90 },
};

const typical = compileSelector(TYPICAL);
const complex = compileSelector(COMPLEX);
const handWritten = (m: SelectorSource): boolean => {
  const { color, weight, region } = m.properties;
  return (color === "red" && typeof weight === "number" && weight > 10) ||
    (typeof region === "string" && region.startsWith("eu-"));
};
let sink = false;

Deno.bench("compileSelector() typical selector", { group: "compile", baseline: true }, () => {
  compileSelector(TYPICAL);
});

Deno.bench("compileSelector() complex selector", { group: "compile" }, () => {
  compileSelector(COMPLEX);
});

Deno.bench("hand-written predicate for the typical selector", { group: "match", baseline: true }, () => {
  sink = handWritten(message) !== sink;
});

Deno.bench("selector(message) typical selector", { group: "match" }, () => {
  sink = typical(message) !== sink;
});

Deno.bench("selector(message) complex selector", { group: "match" }, () => {
  sink = complex(message) !== sink;
});
