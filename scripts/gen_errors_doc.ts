/**
 * Writes docs/errors.md from broker/errors.ts (`--check` fails when the file is stale).
 *
 * @module
 */
import { ERROR_CODES } from "../broker/errors.ts";

const rows = Object.entries(ERROR_CODES).map(([code, meaning]) => `| \`${code}\` | ${meaning} |`);
const text = `# Error codes

Generated from \`broker/errors.ts\` by \`deno run -A scripts/gen_errors_doc.ts\`; do not edit by hand.

Every failure a client or a plugin author sees carries one of these stable codes
(\`BrokerError.code\`, \`Reject.code\`). Each protocol plugin maps them to its wire form; see the
plugin's README for its table (MQTT reason codes, AMQP conditions, STOMP ERROR headers, HTTP problem
types).

| code | meaning |
| --- | --- |
${rows.join("\n")}
`;
const path = new URL("../docs/errors.md", import.meta.url);
if (Deno.args.includes("--check")) {
  const current = await Deno.readTextFile(path).catch(() => "");
  // deno fmt pads the table: compare without layout.
  const bare = (s: string) => s.replace(/\s+/g, "").replace(/-+/g, "-");
  if (bare(current) !== bare(text)) {
    // deno-lint-ignore no-console
    console.error("docs/errors.md is stale: run deno run -A scripts/gen_errors_doc.ts");
    Deno.exit(1);
  }
} else {
  await Deno.writeTextFile(path, text);
}
