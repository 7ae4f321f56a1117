// Formatting shared by every page: numbers, durations, sizes, times.

/** A number as people read it: 6 significant digits, no float noise, exponent for tiny/huge. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return "";
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return value.toLocaleString("en-US");
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e9)) return value.toExponential(3);
  return String(Number(value.toPrecision(6)));
}

/** "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min", "3 d 4 h". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "";
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, "0")} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** "512 B", "1.5 KiB", "3.2 GiB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "";
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${UNITS[unit]}`;
}

/** Milliseconds since the epoch of an ISO time from the API (naive times are UTC). */
export function parseTime(value: string | null | undefined): number | null {
  if (!value) return null;
  const hasZone = /([zZ]|[+-]\d\d:?\d\d)$/.test(value);
  const ms = Date.parse(hasZone ? value : `${value}Z`);
  return Number.isNaN(ms) ? null : ms;
}

/** "2026-11-28 05:31:07" in UTC. */
export function formatTime(value: string | number | null | undefined): string {
  const ms = typeof value === "number" ? value : parseTime(value);
  if (ms === null || ms === undefined) return "";
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

/** "just now", "5 min ago", "3 h ago", "2 d ago" relative to `now`. */
export function formatAgo(value: string | number | null | undefined, now: number = Date.now()): string {
  const ms = typeof value === "number" ? value : parseTime(value);
  if (ms === null || ms === undefined) return "";
  const s = Math.max(0, (now - ms) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400 * 2) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** Duration between two API times (end defaults to now, for running things). */
export function elapsed(start: string | null | undefined, end?: string | null, now: number = Date.now()): number | null {
  const a = parseTime(start);
  if (a === null) return null;
  const b = end ? parseTime(end) : now;
  return b === null ? null : b - a;
}
