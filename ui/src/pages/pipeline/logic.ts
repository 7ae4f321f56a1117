// Pure logic of the pipeline pages: a pipeline run's record → graph nodes and edges, step
// counts, fan-out summaries, durations, timeline bars and readable errors.
import type { Schemas } from "../../api/client";
import type { GraphEdge, GraphNode } from "../../components/graphLayout";
import { formatDuration, parseTime } from "../../format";

export type PipelineRun = Schemas["PipelineRun"];
export type StepRecord = Schemas["StepRecord"];
export type StepStatus = StepRecord["status"];

/** One node of the pipeline's DAG as recorded when the run started (`run.graph`). */
export interface GraphEntry {
  id: string;
  kind: string;
  step: string | null;
  upstream: string[];
  ref: string | null;
}

export const ITEM_STATUS: Record<string, ItemStatus> = {
  ".": "pending",
  r: "running",
  s: "succeeded",
  c: "cached",
  F: "failed",
};
export type ItemStatus = "pending" | "running" | "succeeded" | "cached" | "failed";
export const ITEM_ORDER: ItemStatus[] = ["succeeded", "cached", "running", "pending", "failed"];

export interface ItemCounts {
  total: number;
  pending: number;
  running: number;
  succeeded: number;
  cached: number;
  failed: number;
}

/** Counts of a fan-out's items by status from its one-character-per-item string. */
export function itemCounts(itemsStatus: string, itemsTotal = 0): ItemCounts {
  const counts: ItemCounts = { total: Math.max(itemsTotal, itemsStatus.length), pending: 0, running: 0, succeeded: 0, cached: 0, failed: 0 };
  for (const code of itemsStatus) {
    const status = ITEM_STATUS[code];
    if (status) counts[status] += 1;
  }
  // items the string does not cover yet are waiting
  counts.pending += Math.max(0, itemsTotal - itemsStatus.length);
  return counts;
}

/** "812/1000 done, 3 failed" (done counts cached items too; running shown while any run). */
export function fanoutSummary(itemsStatus: string, itemsTotal = 0): string {
  const c = itemCounts(itemsStatus, itemsTotal);
  if (c.total === 0) return "no items";
  const parts = [`${c.succeeded + c.cached}/${c.total} done`];
  if (c.cached > 0) parts.push(`${c.cached} cached`);
  if (c.running > 0) parts.push(`${c.running} running`);
  if (c.failed > 0) parts.push(`${c.failed} failed`);
  return parts.join(", ");
}

/** Wall-clock time of a step (from its start to its end, or to `now` while it runs). */
export function stepWall(step: Pick<StepRecord, "started_at" | "ended_at" | "status">, now: number = Date.now()): number | null {
  const start = parseTime(step.started_at);
  if (start === null) return null;
  const end = parseTime(step.ended_at);
  if (end !== null) return Math.max(0, end - start);
  return step.status === "running" ? Math.max(0, now - start) : null;
}

/** How long a step ran: its own measured time once done, else the wall time so far. */
export function stepDuration(step: Pick<StepRecord, "started_at" | "ended_at" | "status" | "duration_ms">, now: number = Date.now()): number | null {
  if (step.status !== "running" && step.duration_ms !== null && step.duration_ms !== undefined) return step.duration_ms;
  return stepWall(step, now);
}

/** Duration of the whole pipeline run (to `now` while it runs). */
export function runDuration(run: Pick<PipelineRun, "started_at" | "ended_at" | "status">, now: number = Date.now()): number | null {
  const start = parseTime(run.started_at);
  if (start === null) return null;
  const end = parseTime(run.ended_at);
  if (end !== null) return Math.max(0, end - start);
  return run.status === "running" ? Math.max(0, now - start) : null;
}

/** The pipeline's graph as recorded; entries without an id are dropped. */
export function graphEntries(run: Pick<PipelineRun, "graph">): GraphEntry[] {
  const entries: GraphEntry[] = [];
  for (const raw of run.graph ?? []) {
    const id = typeof raw.id === "string" ? raw.id : null;
    if (!id) continue;
    entries.push({
      id,
      kind: typeof raw.kind === "string" ? raw.kind : "step",
      step: typeof raw.step === "string" ? raw.step : null,
      upstream: Array.isArray(raw.upstream) ? raw.upstream.filter((u): u is string => typeof u === "string") : [],
      ref: typeof raw.ref === "string" ? raw.ref : null,
    });
  }
  return entries;
}

