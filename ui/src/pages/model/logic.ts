// Pure logic of the model pages: gates and alias history in words, metrics to show, the
// signature in short and the lineage graph of a version. Unit-tested; no React here.
import type { Schemas } from "../../api/client";
import type { GraphEdge, GraphNode } from "../../components/graphLayout";
import { formatNumber } from "../../format";

export type MetricGate = Schemas["MetricGate"];
export type AliasMove = Schemas["AliasMove"];
export type Run = Schemas["Run"];
export type RunIO = Schemas["RunIO"];
export type ModelLineage = Schemas["ModelLineage"];
type Signature = Schemas["Signature"];

/** A gate in words, as the server says it: "auc >= 0.8, over dataset transactions, ...". */
export function describeGate(gate: MetricGate): string {
  const parts: string[] = [];
  if (gate.threshold !== null && gate.threshold !== undefined) parts.push(`${gate.metric} ${gate.op} ${formatNumber(gate.threshold)}`);
  if (gate.dataset) {
    let over = `over dataset ${gate.dataset}`;
    if (gate.min_dataset_version) over += ` v${gate.min_dataset_version} or newer`;
    parts.push(over);
  }
  if (gate.not_worse_than_current) parts.push(`${gate.metric} not worse than the current version`);
  return parts.join(", ");
}

/** Alias moves newest first (by time, then by the order the server gave them). */
export function orderHistory(moves: readonly AliasMove[]): AliasMove[] {
  return moves
    .map((move, index) => ({ move, index, at: Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(move.at) ? move.at : `${move.at}Z`) }))
    .sort((a, b) => (b.at !== a.at ? b.at - a.at : a.index - b.index))
    .map((x) => x.move);
}

const v = (n: number | null | undefined) => (n === null || n === undefined ? "nothing" : `v${n}`);

export type Traffic = Schemas["Traffic"];
export type Freeze = Schemas["Freeze"];

/** What a move did, in a few words: "v1 → v2", "rolled back v3 → v2", "removed (was v2)";
 * for a model-wide event (alias ""), the traffic it set or the freeze. */
export function describeMove(move: AliasMove): string {
  const detail = move.detail ?? null;
  switch (move.action) {
    case "traffic":
      return detail && "weights" in detail ? `traffic set: ${describeTraffic(detail)}` : "traffic split cleared";
    case "freeze":
      return "frozen: no alias moves";
    case "unfreeze":
      return detail && "by" in detail ? `unfrozen (frozen by ${detail.by})` : "unfrozen";
    case "set":
      return move.from_version === null ? `set to ${v(move.to_version)}` : `moved ${v(move.from_version)} → ${v(move.to_version)}`;
    case "override":
      return `forced ${v(move.from_version)} → ${v(move.to_version)} despite failed gates`;
    case "rollback":
      return `rolled back ${v(move.from_version)} → ${v(move.to_version)}`;
    case "remove":
      return `removed (was ${v(move.from_version)})`;
    default:
      return `${move.action} ${v(move.from_version)} → ${v(move.to_version)}`;
  }
}

/** The status a move's badge shows: its gate verdict, or what kind of move it was. */
export function moveStatus(move: AliasMove): string {
  if (move.action === "override" || move.action === "freeze") return "failed";
  if (move.gate) return move.gate.passed ? "passed" : "failed";
  if (move.action === "rollback") return "cancelled";
  return "done";
}

/** "champion 90% · challenger 10% · shadow challenger2 · sticky by card_hash", as the
 * server and the CLI say it. */
export function describeTraffic(traffic: Traffic): string {
  const parts = Object.entries(traffic.weights).map(([alias, w]) => `${alias} ${w}%`);
  if (traffic.shadow?.length) parts.push(`shadow ${traffic.shadow.join(", ")}`);
  if (traffic.sticky) parts.push(`sticky by ${traffic.sticky}`);
  return parts.join(" · ");
}

export interface TrafficArm {
  alias: string;
  /** Percent of requests it answers; 0 for a shadow. */
  weight: number;
  shadow: boolean;
  /** The version the alias points at now (null: unknown or none). */
  version: number | null;
}

/** The arms of a traffic split, answering ones in the server's order, then shadows, each
 * with the version its alias points at now. */
export function trafficArms(traffic: Traffic, aliases: Record<string, number | null> | undefined): TrafficArm[] {
  const at = (alias: string) => aliases?.[alias] ?? null;
  return [
    ...Object.entries(traffic.weights).map(([alias, weight]) => ({ alias, weight, shadow: false, version: at(alias) })),
    ...(traffic.shadow ?? []).map((alias) => ({ alias, weight: 0, shadow: true, version: at(alias) })),
  ];
}

