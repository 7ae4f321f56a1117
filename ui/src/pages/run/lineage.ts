// The run's inputs and outputs as graph nodes and edges: inputs left, the run, outputs right.
import type { GraphEdge, GraphNode } from "../../components/graphLayout";
import { lineageRef } from "./parse";

export interface IoRecord {
  direction: "input" | "output";
  kind: string;
  ref: string;
  label: string;
}

const KIND_NAMES: Record<string, string> = { dataset_version: "dataset", model_version: "model" };

export function kindName(kind: string): string {
  return KIND_NAMES[kind] ?? kind.replace(/_/g, " ");
}

/** A node per distinct entity and an edge per recorded read (entity -> run) or write (run -> entity). */
export function lineageGraph(
  run: { id: string; name: string; status: string },
  io: readonly IoRecord[],
): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const runNode = `run:${run.id}`;
  const nodes: GraphNode[] = [{ id: runNode, label: run.name, detail: `this run · ${run.status}`, tone: run.status }];
  const edges: GraphEdge[] = [];
  const seen = new Set<string>();
  const seenEdges = new Set<string>();
  for (const item of io) {
    const id = `${item.kind}:${item.ref}`;
    if (!seen.has(id)) {
      seen.add(id);
      const ref = lineageRef(item.kind, item.label);
      let label = item.label;
      let detail = kindName(item.kind);
      if (ref.kind === "dataset") {
        label = ref.name;
        detail = `dataset · ${ref.project}${ref.version !== null ? ` · v${ref.version}` : ""}`;
      } else if (ref.kind === "model") {
        label = ref.name;
        detail = `model${ref.version !== null ? ` · v${ref.version}` : ""}`;
      }
      nodes.push({
        id,
        label,
        detail,
        tone: ref.kind === "dataset" ? "dataset" : ref.kind === "model" ? "model" : undefined,
        href: ref.href ?? undefined,
      });
    }
    const [from, to] = item.direction === "input" ? [id, runNode] : [runNode, id];
    const key = `${from}>${to}`;
    if (seenEdges.has(key)) continue;
    seenEdges.add(key);
    edges.push({
      from,
      to,
      label: item.direction === "input" ? (item.kind === "model_version" ? "loaded" : "read") : item.kind === "model_version" ? "registered" : "wrote",
    });
  }
  return { nodes, edges };
}

export interface Neighbour {
  /** The entity node (`kind:ref`) the runs are attached to. */
  entity: string;
  /** upstream: the runs wrote the entity; downstream: the runs read it. */
  side: "upstream" | "downstream";
  runs: { id: string; name: string; status?: string }[];
}

/** Most runs drawn around one entity; the rest are summed up in one node. */
export const MAX_NEIGHBOURS = 5;

/** The graph with one more hop: who made each input, who used each output (not this run). */
export function withNeighbours(
  graph: { nodes: GraphNode[]; edges: GraphEdge[] },
  runId: string,
  neighbours: readonly Neighbour[],
): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes = [...graph.nodes];
  const edges = [...graph.edges];
  const ids = new Set(nodes.map((n) => n.id));
  const edgeKeys = new Set(edges.map((e) => `${e.from}>${e.to}`));
  const link = (from: string, to: string, label: string) => {
    const key = `${from}>${to}`;
    if (edgeKeys.has(key) || edgeKeys.has(`${to}>${from}`)) return;
    edgeKeys.add(key);
    edges.push({ from, to, label });
  };
  for (const n of neighbours) {
    if (!ids.has(n.entity)) continue;
    const others = n.runs.filter((r) => r.id !== runId);
    for (const r of others.slice(0, MAX_NEIGHBOURS)) {
      const id = `run:${r.id}`;
      if (!ids.has(id)) {
        ids.add(id);
        nodes.push({ id, label: r.name, detail: `run${r.status ? ` · ${r.status}` : ""}`, tone: "run", href: `/runs/${encodeURIComponent(r.id)}` });
      }
      if (n.side === "upstream") link(id, n.entity, "wrote");
      else link(n.entity, id, "read by");
    }
    if (others.length > MAX_NEIGHBOURS) {
      const id = `more:${n.side}:${n.entity}`;
      nodes.push({ id, label: `${others.length - MAX_NEIGHBOURS} more runs`, tone: "cancelled" });
      if (n.side === "upstream") link(id, n.entity, "");
      else link(n.entity, id, "");
    }
  }
  return { nodes, edges };
}
