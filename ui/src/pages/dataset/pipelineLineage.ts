// Lineage through pipelines. The server's lineage follows what runs recorded reading and
// writing; inside a pipeline, steps hand their outputs to each other without recording it
// (featurize → train → register). Expanding a pipeline run into its steps (from the
// pipeline run's graph) and what each step read and wrote joins the two: a dataset read by a
// pipeline leads to the model its register step wrote. Pure functions, unit-tested.
import type { Schemas } from "../../api/client";
import type { GraphEdge, GraphNode } from "../../components/graphLayout";

export type PipelineRun = Schemas["PipelineRun"];
export type RunIO = Schemas["RunIO"];
type Run = Pick<Schemas["Run"], "id" | "parent_id" | "tags">;

const DATASET_LABEL = /^(.+?)\/(.+)@(\d+)$/;
const MODEL_LABEL = /^(.+)\/v(\d+)$/;
const TONE: Record<string, string> = { dataset_version: "dataset", model_version: "model", run: "run" };

/** The page of something a run read or wrote, from its kind and label. */
export function ioHref(kind: string, ref: string, label: string): string | undefined {
  if (kind === "run") return `/runs/${encodeURIComponent(ref)}`;
  if (kind === "dataset_version") {
    const m = DATASET_LABEL.exec(label);
    if (m) return `/datasets/${encodeURIComponent(m[1])}/${encodeURIComponent(m[2])}?version=${m[3]}&tab=lineage`;
  }
  if (kind === "model_version") {
    const m = MODEL_LABEL.exec(label);
    if (m) return `/models/${encodeURIComponent(m[1])}?version=${m[2]}&tab=lineage`;
  }
  return undefined;
}

/** The pipeline runs worth expanding around these runs: a run tagged as a pipeline, or the
 * parent of a run tagged as a pipeline step. */
export function pipelineIds(runs: readonly Run[]): string[] {
  const ids = new Set<string>();
  for (const run of runs) {
    const tags = run.tags ?? {};
    if (tags["dockyard.pipeline"]) ids.add(run.id);
    if (tags["dockyard.pipeline.step"] && run.parent_id) ids.add(run.parent_id);
  }
  return [...ids];
}

/** The run ids of a pipeline run's steps. */
export function stepRunIds(pipeline: PipelineRun): string[] {
  return (pipeline.steps ?? []).map((s) => s.run_id).filter((id): id is string => Boolean(id));
}

interface GraphSpec {
  id: string;
  kind?: string;
  step?: string | null;
  upstream?: string[];
  ref?: string | null;
}

/** `graph` with each pipeline's steps added (linked as the pipeline's graph says), each load
 * of a dataset joined to that dataset's node, and what each step run read and wrote. Nodes
 * already in `graph` keep their id and link; run nodes that are steps say so. Edges are
 * unique per pair of nodes (a labelled one wins). */