/** Metrics a run logged that describe the model: not the system monitor's (system/...). */
function modelMetrics(metrics: Record<string, { last: number }> | undefined): [string, number][] {
  return Object.entries(metrics ?? {})
    .filter(([name, m]) => m && typeof m.last === "number" && !name.startsWith("system/"))
    .map(([name, m]) => [name, m.last]);
}

/** Up to `n` metrics of a run (last values): the preferred names first, then plain names
 * before dotted ones (per-segment breakdowns), by name; system metrics left out. */
export function pickMetrics(metrics: Record<string, { last: number }> | undefined, preferred: readonly string[] = [], n = 3): [string, number][] {
  const rank = (name: string) => {
    const i = preferred.indexOf(name);
    return i < 0 ? preferred.length + (name.includes(".") ? 1 : 0) : i;
  };
  return modelMetrics(metrics)
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .slice(0, n);
}

export interface VersionMetric {
  name: string;
  value: number;
  /** The run it was logged in: the source run, or an evaluation that loaded the version. */
  run: Run;
  from: "source" | "evaluation";
}

/** Up to `n` metrics that describe a version: each preferred metric (the gates') from the
 * newest evaluation that logged it, else from the source run; then the source run's own
 * metrics; then those of the newest evaluation. */
export function versionMetrics(lineage: ModelLineage | undefined, preferred: readonly string[] = [], n = 3): VersionMetric[] {
  if (!lineage) return [];
  const evaluations = [...(lineage.evaluations ?? [])].sort((a, b) => b.start_time.localeCompare(a.start_time));
  const out: VersionMetric[] = [];
  const has = (name: string) => out.some((m) => m.name === name);
  const add = (name: string, value: number, run: Run, from: VersionMetric["from"]) => {
    if (out.length < n && !has(name)) out.push({ name, value, run, from });
  };
  for (const name of preferred) {
    const evaluation = evaluations.find((r) => modelMetrics(r.metrics).some(([k]) => k === name));
    const found = evaluation ?? (lineage.run && modelMetrics(lineage.run.metrics).some(([k]) => k === name) ? lineage.run : null);
    if (found) add(name, (found.metrics ?? {})[name].last, found, found === lineage.run ? "source" : "evaluation");
  }
  if (lineage.run) for (const [name, value] of pickMetrics(lineage.run.metrics, [], n)) add(name, value, lineage.run, "source");
  const newest = evaluations.find((r) => modelMetrics(r.metrics).length > 0);
  if (newest) for (const [name, value] of pickMetrics(newest.metrics, [], n)) add(name, value, newest, "evaluation");
  return out;
}

/** "12 inputs (float64) → prediction (float64)", or "no signature". */
export function signatureSummary(signature: Signature | null | undefined): string {
  if (!signature) return "no signature";
  const types = (cols: readonly { type: string }[]) => {
    const counts = new Map<string, number>();
    for (const c of cols) counts.set(c.type, (counts.get(c.type) ?? 0) + 1);
    return [...counts.entries()].map(([t, k]) => (counts.size > 1 ? `${k} ${t}` : t)).join(", ");
  };
  const inputs = signature.inputs;
  const outputs = signature.outputs ?? [];
  const left = inputs.length === 1 ? `${inputs[0].name} (${inputs[0].type})` : `${inputs.length} inputs (${types(inputs)})`;
  if (outputs.length === 0) return left;
  const right = outputs.length === 1 ? `${outputs[0].name} (${outputs[0].type})` : `${outputs.length} outputs (${types(outputs)})`;
  return `${left} → ${right}`;
}

// -- lineage graph -------------------------------------------------------------------------

const DATASET_LABEL = /^(.+?)\/(.+)@(\d+)$/;
const MODEL_LABEL = /^(.+)\/v(\d+)$/;

/** The page of an entity a run read or wrote. */
export function entityHref(kind: string, ref: string, label: string): string | undefined {
  if (kind === "run") return `/runs/${encodeURIComponent(ref)}`;
  if (kind === "dataset_version") {
    const m = DATASET_LABEL.exec(label);
    if (m) return `/datasets/${encodeURIComponent(m[1])}/${encodeURIComponent(m[2])}?version=${m[3]}`;
  }
  if (kind === "model_version") {
    const m = MODEL_LABEL.exec(label);
    if (m) return `/models/${encodeURIComponent(m[1])}?version=${m[2]}&tab=lineage`;
  }
  return undefined;
}

