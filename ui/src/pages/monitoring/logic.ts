// Pure logic of the monitoring tab: periods, what a monitor checks and does in words, the
// drift heatmap (rows, cells, colours), the performance series and the quality problems.
// Unit-tested; no React here.
import type { Schemas } from "../../api/client";
import { formatNumber, parseTime } from "../../format";

export type Monitor = Schemas["Monitor"];
export type WindowResult = Schemas["WindowResult"];
export type ColumnResult = Schemas["ColumnResult"];
export type Alert = Schemas["Alert"];
export type ActionOutcome = Schemas["ActionOutcome"];
type Action = NonNullable<Schemas["MonitorConfig"]["on_alert"]>[number];

// --- the period -------------------------------------------------------------------------

export const PERIODS = [
  { id: "24h", label: "last 24 h", ms: 86_400_000 },
  { id: "7d", label: "last 7 days", ms: 7 * 86_400_000 },
  { id: "30d", label: "last 30 days", ms: 30 * 86_400_000 },
] as const;

export type Period = (typeof PERIODS)[number];

/** The period of `id` (default: the first, the last 24 h). */
export function periodOf(id: string | null): Period {
  return PERIODS.find((p) => p.id === id) ?? PERIODS[0];
}

// --- a monitor in words -----------------------------------------------------------------

/** "drift, quality, performance (auc ≥ 0.8)": what the monitor checks in each window. */
export function checksOf(monitor: Monitor): string {
  const { drift, quality, performance } = monitor.config;
  const parts: string[] = [];
  if (drift) parts.push(drift.method && drift.method !== "auto" ? `drift (${drift.method})` : "drift");
  if (quality) parts.push("quality");
  if (performance) parts.push(`performance (${performanceGoal(performance)})`);
  return parts.length ? parts.join(", ") : "nothing";
}

/** "auc ≥ 0.8", "rmse ≤ 3" or the metric alone when no bound is set. */
export function performanceGoal(performance: Schemas["PerformanceConfig"]): string {
  const { metric } = performance;
  if (performance.min !== null && performance.min !== undefined) return `${metric} ≥ ${formatNumber(performance.min)}`;
  if (performance.max !== null && performance.max !== undefined) return `${metric} ≤ ${formatNumber(performance.max)}`;
  return metric;
}

/** One action of `on_alert` in words: "webhook https://…", "freeze the model". */
export function actionText(action: Action): string {
  const rules = action.rules?.length ? ` (on ${action.rules.join(", ")})` : "";
  switch (action.kind) {
    case "webhook":
      return `POST to ${action.url}${rules}`;
    case "retrain":
      return `fire schedule ${action.schedule}${rules}`;
    case "rollback":
      return `roll @${action.alias ?? "champion"} back${rules}`;
    case "freeze":
      return `freeze the model${rules}`;
  }
}

/** What an alert of `monitor` does, or that it only records the alert. */
export function onAlertText(monitor: Monitor): string[] {
  const actions = monitor.config.on_alert ?? [];
  return actions.length ? actions.map(actionText) : ["records the alert"];
}

// --- drift --------------------------------------------------------------------------------

/** How far a column is from drifting: 1 at the threshold, above 1 drifted. A distance is
 * divided by its threshold; a test's p-value (drifted below the threshold) gives
 * threshold / p-value. */
export function driftSeverity(c: ColumnResult): number {
  if (c.p_value !== null && c.p_value !== undefined) {
    if (c.p_value <= 0) return Number.POSITIVE_INFINITY;
    return c.threshold / c.p_value;
  }
  if (c.threshold <= 0) return c.statistic > 0 ? Number.POSITIVE_INFINITY : 0;
  return c.statistic / c.threshold;
}

