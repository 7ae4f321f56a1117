// Layered layout of a directed graph (pipeline DAGs, lineage) with dagre.
import dagre from "@dagrejs/dagre";

export interface GraphNode {
  id: string;
  label: string;
  /** A second, smaller line (status, duration, version...). */
  detail?: string;
  /** Colours the node: a status (finished, failed, running, cached...) or a kind (run, dataset, model). */
  tone?: string;
  href?: string;
  width?: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  label?: string;
}

export interface PlacedNode extends GraphNode {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlacedEdge extends GraphEdge {
  points: { x: number; y: number }[];
}

export interface Layout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

const NODE_HEIGHT = 46;
const CHAR_WIDTH = 7.2;

/** Node width that fits its longest line. */
export function nodeWidth(node: GraphNode): number {
  const longest = Math.max(node.label.length, (node.detail ?? "").length);
  return node.width ?? Math.min(280, Math.max(110, 24 + longest * CHAR_WIDTH));
}

/** Positions (centres) for every node and polyline points for every edge; edges naming an
 * unknown node are dropped rather than drawn to nowhere. */
export function layoutGraph(nodes: GraphNode[], edges: GraphEdge[], direction: "LR" | "TB" = "LR"): Layout {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: direction, nodesep: 24, ranksep: 56 });
  g.setDefaultEdgeLabel(() => ({}));
  const known = new Set<string>();
  for (const node of nodes) {
    if (known.has(node.id)) continue;
    known.add(node.id);
    g.setNode(node.id, { width: nodeWidth(node), height: NODE_HEIGHT });
  }
  const kept = edges.filter((edge) => known.has(edge.from) && known.has(edge.to) && edge.from !== edge.to);
  kept.forEach((edge, i) => g.setEdge(edge.from, edge.to, {}, `e${i}`));
  dagre.layout(g);
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const placed: PlacedNode[] = [...known].map((id) => {
    const box = g.node(id);
    return { ...(byId.get(id) as GraphNode), x: box.x, y: box.y, width: box.width, height: box.height };
  });
  const placedEdges: PlacedEdge[] = kept.map((edge, i) => ({
    ...edge,
    points: (g.edge({ v: edge.from, w: edge.to, name: `e${i}` }).points ?? []).map((p: { x: number; y: number }) => ({ x: p.x, y: p.y })),
  }));
  return fitToBox(placed, placedEdges);
}

const MARGIN = 12;

/** Shifts everything so the drawing, long edges included (dagre may route them outside the size
 * it reports), starts at MARGIN, and measures the box that holds it. */
function fitToBox(nodes: PlacedNode[], edges: PlacedEdge[]): Layout {
  if (nodes.length === 0) return { nodes, edges, width: 0, height: 0 };
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  const take = (x: number, y: number) => {
    minX = Math.min(minX, x);
    minY = Math.min(minY, y);
    maxX = Math.max(maxX, x);
    maxY = Math.max(maxY, y);
  };
  for (const n of nodes) {
    take(n.x - n.width / 2, n.y - n.height / 2);
    take(n.x + n.width / 2, n.y + n.height / 2);
  }
  for (const e of edges) for (const p of e.points) take(p.x, p.y);
  const dx = MARGIN - minX;
  const dy = MARGIN - minY;
  return {
    nodes: nodes.map((n) => ({ ...n, x: n.x + dx, y: n.y + dy })),
    edges: edges.map((e) => ({ ...e, points: e.points.map((p) => ({ x: p.x + dx, y: p.y + dy })) })),
    width: maxX - minX + 2 * MARGIN,
    height: maxY - minY + 2 * MARGIN,
  };
}
