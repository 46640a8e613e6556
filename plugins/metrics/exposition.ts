/**
 * Prometheus text exposition format 0.0.4: one `# HELP` and `# TYPE` line per family, then its samples.
 *
 * @module
 */

/** Label names and values of one sample. */
export type Labels = Readonly<Record<string, string | number>>;

/** The content type a scraper expects for this format. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

// Label values escape backslash, double quote and newline; HELP text escapes backslash and newline.
const escapeLabel = (v: string) => v.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
const escapeHelp = (v: string) => v.replace(/[\\\n]/g, (c) => c === "\n" ? "\\n" : "\\\\");

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Builds one exposition; families must not repeat (the format allows each name once). */
export class Exposition {
  readonly #lines: string[] = [];
  readonly #names = new Set<string>();

  /** Starts a family; the samples that follow belong to it. */
  family(name: string, type: "counter" | "gauge", help: string): this {
    if (this.#names.has(name)) throw new Error(`metric family ${name} written twice`);
    this.#names.add(name);
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    return this;
  }

  /** One sample of `name` (the family's name, or with a suffix the type allows). */
  sample(name: string, value: number, labels?: Labels): this {
    let series = name;
    if (labels) {
      const parts: string[] = [];
      for (const k in labels) parts.push(`${k}="${escapeLabel(String(labels[k]))}"`);
      if (parts.length) series += `{${parts.join(",")}}`;
    }
    this.#lines.push(`${series} ${formatValue(value)}`);
    return this;
  }

  /** A family with a single unlabelled sample. */
  single(name: string, type: "counter" | "gauge", help: string, value: number): this {
    return this.family(name, type, help).sample(name, value);
  }

  toString(): string {
    return this.#lines.join("\n") + "\n";
  }
}
