// Pure logic of the dataset pages: column kinds, statistics summaries and charts, rule
// descriptions, diff rows and lineage graphs. No React here, so all of it is unit-tested.
import type { Schemas } from "../../api/client";
import type { GraphEdge, GraphNode } from "../../components/graphLayout";
import { formatNumber, formatTime } from "../../format";

export type ColumnStats = Schemas["ColumnStats"];
export type Rule = Schemas["RuleResult"]["rule"];
export type RowDiff = Schemas["RowDiff"];
export type ColumnShift = Schemas["ColumnShift"];
export type SchemaDiff = Schemas["SchemaDiff"];
export type Lineage = Schemas["Lineage"];
type Scalar = boolean | number | string | null | undefined;

export type ColumnKind = "numeric" | "temporal" | "boolean" | "string" | "other";

/** What kind of values an Arrow type (`int64`, `double`, `timestamp[us, tz=UTC]`, ...) holds. */
export function columnKind(type: string): ColumnKind {
  const t = type.toLowerCase().trim();
  if (/^(u?int(8|16|32|64)|halffloat|float(16|32|64)?|double|decimal(128|256)?\b.*)$/.test(t)) return "numeric";
  if (/^(timestamp|date(32|64)?)\b/.test(t)) return "temporal";
  if (t === "bool" || t === "boolean") return "boolean";
  if (/^(large_)?(string|utf8)$/.test(t) || t.startsWith("dictionary<")) return "string";
  return "other";
}

/** A value of a statistic (min, max, a top value) as text. */
export function formatScalar(value: Scalar): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  return value;
}

/** A measurement in 4 significant digits ("70.12", "138.2", "0.0123"); integers whole. */
export function short(value: number | null | undefined): string {
  if (value === null || value === undefined) return "";
  if (Number.isInteger(value) || !Number.isFinite(value)) return formatNumber(value);
  const abs = Math.abs(value);
  if (abs >= 1e6 || abs < 1e-4) return value.toExponential(2);
  return Number(value.toPrecision(4)).toLocaleString("en-US", { maximumFractionDigits: 8 });
}

/** "12.3%" of part over whole ("" when whole is 0). */
export function percent(part: number, whole: number): string {
  if (!whole) return "";
  const p = (100 * part) / whole;
  if (p === 0) return "0%";
  if (p < 0.1) return "<0.1%";
  if (p > 99.5 && p < 100) return p > 99.9 ? ">99.9%" : `${p.toFixed(1)}%`;
  return `${p < 10 ? p.toFixed(1) : Math.round(p)}%`;
}

// -- charts of one column ------------------------------------------------------------------

export interface BarSeries {
  /** histogram: equal-width bins of a numeric or temporal column; top: most frequent values. */
  kind: "histogram" | "top";
  labels: string[];
  counts: number[];
  /** Tooltip text per bar. */
  tips: string[];
  /** Non-null values not among the top values (top only). */
  other: number;
  /** A few bars dwarf the rest: draw counts on a log scale so the tail shows. */
  log: boolean;
}

/** Whether the largest bar is so much taller than the typical non-empty one that the others
 * would be invisible on a linear scale (a long-tailed distribution). */
export function isSkewed(counts: readonly number[]): boolean {
  const nonzero = counts.filter((c) => c > 0).sort((a, b) => a - b);
  if (nonzero.length < 3) return false;
  const max = nonzero[nonzero.length - 1];
  const median = nonzero[Math.floor(nonzero.length / 2)];
  return max >= 40 * median;
}

/** Significant digits needed so that edges `step` apart stay distinct and short. */
function edgeDigits(step: number): number {
  if (!(step > 0) || !Number.isFinite(step)) return 6;
  return Math.max(0, Math.min(6, -Math.floor(Math.log10(step)) + 1));
}

/** An edge of a numeric histogram, rounded to what the bin width can tell apart. */
export function formatEdge(value: number, step: number): string {
  const digits = edgeDigits(step);
  const rounded = Number(value.toFixed(digits));
  if (Math.abs(rounded) >= 1e6 || (rounded !== 0 && Math.abs(rounded) < 1e-4)) return rounded.toPrecision(3);
  return rounded.toLocaleString("en-US", { maximumFractionDigits: digits });
}

/** An edge of a temporal histogram (seconds since the epoch) at the precision its bins need. */
function formatInstant(seconds: number, step: number): string {
  const text = formatTime(seconds * 1000);
  if (step >= 86400) return text.slice(0, 10);
  if (step >= 60) return text.slice(0, 16);
  return text;
}

