/**
 * Chart.js with only the parts the console draws (lines and bars), and the page's theme colours for it.
 * Loaded with a dynamic import so pages without charts, and the server, never load it.
 *
 * @module
 */
/// <reference lib="dom" />
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
);

export { Chart };

/** A CSS colour variable resolved to rgb(), since the canvas cannot read `light-dark()`. */
export function cssColor(variable: string, alpha = 1): string {
  const probe = document.createElement("span");
  probe.style.color = `var(${variable})`;
  probe.hidden = true;
  document.body.append(probe);
  const rgb = getComputedStyle(probe).color;
  probe.remove();
  return alpha === 1 ? rgb : rgb.replace(/^rgb\((.*)\)$/, `rgba($1, ${alpha})`);
}

/** Axis, grid and text colours shared by every chart. */
export function baseOptions() {
  const text = cssColor("--muted"), grid = cssColor("--border");
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false as const,
    color: text,
    scales: {
      x: { ticks: { color: text, maxTicksLimit: 6, autoSkip: true }, grid: { color: grid } },
      y: { beginAtZero: true, ticks: { color: text, precision: 0 }, grid: { color: grid } },
    },
  };
}
