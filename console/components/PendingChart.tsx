/**
 * Pending messages per queue as horizontal bars (names stay readable), the fullest first.
 *
 * @module
 */
/// <reference lib="dom" />
import { useEffect, useRef } from "preact/hooks";
import { useT } from "../lib/i18n.ts";
import type { Destination } from "../lib/types.ts";
import { EmptyState } from "./EmptyState.tsx";

/** Bars beyond this many are left out; the destinations page lists them all. */
const MAX_BARS = 15;

export function PendingChart({ queues }: { queues: Destination[] }) {
  const t = useT();
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<import("chart.js").Chart | null>(null);
  const shown = [...queues].sort((a, b) => b.pending - a.pending).slice(0, MAX_BARS);

  useEffect(() => {
    let dead = false;
    const labels = shown.map((q) => q.name), data = shown.map((q) => q.pending);
    if (shown.length === 0) {
      // The canvas leaves the page with the last queue; a new chart is drawn when queues come back.
      chart.current?.destroy();
      chart.current = null;
      return;
    }
    if (chart.current) {
      chart.current.data.labels = labels;
      chart.current.data.datasets[0].data = data;
      chart.current.update("none");
      return;
    }
    import("../lib/charts.ts").then(({ Chart, cssColor, baseOptions }) => {
      if (dead || !canvas.current || chart.current) return;
      chart.current = new Chart(canvas.current, {
        type: "bar",
        data: {
          labels,
          datasets: [{
            label: t("dashboard.pending"),
            data,
            backgroundColor: cssColor("--chart-3"),
            borderRadius: 3,
            maxBarThickness: 22,
          }],
        },
        options: { ...baseOptions(), indexAxis: "y", plugins: { legend: { display: false } } },
      });
    });
    return () => dead = true;
  }, [queues]);

  useEffect(() => () => chart.current?.destroy(), []);

  if (queues.length === 0) return <EmptyState title={t("dashboard.noQueues")} />;
  return (
    <figure class="chart">
      <div class="chart-box" style={{ height: `${Math.max(120, shown.length * 28 + 40)}px` }}>
        <canvas
          ref={canvas}
          role="img"
          aria-label={t("dashboard.pendingChartLabel", { count: shown.length })}
        />
      </div>
    </figure>
  );
}