/** The bars to draw for a column: its histogram if it has one, else its top values, else null. */
export function columnSeries(stats: ColumnStats): BarSeries | null {
  const kind = columnKind(stats.type);
  const histogram = stats.histogram;
  if (histogram && histogram.counts.length > 0 && histogram.edges.length === histogram.counts.length + 1) {
    const { edges, counts } = histogram;
    const step = edges.length > 1 ? (edges[edges.length - 1] - edges[0]) / counts.length : 0;
    const format = kind === "temporal" ? (v: number) => formatInstant(v, step) : (v: number) => formatEdge(v, step);
    const integer = kind === "numeric" && /int/.test(stats.type);
    const labels: string[] = [];
    const tips: string[] = [];
    counts.forEach((count, i) => {
      const lo = edges[i];
      const hi = edges[i + 1];
      const last = i === counts.length - 1;
      labels.push(format(lo));
      const range =
        lo === hi
          ? format(lo)
          : integer && step <= 1
            ? format(Math.ceil(lo))
            : `${format(lo)} – ${format(hi)}${last ? "" : " (excl.)"}`;
      tips.push(`${range}: ${formatNumber(count)} (${percent(count, stats.count)})`);
    });
    return { kind: "histogram", labels, counts: [...counts], tips, other: 0, log: isSkewed(counts) };
  }
  const top = stats.top ?? [];
  if (top.length > 0) {
    const counted = top.reduce((sum, t) => sum + t.count, 0);
    const nonNull = stats.count;
    return {
      kind: "top",
      labels: top.map((t) => formatScalar(t.value as Scalar) || "(empty)"),
      counts: top.map((t) => t.count),
      tips: top.map((t) => `${formatScalar(t.value as Scalar) || "(empty)"}: ${formatNumber(t.count)} (${percent(t.count, nonNull)})`),
      other: Math.max(0, nonNull - counted),
      log: false,
    };
  }
  return null;
}

/** Why a column has no chart, in words. */
export function noChartReason(stats: ColumnStats, rows: number): string {
  const kind = columnKind(stats.type);
  if (stats.count === 0) return rows === 0 ? "no rows" : "every value is null";
  if (kind === "temporal") return "no histogram recorded for this version (added before time histograms were computed)";
  if (stats.distinct !== null && stats.distinct !== undefined && stats.distinct >= stats.count * 0.97 && kind !== "numeric")
    return `no value repeats: about ${formatNumber(stats.distinct)} distinct values`;
  if (kind === "other") return "counts only for this type";
  return "no distribution recorded";
}

/** Name/value pairs that describe a column, chosen for its kind. */
export function summaryRows(stats: ColumnStats, rows: number): [string, string][] {
  const kind = columnKind(stats.type);
  const out: [string, string][] = [
    ["count", formatNumber(stats.count)],
    ["nulls", stats.nulls ? `${formatNumber(stats.nulls)} (${percent(stats.nulls, rows || stats.count + stats.nulls)})` : "0"],
  ];
  if (stats.distinct !== null && stats.distinct !== undefined) out.push(["distinct", `≈ ${formatNumber(stats.distinct)}`]);
  if (kind === "numeric") {
    out.push(["min", formatScalar(stats.min as Scalar)], ["max", formatScalar(stats.max as Scalar)]);
    if (stats.mean !== null && stats.mean !== undefined) out.push(["mean", short(stats.mean)]);
    if (stats.std !== null && stats.std !== undefined) out.push(["std", short(stats.std)]);
    const q = stats.quantiles ?? {};
    if (q.p50 !== undefined) out.push(["median", short(q.p50)]);
    if (q.p05 !== undefined && q.p95 !== undefined) out.push(["p5 – p95", `${short(q.p05)} – ${short(q.p95)}`]);
  } else if (kind === "temporal" || kind === "string" || kind === "boolean") {
    if (kind !== "boolean") {
      if (stats.min !== null && stats.min !== undefined) out.push(["min", formatScalar(stats.min as Scalar)]);
      if (stats.max !== null && stats.max !== undefined) out.push(["max", formatScalar(stats.max as Scalar)]);
    }
  }
  if (stats.nans) out.push(["NaN", formatNumber(stats.nans)]);
  if (stats.infinities) out.push(["±inf", formatNumber(stats.infinities)]);
  return out;
}

// -- validation rules ---------------------------------------------------------------------

function list(values: readonly unknown[], max = 6): string {
  const shown = values.slice(0, max).map((v) => (typeof v === "string" ? v : JSON.stringify(v)));
  return values.length > max ? `${shown.join(", ")}, … (${values.length})` : shown.join(", ");
}

