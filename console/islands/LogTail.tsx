/**
 * The live log: the last records from the API, then each new one as the event stream brings it, with
 * a minimum level, a plugin filter and a pause that keeps the view still while reading.
 *
 * @module
 */
/// <reference lib="dom" />
import { useSignal } from "@preact/signals";
import { useState } from "preact/hooks";
import { EmptyState } from "../components/EmptyState.tsx";
import { LiveBadge } from "../components/LiveBadge.tsx";
import { formatTime } from "../lib/format.ts";
import { useT } from "../lib/i18n.ts";
import { useLiveEvents } from "../lib/live.ts";
import { LOG_LEVELS as LEVELS, type LogLevel, type LogRecord } from "../lib/types.ts";

const KEEP = 1000;

export default function LogTail({ initial }: { initial: LogRecord[] }) {
  const t = useT();
  const records = useSignal(initial.slice(-KEEP));
  const [minLevel, setMinLevel] = useState<LogLevel>("debug");
  const [plugin, setPlugin] = useState("");
  const [paused, setPaused] = useState(false);
  const held = useSignal<LogRecord[]>([]);

  const live = useLiveEvents({
    log(data) {
      const r = data as LogRecord;
      if (paused) held.value = [...held.value, r].slice(-KEEP);
      else records.value = [...records.value, r].slice(-KEEP);
    },
  });

  function resume() {
    records.value = [...records.value, ...held.value].slice(-KEEP);
    held.value = [];
    setPaused(false);
  }

  const plugins = [...new Set(records.value.map((r) => r.plugin))].sort();
  const min = LEVELS.indexOf(minLevel);
  const shown = records.value.filter((r) =>
    LEVELS.indexOf(r.level) >= min && (!plugin || r.plugin === plugin)
  );
  return (
    <div class="stack">
      <div class="toolbar">
        <div class="row">
          <div class="field">
            <label for="log-level">{t("logs.minLevel")}</label>
            <select
              id="log-level"
              value={minLevel}
              onChange={(e) => setMinLevel(e.currentTarget.value as LogLevel)}
            >
              {LEVELS.map((l) => <option key={l} value={l}>{l}</option>)}
            </select>
          </div>
          <div class="field">
            <label for="log-plugin">{t("logs.plugin")}</label>
            <select id="log-plugin" value={plugin} onChange={(e) => setPlugin(e.currentTarget.value)}>
              <option value="">{t("logs.allPlugins")}</option>
              {plugins.map((p) => <option key={p} value={p}>{p}</option>)}
            </select>
          </div>
        </div>
        <div class="row">
          <LiveBadge state={live.value} />
          <button
            type="button"
            class="btn"
            aria-pressed={paused}
            onClick={() => paused ? resume() : setPaused(true)}
          >
            {paused ? t("logs.resume", { count: held.value.length }) : t("logs.pause")}
          </button>
          <button type="button" class="btn btn-ghost" onClick={() => records.value = []}>
            {t("logs.clear")}
          </button>
        </div>
      </div>
      {shown.length === 0
        ? <EmptyState title={t("logs.empty")} />
        : (
          <div class="log" role="log" aria-label={t("logs.tail")} tabIndex={0}>
            {shown.map((r, i) => (
              <div key={`${r.t}:${i}`} class={`log-line level-${r.level}`}>
                <time>{formatTime(r.t)}</time>
                <span class="log-level">{r.level}</span>
                <span class="log-plugin">{r.plugin}</span>
                <span class="log-msg">
                  {r.msg}
                  {r.fields && Object.keys(r.fields).length > 0 && (
                    <span class="muted">{JSON.stringify(r.fields)}</span>
                  )}
                </span>
              </div>
            ))}
          </div>
        )}
    </div>
  );
}