/** The record of every node, in the pipeline's order (nodes without a record yet are pending). */
export function stepsOf(run: Pick<PipelineRun, "graph" | "steps">): StepRecord[] {
  const records = new Map((run.steps ?? []).map((s) => [s.node, s]));
  const ordered: StepRecord[] = [];
  graphEntries(run).forEach((entry, position) => {
    const found = records.get(entry.id);
    records.delete(entry.id);
    ordered.push(
      found ?? {
        node: entry.id,
        position,
        kind: entry.kind === "map" || entry.kind === "load" ? entry.kind : "step",
        step: entry.step ?? entry.ref ?? entry.id,
        status: "pending",
        attempts: 0,
        error: "",
        items_status: "",
        items_total: 0,
      },
    );
  });
  return [...ordered, ...[...records.values()].sort((a, b) => a.position - b.position)];
}

/** What a node shows under its name: its state in a few words. */
export function stepDetail(step: StepRecord, now: number = Date.now()): string {
  const took = formatDuration(stepDuration(step, now));
  if (step.kind === "map" && (step.items_total > 0 || step.items_status)) {
    const summary = fanoutSummary(step.items_status, step.items_total);
    if (step.status === "cached") return `cache hit · ${summary}`;
    return took && step.status !== "pending" ? `${summary} · ${took}` : summary;
  }
  switch (step.status) {
    case "cached":
      return "cache hit";
    case "running":
      return took ? `running · ${took}` : "running";
    case "failed":
      return step.attempts > 1 ? `failed after ${step.attempts} attempts` : took ? `failed · ${took}` : "failed";
    case "succeeded":
      if (step.kind === "load") return "loaded";
      return took ? (step.attempts > 1 ? `${took} · ${step.attempts} attempts` : took) : "succeeded";
    default:
      return step.status;
  }
}

/** The table's detail column: the error of a failed step, the output of a finished one. */
export function stepSummary(step: StepRecord, now: number = Date.now()): string {
  if (step.status === "failed" && step.error) return errorHeadline(step.error);
  if (step.kind === "map") return stepDetail(step, now);
  if (step.status === "cached") return step.output && step.output.kind !== "items" && step.output.summary ? `cache hit · ${step.output.summary}` : "cache hit";
  if (step.status === "succeeded" && step.output) {
    if (step.output.kind === "items") return `${step.output.count} items`;
    return step.output.summary ? `${step.output.kind}: ${step.output.summary}` : step.output.kind;
  }
  if (step.kind === "load") return step.status === "succeeded" ? `loaded ${step.step}` : step.status;
  if (step.status === "skipped" && step.error) return step.error;
  return stepDetail(step, now);
}

/** The colour of a node: its status; a loaded dataset shows as a dataset. */
export function stepTone(step: StepRecord): string {
  if (step.kind === "load" && step.status === "succeeded") return "dataset";
  return step.status;
}

/** The title of a node: the node id (a step called twice gets distinct ids), a load its reference. */
export function stepLabel(step: StepRecord, entry?: GraphEntry): string {
  if (step.kind === "load") return `⛁ ${entry?.ref ?? step.step ?? step.node}`;
  if (step.kind === "map") return step.items_total > 0 ? `${step.node} × ${step.items_total.toLocaleString("en-US")}` : `${step.node} (map)`;
  return step.node;
}

/** Nodes and edges for the `Graph` component. */
export function pipelineGraph(run: Pick<PipelineRun, "graph" | "steps">, now: number = Date.now()): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const entries = new Map(graphEntries(run).map((e) => [e.id, e]));
  const steps = stepsOf(run);
  const nodes: GraphNode[] = steps.map((step) => ({
    id: step.node,
    label: stepLabel(step, entries.get(step.node)),
    detail: stepDetail(step, now),
    tone: stepTone(step),
  }));
  const known = new Set(steps.map((s) => s.node));
  const edges: GraphEdge[] = [];
  for (const entry of entries.values()) {
    for (const from of new Set(entry.upstream)) {
      if (known.has(from) && known.has(entry.id)) edges.push({ from, to: entry.id });
    }
  }
  return { nodes, edges };
}

export interface StepCounts {
  /** steps (load nodes apart) */
  total: number;
  /** load nodes: the dataset versions the run resolved, rows of the steps table too */
  loads: number;
  succeeded: number;
  cached: number;
  failed: number;
  running: number;
  pending: number;
  skipped: number;
  cancelled: number;
}