export function expandPipelines(
  graph: { nodes: GraphNode[]; edges: GraphEdge[] },
  pipelines: readonly PipelineRun[],
  stepIo: Record<string, RunIO[]>,
): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes = new Map(graph.nodes.map((n) => [n.id, { ...n }]));
  const byLabel = new Map<string, string>();
  for (const n of graph.nodes) if (n.tone === "dataset" || n.tone === "model") byLabel.set(n.label, n.id);
  const edges = new Map<string, GraphEdge>();
  const addEdge = (from: string, to: string, label?: string) => {
    if (from === to) return;
    const key = `${from}|${to}`;
    const old = edges.get(key);
    if (!old || (!old.label && label)) edges.set(key, { from, to, label });
  };
  for (const e of graph.edges) addEdge(e.from, e.to, e.label);
  const entity = (io: { kind: string; ref: string; label: string }): string => {
    const id = `${io.kind}:${io.ref}`;
    if (!nodes.has(id)) {
      const same = byLabel.get(io.label);
      if (same) return same;
      nodes.set(id, { id, label: io.label || io.ref, detail: io.kind.replace("_", " "), tone: TONE[io.kind] ?? "default", href: ioHref(io.kind, io.ref, io.label) });
      byLabel.set(io.label, id);
    }
    return id;
  };

  for (const pipeline of pipelines) {
    const records = new Map((pipeline.steps ?? []).map((s) => [s.node, s]));
    const spec = (pipeline.graph ?? []) as unknown as GraphSpec[];
    const idOf = new Map<string, string>();
    for (const g of spec) {
      const record = records.get(g.id);
      const kind = g.kind ?? record?.kind ?? "step";
      if (kind === "load") {
        const ref = String(g.ref ?? record?.step ?? g.id);
        const label = ref.includes("/") ? ref : `${pipeline.project}/${ref}`;
        const known = byLabel.get(label);
        if (known) idOf.set(g.id, known);
        else {
          const id = `load:${pipeline.id}:${g.id}`;
          nodes.set(id, { id, label, detail: "dataset version", tone: "dataset", href: ioHref("dataset_version", "", label) });
          byLabel.set(label, id);
          idOf.set(g.id, id);
        }
        continue;
      }
      const runId = record?.run_id ?? null;
      const id = runId ? `run:${runId}` : `step:${pipeline.id}:${g.id}`;
      const status = record?.status ?? "pending";
      const name = g.step || record?.step || g.id;
      const detail = `step of ${pipeline.pipeline}${status === "succeeded" ? "" : ` · ${status}`}${kind === "map" ? " · fan-out" : ""}`;
      const tone = ["failed", "cached", "running", "pending", "skipped", "cancelled"].includes(status) ? status : "run";
      const existing = nodes.get(id);
      // a node that already says what it is (the model's source run) keeps its words
      const keep = existing?.detail && existing.detail !== "run";
      nodes.set(id, {
        ...(existing ?? {}),
        id,
        label: keep ? existing.label : name,
        detail: keep ? existing.detail : detail,
        tone,
        href: existing?.href ?? (runId ? `/runs/${encodeURIComponent(runId)}` : `/pipelines/${encodeURIComponent(pipeline.id)}`),
      });
      idOf.set(g.id, id);
    }
    for (const g of spec) {
      const to = idOf.get(g.id);
      if (!to) continue;
      for (const up of g.upstream ?? []) {
        const from = idOf.get(up);
        if (from) addEdge(from, to);
      }
    }
    // the pipeline run itself: mark it, and drop edges to its steps that its graph now explains
    const pipelineId = `run:${pipeline.id}`;
    const pipelineNode = nodes.get(pipelineId);
    if (pipelineNode) {
      pipelineNode.detail = `pipeline run · ${pipeline.status}`;
      pipelineNode.href = `/pipelines/${encodeURIComponent(pipeline.id)}`;
    }
    const steps = new Set(idOf.values());
    for (const [key, e] of edges) if (e.from === pipelineId && steps.has(e.to) && e.label === "step") edges.delete(key);
    for (const record of pipeline.steps ?? []) {
      if (!record.run_id) continue;
      const step = `run:${record.run_id}`;
      for (const io of stepIo[record.run_id] ?? []) {
        const other = entity(io);
        if (io.direction === "input") addEdge(other, step, "read");
        else addEdge(step, other, "wrote");
      }
    }
  }
  return { nodes: [...nodes.values()], edges: reduceUnlabelled([...edges.values()]) };
}

/** The edges without the unlabelled ones (a pipeline's step-to-step hand-overs) that another
 * path already implies: featurize → register goes when featurize → train → register is
 * there. What depends on what (reachability, which is what lineage tells) stays the same;
 * the picture loses the clutter. Labelled edges (recorded reads and writes) all stay. */
export function reduceUnlabelled(edges: GraphEdge[]): GraphEdge[] {
  const out = new Map<string, GraphEdge[]>();
  for (const e of edges) out.set(e.from, [...(out.get(e.from) ?? []), e]);
  const reachableWithout = (skip: GraphEdge): boolean => {
    const seen = new Set<string>([skip.from]);
    const stack = (out.get(skip.from) ?? []).filter((e) => e !== skip).map((e) => e.to);
    while (stack.length) {
      const at = stack.pop() as string;
      if (at === skip.to) return true;
      if (seen.has(at)) continue;
      seen.add(at);
      for (const e of out.get(at) ?? []) if (e !== skip) stack.push(e.to);
    }
    return false;
  };
  const dropped = new Set<GraphEdge>();
  for (const e of edges) {
    if (e.label) continue;
    if (reachableWithout(e)) {
      dropped.add(e);
      out.set(e.from, (out.get(e.from) ?? []).filter((x) => x !== e));
    }
  }
  return edges.filter((e) => !dropped.has(e));
}

/** Left to right when that fits `maxWidth`, else top to bottom if that is less wide. */
export function chooseDirection(width: { LR: number; TB: number }, maxWidth: number): "LR" | "TB" {
  return width.LR <= maxWidth || width.TB >= width.LR ? "LR" : "TB";
}