/** A rule in words: "amount ≥ 0", "country in {US, GB}", "unique (id)". */
export function describeRule(rule: Rule): string {
  switch (rule.check) {
    case "column":
      return `column ${rule.column} exists${rule.type ? ` with type ${rule.type}` : ""}`;
    case "not_null":
      return `${rule.column} is never null`;
    case "range": {
      const lo = rule.min ?? null;
      const hi = rule.max ?? null;
      if (lo !== null && hi !== null) return `${lo} ≤ ${rule.column} ≤ ${hi}`;
      return lo !== null ? `${rule.column} ≥ ${lo}` : `${rule.column} ≤ ${hi}`;
    }
    case "allowed_values":
      return `${rule.column} in {${list(rule.values)}}`;
    case "unique":
      return `unique (${rule.columns.join(", ")})`;
    case "row_count": {
      const lo = rule.min ?? null;
      const hi = rule.max ?? null;
      if (lo !== null && hi !== null) return `${formatNumber(lo)} ≤ rows ≤ ${formatNumber(hi)}`;
      return lo !== null ? `rows ≥ ${formatNumber(lo)}` : `rows ≤ ${formatNumber(hi)}`;
    }
    case "freshness":
      return `newest ${rule.column} at most ${rule.max_age} old`;
    case "sql":
      return rule.expression;
    default:
      return JSON.stringify(rule);
  }
}

// -- diffs --------------------------------------------------------------------------------

export type RowChange = "added" | "removed" | "changed";

export interface DiffCell {
  value: unknown;
  /** For a changed cell: the base value (value is the target's). */
  before?: unknown;
  changed?: boolean;
}

export interface DiffRow {
  kind: RowChange;
  cells: Record<string, DiffCell>;
}

/** The example rows of a row diff as one table: columns (key first) and rows marked
 * added/removed/changed; a changed row holds its key and the values that changed. */
export function diffTable(rowDiff: RowDiff): { columns: string[]; rows: DiffRow[] } {
  const examples = rowDiff.examples ?? {};
  const columns: string[] = [...rowDiff.key];
  const seen = new Set(columns);
  const note = (name: string) => {
    if (!seen.has(name)) {
      seen.add(name);
      columns.push(name);
    }
  };
  const rows: DiffRow[] = [];
  for (const kind of ["added", "removed"] as const) {
    for (const example of examples[kind] ?? []) {
      const cells: Record<string, DiffCell> = {};
      for (const [name, value] of Object.entries(example)) {
        note(name);
        cells[name] = { value };
      }
      rows.push({ kind, cells });
    }
  }
  for (const example of examples.changed ?? []) {
    const key = (example.key ?? {}) as Record<string, unknown>;
    const changes = (example.changes ?? {}) as Record<string, { base?: unknown; target?: unknown }>;
    const cells: Record<string, DiffCell> = {};
    for (const [name, value] of Object.entries(key)) {
      note(name);
      cells[name] = { value };
    }
    for (const [name, change] of Object.entries(changes)) {
      note(name);
      cells[name] = { value: change?.target, before: change?.base, changed: true };
    }
    rows.push({ kind: "changed", cells });
  }
  return { columns, rows };
}

export type ShiftLevel = "added" | "removed" | "changed" | "same";

export interface ShiftRow {
  name: string;
  level: ShiftLevel;
  /** Why the row is marked, in words ("type int64 → double", "PSI 0.31"). */
  note: string;
  shift?: ColumnShift;
}

/** PSI of 0.1 and more is a moderate shift, 0.25 and more a major one (the usual reading). */
export const PSI_MODERATE = 0.1;
export const PSI_MAJOR = 0.25;

const num = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);

/** Why a column's statistics moved enough to look at, in words; [] when they barely moved.
 * Distinct counts are approximate (a few percent), so small changes are not reported. */
export function shiftReasons(shift: ColumnShift): string[] {
  const reasons: string[] = [];
  if (shift.psi !== null && shift.psi !== undefined && shift.psi >= PSI_MODERATE)
    reasons.push(`${shift.psi >= PSI_MAJOR ? "major" : "moderate"} distribution shift`);
  const [nb, nt] = shift.null_rate.map(num);
  if (nb !== null && nt !== null && Math.abs(nt - nb) >= 0.01) reasons.push(`null rate ${nt > nb ? "+" : "−"}${(Math.abs(nt - nb) * 100).toFixed(1)} pts`);
  const [db, dt] = shift.distinct.map(num);
  if (db !== null && dt !== null && Math.abs(dt - db) >= Math.max(2, 0.1 * db)) reasons.push(`distinct ${dt > db ? "+" : "−"}${Math.round((Math.abs(dt - db) / Math.max(1, db)) * 100)}%`);
  const [mb, mt] = shift.mean.map(num);
  const sd = num(shift.std[0]);
  if (mb !== null && mt !== null && mb !== mt) {
    if (sd !== null && sd > 0) {
      const z = (mt - mb) / sd;
      if (Math.abs(z) >= 0.1) reasons.push(`mean ${z > 0 ? "+" : "−"}${Math.abs(z).toFixed(2)}σ`);
    } else if (Math.abs(mt - mb) >= 0.1 * Math.max(Math.abs(mb), 1e-12)) reasons.push("mean moved");
  }
  return reasons;
}

