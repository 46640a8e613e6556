/**
 * Number, size, duration and time formatting for tables and cards, the same on server and client.
 *
 * @module
 */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** 1536 -> "1.5 KiB"; null (unknown) -> "–". */
export function formatBytes(n: number | null | undefined): string {
  if (n == null) return "–";
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${UNITS[i]}`;
}

/** Thousands separators for counts; rates keep one decimal. */
export function formatNumber(n: number | null | undefined, decimals = 0): string {
  if (n == null || Number.isNaN(n)) return "–";
  return n.toLocaleString("en-US", { maximumFractionDigits: decimals, minimumFractionDigits: 0 });
}

/** 93784000 -> "1d 2h 3m"; under a minute shows seconds. */
export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  if (d) return `${d}d ${h}h ${m}m`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** An ISO-like local time "2026-11-29 12:35:35"; the same on server and client for a given zone. */
export function formatTime(t: number | null | undefined): string {
  if (t == null) return "–";
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
}

/** "12:35:35", for chart axes. */
export function formatClock(t: number): string {
  return formatTime(t).slice(11);
}
