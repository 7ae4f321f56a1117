// How many points to ask the server for, and what goes on the x axis.

/** Ask for ~2 points per pixel of the visible range; no more than this in one request. */
export const MAX_POINTS_CAP = 50_000;
/** The API refuses fewer. */
const MIN_POINTS = 3;

/**
 * `max_points` for a chart `width` px wide showing `fraction` (0-1] of the series' x range.
 *
 * The API downsamples the whole series (it takes no step range), so zooming in means asking
 * for more points overall. The zoom is quantised to powers of two and the width to 100 px so
 * that panning and small resizes reuse the answer already fetched.
 */
export function chooseMaxPoints(width: number, fraction = 1, total?: number): number {
  const px = Math.max(100, Math.ceil(Math.max(width, 1) / 100) * 100);
  const f = Number.isFinite(fraction) && fraction > 0 ? Math.min(fraction, 1) : 1;
  const level = Math.ceil(Math.log2(1 / f) - 1e-9);
  let points = 2 * px * 2 ** Math.max(0, level);
  points = Math.min(points, MAX_POINTS_CAP);
  if (total !== undefined && total > 0) points = Math.min(points, Math.max(total, MIN_POINTS));
  return Math.max(MIN_POINTS, points);
}

export type XMode = "step" | "wall" | "relative";

export const X_MODES: [XMode, string][] = [
  ["step", "Step"],
  ["wall", "Wall time"],
  ["relative", "Relative time"],
];

export function parseXMode(value: string | null | undefined, fallback: XMode = "step"): XMode {
  return value === "step" || value === "wall" || value === "relative" ? value : fallback;
}

/**
 * The x value of each point: its step, its time (ms since the epoch) or the seconds since
 * `origin` (the run's start; the series' first point when the run started later than it).
 */
export function xValues(
  history: { steps: readonly number[]; timestamps: readonly number[] },
  mode: XMode,
  origin?: number | null,
): number[] {
  if (mode === "step") return history.steps.slice();
  if (mode === "wall") return history.timestamps.slice();
  let first = Number.POSITIVE_INFINITY;
  for (const t of history.timestamps) if (t < first) first = t;
  if (!Number.isFinite(first)) return [];
  const zero = origin !== null && origin !== undefined && origin <= first ? origin : first;
  return history.timestamps.map((t) => (t - zero) / 1000);
}

/** "45 s", "12 min", "1 h 05 min", "2 d 3 h" for an axis of seconds. */
export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (Math.abs(s) < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 || m >= 10 ? `${m} min` : `${m} min ${String(s % 60).padStart(2, "0")} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, "0")} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** The x range [lo, hi] a zoom given in percent (as ECharts reports it) covers. */
export function percentToRange(extent: [number, number], start: number, end: number): [number, number] {
  const [a, b] = extent;
  return [a + ((b - a) * start) / 100, a + ((b - a) * end) / 100];
}

/** The share (0-1] of `extent` that `range` covers. */
export function rangeFraction(extent: [number, number], range: [number, number] | null): number {
  if (!range) return 1;
  const whole = extent[1] - extent[0];
  if (!(whole > 0)) return 1;
  return Math.min(1, Math.max((range[1] - range[0]) / whole, 1e-6));
}
