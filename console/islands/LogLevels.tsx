/**
 * The log level of each plugin, changed at run time; the new level applies at once.
 *
 * @module
 */
/// <reference lib="dom" />
import { useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { useT } from "../lib/i18n.ts";
import { describeError } from "../lib/problem.ts";
import { LOG_LEVELS as LEVELS, type LogLevel } from "../lib/types.ts";

export default function LogLevels({ levels: initial }: { levels: Record<string, LogLevel> }) {
  const t = useT();
  const [levels, setLevels] = useState(initial);
  const [status, setStatus] = useState<{ plugin: string; text: string; error?: boolean } | null>(null);

  async function change(plugin: string, level: LogLevel) {
    try {
      const r = await api<{ plugin: string; level: LogLevel }>(`/logs/levels/${encodeURIComponent(plugin)}`, {
        method: "PUT",
        body: { level },
      });
      setLevels({ ...levels, [plugin]: r.level });
      setStatus({ plugin, text: t("logs.levelSet", { plugin, level: r.level }) });
    } catch (err) {
      setStatus({ plugin, text: describeError(t, err), error: true });
    }
  }

  const plugins = Object.keys(levels).sort();
  return (
    <div class="stack">
      <ul class="level-list">
        {plugins.map((p) => (
          <li key={p} class="field field-row">
            <label for={`level-${p}`}>{p}</label>
            <select
              id={`level-${p}`}
              value={levels[p]}
              onChange={(e) => change(p, e.currentTarget.value as LogLevel)}
            >
              {LEVELS.map((l) => <option key={l} value={l}>{l}</option>)}
            </select>
          </li>
        ))}
      </ul>
      <p class={status?.error ? "field-error" : "muted"} role="status">{status?.text ?? ""}</p>
    </div>
  );
}
