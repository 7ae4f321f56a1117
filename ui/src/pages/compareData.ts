// The Compare page's data logic without React or ECharts: run ids from the URL, labels,
// curves, diff rows, and the axes of the parallel-coordinates and scatter charts. Smoothing
// and the x axis are the Run page's (run/smoothing.ts, run/points.ts), so both draw alike.
import { type XMode, parseXMode, xValues } from "./run/points";
import { ema } from "./run/smoothing";

/** What the page needs of a run. */
export interface CompareRun {
  id: string;
  name: string;
  params?: Record<string, string>;
  metrics?: Record<string, { last: number }>;
}

export type ColumnKind = "params" | "metrics";
export interface Column {
  kind: ColumnKind;
  key: string;
}

/** Distinct, non-empty run ids of `?runs=a,b,c` (also split on spaces), in order. */
export function parseRunIds(text: string | null): string[] {
  if (!text) return [];
  return [...new Set(text.split(/[\s,]+/).filter(Boolean))];
}

/** Names to tell runs apart: their name, with the end of the id where names repeat. */
export function runLabels(runs: CompareRun[]): string[] {
  const counts = new Map<string, number>();
  for (const run of runs) counts.set(run.name, (counts.get(run.name) ?? 0) + 1);
  return runs.map((run) => ((counts.get(run.name) ?? 0) > 1 ? `${run.name} (${run.id.slice(-6)})` : run.name));
}

/** Every key of `kind` over the runs, sorted. */
export function unionKeys(runs: CompareRun[], kind: ColumnKind): string[] {
  const keys = new Set<string>();
  for (const run of runs) for (const key of Object.keys(run[kind] ?? {})) keys.add(key);
  return [...keys].sort();
}

/** A metric's points as [x, y] for a line chart: x by step, wall time (ms) or seconds since
 * `origin` (the run's start); y smoothed by an EMA of `smoothing` (0: none). On a log axis the
 * values <= 0 become gaps (null), before smoothing. */
export function curvePoints(
  history: { steps: number[]; timestamps: number[]; values: number[] },
  x: XMode,
  smoothing: number,
  log: boolean,
  origin?: number | null,
): [number, number | null][] {
  const xs = xValues(history, x, origin);
  const values = log ? history.values.map((v) => (v > 0 ? v : Number.NaN)) : history.values;
  const ys = smoothing > 0 ? ema(values, smoothing) : values;
  return xs.map((at, i) => [at, Number.isFinite(ys[i]) ? ys[i] : null]);
}

export interface DiffRow<T> {
  key: string;
  values: (T | undefined)[];
  /** the runs do not all have the same value (a missing one counts as different) */
  differs: boolean;
}

/** One row per key of `kind`, one value per run; rows whose values differ are marked. */
export function diffRows(runs: CompareRun[], kind: "params"): DiffRow<string>[];
export function diffRows(runs: CompareRun[], kind: "metrics"): DiffRow<number>[];
export function diffRows(runs: CompareRun[], kind: ColumnKind): DiffRow<string | number>[] {
  return unionKeys(runs, kind).map((key) => {
    const values = runs.map((run) => (kind === "params" ? run.params?.[key] : run.metrics?.[key]?.last));
    const differs = values.some((v) => v !== values[0]);
    return { key, values, differs };
  });
}

/** The params whose values are not the same in every run. */
export const varyingParams = (runs: CompareRun[]): string[] => diffRows(runs, "params").filter((r) => r.differs).map((r) => r.key);

const holders = (runs: CompareRun[], kind: ColumnKind, key: string): number => runs.filter((run) => run[kind]?.[key] !== undefined).length;

/** The metric most runs have (by name among equals): what the charts show first. */
export function commonestMetric(runs: CompareRun[]): string | undefined {
  let best: string | undefined;
  let most = 0;
  for (const key of unionKeys(runs, "metrics")) {
    const count = holders(runs, "metrics", key);
    if (count > most) [best, most] = [key, count];
  }
  return best;
}

/** Params worth an axis: they differ between the runs and two runs at least have them (a
 * param of a single run says nothing about the others); failing those, every varying one. */
export function comparableParams(runs: CompareRun[]): string[] {
  const varying = varyingParams(runs);
  const shared = varying.filter((key) => holders(runs, "params", key) >= Math.min(2, runs.length));
  return shared.length ? shared : varying;
}

const isNumber = (text: string): boolean => text.trim() !== "" && Number.isFinite(Number(text));

/** A column's value in a run: a number for metrics and numeric params, text otherwise. */
export function columnValue(run: CompareRun, column: Column): number | string | undefined {
  if (column.kind === "metrics") return run.metrics?.[column.key]?.last;
  return run.params?.[column.key];
}