const TONE: Record<string, string> = { dataset_version: "dataset", model_version: "model", run: "run" };

export interface LineageInput {
  lineage: ModelLineage;
  /** The pipeline (or parent) run the source run is a step of, and what it read/wrote. */
  parent?: Run | null;
  parentIo?: RunIO[];
  /** What each evaluation run read and wrote, by run id. */
  evaluationIo?: Record<string, RunIO[]>;
  /** Evaluation runs beyond this many are summarised in one node. */
  maxEvaluations?: number;
}

/** Graph of a model version: (parent pipeline run →) source run → version → runs that
 * loaded it, with the datasets each of them read and wrote. Every node links to its page. */
export function modelLineageGraph({ lineage, parent, parentIo = [], evaluationIo = {}, maxEvaluations = 12 }: LineageInput): { nodes: GraphNode[]; edges: GraphEdge[]; root: string; hidden: number } {
  const nodes = new Map<string, GraphNode>();
  const edges: GraphEdge[] = [];
  const seen = new Set<string>();
  const edge = (from: string, to: string, label: string) => {
    const key = `${from}|${to}|${label}`;
    if (from === to || seen.has(key)) return;
    seen.add(key);
    edges.push({ from, to, label });
  };
  const node = (n: GraphNode) => {
    if (!nodes.has(n.id)) nodes.set(n.id, n);
    return n.id;
  };
  const runNode = (run: Run, detail: string) =>
    node({ id: `run:${run.id}`, label: run.name || run.id.slice(0, 12), detail: `${detail} · ${run.status}`, tone: run.status === "failed" || run.status === "killed" ? run.status : "run", href: `/runs/${encodeURIComponent(run.id)}` });
  const ioNode = (io: { kind: string; ref: string; label: string }) =>
    node({ id: `${io.kind}:${io.ref}`, label: io.label || io.ref, detail: io.kind.replace("_", " "), tone: TONE[io.kind] ?? "default", href: entityHref(io.kind, io.ref, io.label) });

  const version = lineage.version;
  const root = node({
    id: `model_version:${version.id}`,
    label: `${version.model} v${version.version}`,
    detail: `model · ${version.flavor}${version.aliases?.length ? ` · @${version.aliases.join(" @")}` : ""}`,
    tone: "model",
    href: `/models/${encodeURIComponent(version.model)}?version=${version.version}&tab=lineage`,
  });

  const run = lineage.run;
  if (run) {
    const source = runNode(run, "source run");
    edge(source, root, "registered");
    for (const input of lineage.inputs) {
      const id = node({
        id: `dataset_version:${input.version_id}`,
        label: `${input.project}/${input.dataset}@${input.version}`,
        detail: `dataset · ${formatNumber(input.rows)} rows`,
        tone: "dataset",
        href: `/datasets/${encodeURIComponent(input.project)}/${encodeURIComponent(input.dataset)}?version=${input.version}`,
      });
      edge(id, source, "read");
    }
    for (const other of lineage.other_inputs ?? []) {
      const kind = String(other.kind ?? "input");
      const ref = String(other.ref ?? other.label ?? "");
      if (!ref) continue;
      edge(ioNode({ kind, ref, label: String(other.label ?? ref) }), source, "read");
    }
    if (parent && run.parent_id === parent.id) {
      const p = runNode(parent, "pipeline run");
      edge(p, source, "step");
      for (const io of parentIo) {
        if (io.direction === "input") edge(ioNode(io), p, "read");
      }
    }
  }

  const evaluations = [...(lineage.evaluations ?? [])].sort((a, b) => b.start_time.localeCompare(a.start_time));
  const shown = evaluations.slice(0, maxEvaluations);
  for (const evaluation of shown) {
    const id = runNode(evaluation, "loaded it");
    edge(root, id, "loaded");
    for (const io of evaluationIo[evaluation.id] ?? []) {
      if (io.kind === "model_version" && io.ref === version.id) continue;
      if (io.direction === "input") edge(ioNode(io), id, "read");
      else edge(id, ioNode(io), "wrote");
    }
  }
  const hidden = evaluations.length - shown.length;
  if (hidden > 0) {
    const more = node({ id: "more-evaluations", label: `+${hidden} more runs`, detail: "that loaded it", tone: "run" });
    edge(root, more, "loaded");
  }
  return { nodes: [...nodes.values()], edges, root, hidden };
}
