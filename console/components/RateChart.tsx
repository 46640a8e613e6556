/**
 * The 5-minute trend of enqueue and dequeue rates (messages/s, one point a second), drawn with
 * Chart.js once the page is in the browser; the server renders the frame and a text summary.
 *
 * @module
 */
/// <reference lib="dom" />
import { useEffect, useRef } from "preact/hooks";
import { formatClock, formatNumber } from "../lib/format.ts";
import { useT } from "../lib/i18n.ts";
import type { SeriesPoint } from "../lib/types.ts";

export function RateChart({ points }: { points: SeriesPoint[] }) {
  const t = useT();
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<import("chart.js").Chart | null>(null);
  const last = points.at(-1);
  const summary = t("dashboard.rateSummary", {
    in: formatNumber(last?.enqueueRate ?? 0, 1),
    out: formatNumber(last?.dequeueRate ?? 0, 1),
  });

  useEffect(() => {
    let dead = false;
    const labels = points.map((p) => formatClock(p.t));
    const enq = points.map((p) => p.enqueueRate), deq = points.map((p) => p.dequeueRate);
    if (chart.current) {
      chart.current.data.labels = labels;
      chart.current.data.datasets[0].data = enq;
      chart.current.data.datasets[1].data = deq;
      chart.current.update("none");
      return;
    }
    import("../lib/charts.ts").then(({ Chart, cssColor, baseOptions }) => {
      if (dead || !canvas.current || chart.current) return;
      const series = (label: string, color: string) => ({
        label,
        data: [] as number[],
        borderColor: cssColor(color),
        backgroundColor: cssColor(color, 0.12),
        fill: true,
        pointRadius: 0,
        borderWidth: 2,
        tension: 0.25,
      });
      chart.current = new Chart(canvas.current, {
        type: "line",
        data: {
          labels,
          datasets: [
            { ...series(t("dashboard.enqueueRate"), "--chart-1"), data: enq },
            { ...series(t("dashboard.dequeueRate"), "--chart-2"), data: deq },
          ],
        },
        options: { ...baseOptions(), interaction: { mode: "index", intersect: false } },
      });
    });
    return () => dead = true;
  }, [points]);

  useEffect(() => () => chart.current?.destroy(), []);

  return (
    <figure class="chart">
      <div class="chart-box">
        <canvas ref={canvas} role="img" aria-label={`${t("dashboard.trendTitle")}: ${summary}`} />
      </div>
      <figcaption class="chart-caption" data-testid="rate-summary">{summary}</figcaption>
    </figure>
  );
}