function mix(a: [number, number, number], b: [number, number, number], t: number): string {
  const c = a.map((x, i) => Math.round(x + (b[i] - x) * t));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

const CALM: [number, number, number] = [227, 246, 235]; // the "ok" green of status pills
const NEAR: [number, number, number] = [253, 224, 160]; // amber at the threshold
const DRIFT_LOW: [number, number, number] = [245, 165, 165];
const DRIFT_HIGH: [number, number, number] = [190, 30, 40];

/** A cell's background and text colour: green to amber as the severity approaches 1, red
 * and darker from there for drifted columns (whatever the severity says, `drifted` decides
 * the side of the scale, since the service decided it). */
export function driftColor(severity: number, drifted: boolean): { background: string; color: string } {
  const s = Number.isFinite(severity) ? Math.max(0, severity) : 10;
  if (!drifted) return { background: mix(CALM, NEAR, Math.min(1, s)), color: "#1d2430" };
  const t = Math.min(1, Math.max(0, (s - 1) / 2)); // 1 -> light red, 3 and above -> dark red
  return { background: mix(DRIFT_LOW, DRIFT_HIGH, t), color: t > 0.45 ? "#ffffff" : "#1d2430" };
}

/** The tooltip of a cell: column, method, statistic, threshold, p-value, verdict. */
export function driftTitle(c: ColumnResult, window: WindowResult): string {
  const lines = [
    `${c.column} (${c.kind}) · v${window.version}`,
    `window ${shortTime(window.start)} – ${shortTime(window.end)} UTC, ${formatNumber(window.rows)} rows`,
    `method ${c.method}: statistic ${formatStat(c.statistic)}, threshold ${formatStat(c.threshold)}`,
    `p-value ${c.p_value === null || c.p_value === undefined ? "—" : formatStat(c.p_value)}`,
    c.drifted ? "DRIFTED" : "no drift",
  ];
  return lines.join("\n");
}

/** A statistic to 4 significant digits. */
export function formatStat(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (value !== 0 && Math.abs(value) < 1e-4) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

/** "2026-12-07 11:00" (UTC). */
export function shortTime(value: string | number): string {
  const ms = typeof value === "number" ? value : parseTime(value);
  return ms === null ? "" : new Date(ms).toISOString().slice(0, 16).replace("T", " ");
}

/** A window's key in the URL and in the heatmap: its version and start. */
export function windowKey(w: { version: number; start: string }): string {
  return `${w.version}@${new Date(parseTime(w.start) ?? 0).toISOString()}`;
}

export interface HeatmapCell {
  window: WindowResult;
  column: ColumnResult | null; // null: the window did not compare this column (too few rows)
}

export interface HeatmapGroup {
  version: number;
  columns: string[];
  /** cells[column][i] for the i-th of `times`; undefined: no window of this version then */
  cells: Map<string, (HeatmapCell | undefined)[]>;
  windows: number;
  drifted: number;
}

export interface Heatmap {
  /** window starts (ms), oldest first, of every version */
  times: number[];
  groups: HeatmapGroup[];
}

/** The heatmap of `windows`: one column per window start (every version's), one row
 * group per version (newest version first), one row per column compared, in a stable
 * order (the reference's columns as the windows list them, then any seen later). */
export function heatmap(windows: readonly WindowResult[]): Heatmap {
  const times = Array.from(new Set(windows.map((w) => parseTime(w.start) ?? 0))).sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const byVersion = new Map<number, WindowResult[]>();
  for (const w of windows) byVersion.set(w.version, [...(byVersion.get(w.version) ?? []), w]);
  const groups: HeatmapGroup[] = [];
  for (const version of [...byVersion.keys()].sort((a, b) => b - a)) {
    const own = byVersion.get(version) ?? [];
    const columns: string[] = [];
    for (const w of own) for (const c of w.drift) if (!columns.includes(c.column)) columns.push(c.column);
    const cells = new Map(columns.map((c) => [c, new Array<HeatmapCell | undefined>(times.length).fill(undefined)]));
    for (const w of own) {
      const at = index.get(parseTime(w.start) ?? 0) ?? 0;
      for (const column of columns) {
        const row = cells.get(column);
        if (row) row[at] = { window: w, column: w.drift.find((c) => c.column === column) ?? null };
      }
    }
    groups.push({ version, columns, cells, windows: own.length, drifted: own.filter((w) => w.drifted.length > 0).length });
  }
  return { times, groups };
}

// --- performance ----------------------------------------------------------------------------

export interface PerformancePoint {
  version: number;
  start: string;
  time: number;
  labelled: number;
  rows: number;
  coverage: number;
  realised: number | null;
  estimated: number | null;
  error: string;
}

export interface PerformanceSeries {
  metric: string;
  /** the alert bound, if any: below `min` or above `max` alerts */
  bound: { kind: "min" | "max"; value: number } | null;
  versions: number[];
  points: PerformancePoint[];
}

/** The monitor's metric per window: realised (from the labels known now) and estimated,
 * with label coverage; oldest first. A window without labels has no realised value, so it
 * shows the estimate only. */
export function performanceSeries(windows: readonly WindowResult[], config: Schemas["PerformanceConfig"]): PerformanceSeries {
  const metric = config.metric;
  const value = (map: Record<string, number | null> | undefined) => {
    const v = map?.[metric];
    return v === null || v === undefined || !Number.isFinite(v) ? null : v;
  };
  const points = windows
    .map((w) => ({
      version: w.version,
      start: w.start,
      time: parseTime(w.start) ?? 0,
      labelled: w.performance.labelled,
      rows: w.rows,
      coverage: w.performance.coverage,
      realised: w.performance.labelled > 0 ? value(w.performance.realised) : null,
      estimated: value(w.performance.estimated),
      error: w.performance.error,
    }))
    .sort((a, b) => a.time - b.time || a.version - b.version);
  const bound =
    config.min !== null && config.min !== undefined
      ? ({ kind: "min", value: config.min } as const)
      : config.max !== null && config.max !== undefined
        ? ({ kind: "max", value: config.max } as const)
        : null;
  const versions = Array.from(new Set(points.map((p) => p.version))).sort((a, b) => a - b);
  return { metric, bound, versions, points };
}

/** Whether a value breaks the bound (alerts). */
export function breaks(value: number | null, bound: PerformanceSeries["bound"]): boolean {
  if (value === null || !bound) return false;
  return bound.kind === "min" ? value < bound.value : value > bound.value;
}

/** "75%" of a coverage share (0..1); "<1%" for a few labels. */
export function formatCoverage(share: number): string {
  if (share <= 0) return "0%";
  if (share < 0.01) return "<1%";
  return `${Math.round(share * 100)}%`;
}

// --- quality and alerts ---------------------------------------------------------------------

export interface QualityRow {
  window: WindowResult;
  column: string;
  check: string;
  message: string;
  count: number;
}

/** Every quality problem of `windows`, newest window first. */
export function qualityRows(windows: readonly WindowResult[]): QualityRow[] {
  const rows: QualityRow[] = [];
  for (const w of windows) for (const q of w.quality) rows.push({ window: w, column: q.column, check: q.check, message: q.message, count: q.count });
  return rows.sort((a, b) => (parseTime(b.window.start) ?? 0) - (parseTime(a.window.start) ?? 0) || b.window.version - a.window.version);
}

/** The alerts of one monitor, newest first. */
export function monitorAlerts(alerts: readonly Alert[], monitor: string): Alert[] {
  return alerts.filter((a) => a.monitor === monitor).sort((a, b) => (parseTime(b.raised_at) ?? 0) - (parseTime(a.raised_at) ?? 0));
}

/** The query of the prediction log page that shows one window's predictions. */
export function predictionLogLink(model: string, w: { version: number; start: string; end: string }): string {
  const params = new URLSearchParams({
    since: new Date(parseTime(w.start) ?? 0).toISOString(),
    until: new Date(parseTime(w.end) ?? 0).toISOString(),
    version: String(w.version),
  });
  return `/models/${encodeURIComponent(model)}/predictions?${params.toString()}`;
}