/** Counts of the run's steps by status (dataset loads are not steps and are left out). */
export function stepCounts(run: Pick<PipelineRun, "graph" | "steps">): StepCounts {
  const counts: StepCounts = { total: 0, loads: 0, succeeded: 0, cached: 0, failed: 0, running: 0, pending: 0, skipped: 0, cancelled: 0 };
  for (const step of stepsOf(run)) {
    if (step.kind === "load") {
      counts.loads += 1;
      continue;
    }
    counts.total += 1;
    counts[step.status] += 1;
  }
  return counts;
}

/** The upstream and downstream nodes of `node`. */
export function neighbours(run: Pick<PipelineRun, "graph">, node: string): { upstream: string[]; downstream: string[] } {
  const entries = graphEntries(run);
  const self = entries.find((e) => e.id === node);
  return {
    upstream: self ? [...new Set(self.upstream)] : [],
    downstream: entries.filter((e) => e.upstream.includes(node)).map((e) => e.id),
  };
}

/** The line that says what went wrong ("RuntimeError: CUDA out of memory"), from a traceback. */
export function errorHeadline(error: string | null | undefined): string {
  if (!error) return "";
  const lines = error
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "");
  if (lines.length === 0) return "";
  const exception = /^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Timeout|Warning|Failed|Cancelled)\b.*/;
  // "step train failed:" before a traceback names the step: keep it in front
  const step = /^(step \S+ failed):/.exec(lines[0]);
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    if (!lines[i].startsWith(" ") && exception.test(lines[i])) return step && i > 0 ? `${step[1]}: ${lines[i]}` : lines[i];
  }
  const first = lines[0].replace(/^attempt \d+ failed, retrying:\s*/, "");
  return first || lines[lines.length - 1].trim();
}

/** Whether the error text holds more than its headline (a traceback worth showing). */
export function hasTraceback(error: string | null | undefined): boolean {
  return Boolean(error && error.trim().split("\n").length > 1);
}

export interface TimelineBar {
  node: string;
  label: string;
  status: StepStatus;
  /** ms from the pipeline run's start */
  start: number;
  end: number;
  running: boolean;
}

/** One bar per step that started, relative to the pipeline run's start (running bars end now). */
export function timelineBars(run: Pick<PipelineRun, "graph" | "steps" | "started_at">, now: number = Date.now()): TimelineBar[] {
  const origin = parseTime(run.started_at);
  if (origin === null) return [];
  const bars: TimelineBar[] = [];
  for (const step of stepsOf(run)) {
    const start = parseTime(step.started_at);
    if (start === null) continue;
    const end = parseTime(step.ended_at) ?? (step.status === "running" ? now : start);
    bars.push({
      node: step.node,
      label: step.kind === "map" ? `${step.node} (map)` : step.kind === "load" ? `load ${step.step}` : step.node,
      status: step.status,
      start: Math.max(0, start - origin),
      end: Math.max(0, end - origin),
      running: step.status === "running",
    });
  }
  return bars;
}

/** Colours of statuses in charts (match the status pills). */
export const STATUS_COLORS: Record<string, string> = {
  succeeded: "#1f9d55",
  finished: "#1f9d55",
  cached: "#8b5cf6",
  failed: "#d6333a",
  running: "#2463eb",
  pending: "#e0a526",
  skipped: "#aab2c0",
  cancelled: "#aab2c0",
};

/** Inline JSON output pretty-printed when it parses, as is otherwise. */
export function prettyInline(inline: string | null | undefined): string {
  if (inline === null || inline === undefined) return "";
  try {
    const value: unknown = JSON.parse(inline);
    // a list of plain values reads best on (wrapped) lines of its own, not one value a line
    if (Array.isArray(value) && value.every((v) => v === null || typeof v !== "object")) return value.map((v) => JSON.stringify(v)).join(", ").replace(/^/, "[").concat("]");
    return JSON.stringify(value, null, 2);
  } catch {
    return inline;
  }
}

/** The dataset a load node reads: "transactions@1" → name and version ("latest" when not said). */
export function loadRef(ref: string | null | undefined): { dataset: string; version: string } | null {
  if (!ref) return null;
  const at = ref.lastIndexOf("@");
  if (at <= 0) return { dataset: ref, version: "latest" };
  return { dataset: ref.slice(0, at), version: ref.slice(at + 1) || "latest" };
}

/** A pipeline run is live while it runs: poll it. */
export const isLive = (status: string | null | undefined): boolean => status === "running";