/** Whether every value a column has in the runs is a number (params are stored as text). */
export function isNumericColumn(runs: CompareRun[], column: Column): boolean {
  if (column.kind === "metrics") return true;
  const values = runs.map((run) => run.params?.[column.key]).filter((v): v is string => v !== undefined);
  return values.length > 0 && values.every(isNumber);
}

export const MISSING = "(none)";

export interface Axis {
  name: string;
  column: Column;
  /** value axes for numbers (log when positive over 2+ decades), category axes for text */
  type: "value" | "log" | "category";
  /** a category axis's values, sorted ("(none)" last when a run lacks the key) */
  categories?: string[];
}

/** An axis for a column over the runs. */
export function axisFor(runs: CompareRun[], column: Column): Axis {
  if (isNumericColumn(runs, column)) {
    const numbers = runs.map((run) => Number(columnValue(run, column))).filter(Number.isFinite);
    const min = Math.min(...numbers);
    const max = Math.max(...numbers);
    const log = column.kind === "params" && numbers.length > 1 && min > 0 && max / min >= 100;
    return { name: column.key, column, type: log ? "log" : "value" };
  }
  const values = runs.map((run) => columnValue(run, column));
  const present = [...new Set(values.filter((v): v is string => v !== undefined).map(String))].sort();
  return { name: column.key, column, type: "category", categories: values.includes(undefined) ? [...present, MISSING] : present };
}

/** A run's coordinate on an axis: a number, a category, or null where it has no value. */
export function coordinate(run: CompareRun, axis: Axis): number | string | null {
  const value = columnValue(run, axis.column);
  if (axis.type === "category") return value === undefined ? MISSING : String(value);
  if (value === undefined) return null;
  const number = Number(value);
  return Number.isFinite(number) && (axis.type !== "log" || number > 0) ? number : null;
}

/** Parallel coordinates: one axis per param (numbers as value axes, text as categories),
 * then the metric; one line per run. */
export function parallelData(runs: CompareRun[], params: string[], metric: string): { axes: Axis[]; lines: (number | string | null)[][] } {
  const axes = [...params.map((key) => axisFor(runs, { kind: "params", key })), ...(metric ? [axisFor(runs, { kind: "metrics", key: metric })] : [])];
  return { axes, lines: runs.map((run) => axes.map((axis) => coordinate(run, axis))) };
}

/** "params.lr" <-> column. */
export const columnText = (column: Column): string => `${column.kind}.${column.key}`;
export function parseColumn(text: string): Column | null {
  const dot = text.indexOf(".");
  const kind = text.slice(0, dot);
  if (dot < 0 || (kind !== "params" && kind !== "metrics")) return null;
  return { kind, key: text.slice(dot + 1) };
}

/** [min, max] of the numbers, or null if there are none. */
export function extent(values: (number | string | null | undefined)[]): [number, number] | null {
  const numbers = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  if (numbers.length === 0) return null;
  return [Math.min(...numbers), Math.max(...numbers)];
}

/** The column a URL text names if the runs have it, else `fallback`. */
export function chooseColumn(text: string, columns: Column[], fallback: Column | undefined): Column | undefined {
  const parsed = parseColumn(text);
  return parsed && columns.some((c) => columnText(c) === text) ? parsed : fallback;
}

/** The chart choices, kept in the URL beside `runs` so that a comparison can be shared. */
export interface CompareView {
  metric: string;
  x: XMode;
  log: boolean;
  smooth: number;
  /** the metric the parallel coordinates are coloured by */
  color: string;
  sx: string;
  sy: string;
  onlyDiff: boolean;
}

export function readCompareView(params: URLSearchParams): CompareView {
  const smooth = Number(params.get("smooth") ?? 0);
  return {
    metric: params.get("metric") ?? "",
    x: parseXMode(params.get("x")),
    log: params.get("log") === "1",
    smooth: Number.isFinite(smooth) ? Math.min(Math.max(smooth, 0), 0.99) : 0,
    color: params.get("color") ?? "",
    sx: params.get("sx") ?? "",
    sy: params.get("sy") ?? "",
    onlyDiff: params.get("diff") === "1",
  };
}

/** `params` with the view written in (defaults left out); other params (runs) kept. */
export function writeCompareView(params: URLSearchParams, view: CompareView): URLSearchParams {
  const next = new URLSearchParams(params);
  const set = (key: string, value: string) => (value ? next.set(key, value) : next.delete(key));
  set("metric", view.metric);
  set("x", view.x === "step" ? "" : view.x);
  set("log", view.log ? "1" : "");
  set("smooth", view.smooth ? String(view.smooth) : "");
  set("color", view.color);
  set("sx", view.sx);
  set("sy", view.sy);
  set("diff", view.onlyDiff ? "1" : "");
  return next;
}