/** One row per column of either version: added, removed, retyped, shifted (see
 * shiftReasons) or about the same; columns only one side has are added/removed rows. */
export function shiftTable(schema: SchemaDiff, columns: ColumnShift[]): ShiftRow[] {
  const typeChanges = new Map(schema.changed.map((c) => [c.name, c]));
  const added = new Map(schema.added.map((c) => [c.name, c]));
  const removed = new Map(schema.removed.map((c) => [c.name, c]));
  const rows: ShiftRow[] = columns.map((shift) => {
    const add = added.get(shift.name);
    if (add) return { name: shift.name, level: "added", note: `added (${add.type})`, shift };
    const gone = removed.get(shift.name);
    if (gone) return { name: shift.name, level: "removed", note: `removed (was ${gone.type})`, shift };
    const typeChange = typeChanges.get(shift.name);
    const notes = [...(typeChange ? [`type ${typeChange.base} → ${typeChange.target}`] : []), ...shiftReasons(shift)];
    return { name: shift.name, level: notes.length ? "changed" : "same", note: notes.join("; "), shift };
  });
  const listed = new Set(columns.map((c) => c.name));
  for (const column of schema.added) if (!listed.has(column.name)) rows.push({ name: column.name, level: "added", note: `added (${column.type})` });
  for (const column of schema.removed) if (!listed.has(column.name)) rows.push({ name: column.name, level: "removed", note: `removed (was ${column.type})` });
  return rows;
}

/** A column that probably identifies rows: every value distinct, no nulls, named like an id. */
export function guessKey(stats: ColumnStats[], rows: number): string | null {
  const unique = stats.filter((s) => s.nulls === 0 && s.count === rows && rows > 0 && s.distinct !== null && s.distinct !== undefined && s.distinct >= rows * 0.97);
  const named = unique.find((s) => /(^id$|_id$|^id_|key$)/i.test(s.name));
  return (named ?? null)?.name ?? null;
}

// -- lineage ------------------------------------------------------------------------------

const DATASET_LABEL = /^(.+?)\/(.+)@(\d+)$/;
const MODEL_LABEL = /^(.+)\/v(\d+)$/;

/** The page of a lineage entity, from its kind and label ("fraud/transactions@1", "fraud-detector/v3"). */
export function lineageHref(kind: string, id: string, label: string): string | undefined {
  const ref = id.includes(":") ? id.slice(id.indexOf(":") + 1) : id;
  if (kind === "run") return `/runs/${encodeURIComponent(ref)}`;
  if (kind === "dataset_version") {
    const m = DATASET_LABEL.exec(label);
    if (m) return `/datasets/${encodeURIComponent(m[1])}/${encodeURIComponent(m[2])}?version=${m[3]}&tab=lineage`;
  }
  if (kind === "model_version") {
    const m = MODEL_LABEL.exec(label);
    if (m) return `/models/${encodeURIComponent(m[1])}?version=${m[2]}`;
  }
  return undefined;
}

const TONES: Record<string, string> = { dataset_version: "dataset", model_version: "model", run: "run" };
const KIND_WORDS: Record<string, string> = { dataset_version: "dataset version", model_version: "model version", run: "run" };

/** Graph nodes and edges of a dataset version's lineage; the root is marked, deleted
 * entities say so, and every node links to its page. */
export function lineageGraph(lineage: Lineage): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes: GraphNode[] = lineage.nodes.map((node) => ({
    id: node.id,
    label: node.label,
    detail: node.missing ? `${KIND_WORDS[node.kind] ?? node.kind} · deleted` : node.id === lineage.root ? "this version" : (KIND_WORDS[node.kind] ?? node.kind),
    tone: node.missing ? "cancelled" : (TONES[node.kind] ?? "default"),
    href: node.missing ? undefined : lineageHref(node.kind, node.id, node.label),
  }));
  const edges: GraphEdge[] = lineage.edges.map((edge) => ({ from: edge.source, to: edge.target, label: edge.relation }));
  return { nodes, edges };
}

/** The runs that wrote the root and those that read it, from its lineage. */
export function producersAndConsumers(lineage: Lineage): { wrote: Lineage["nodes"]; read: Lineage["nodes"] } {
  const byId = new Map(lineage.nodes.map((n) => [n.id, n]));
  const wrote = lineage.edges.filter((e) => e.target === lineage.root && e.relation === "wrote").map((e) => byId.get(e.source));
  const read = lineage.edges.filter((e) => e.source === lineage.root && e.relation === "read").map((e) => byId.get(e.target));
  const defined = (xs: (Lineage["nodes"][number] | undefined)[]) => xs.filter((x): x is Lineage["nodes"][number] => x !== undefined);
  return { wrote: defined(wrote), read: defined(read) };
}
