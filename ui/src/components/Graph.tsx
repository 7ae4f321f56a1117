import { useMemo } from "react";
import { useNavigate } from "react-router";
import { type GraphEdge, type GraphNode, layoutGraph } from "./graphLayout";

/** A DAG or lineage graph drawn as SVG; nodes with an href are links, `selected` is outlined. */
export function Graph({
  nodes,
  edges,
  direction = "LR",
  selected,
  onSelect,
  testId = "graph",
}: {
  nodes: GraphNode[];
  edges: GraphEdge[];
  direction?: "LR" | "TB";
  selected?: string | null;
  onSelect?: (id: string) => void;
  testId?: string;
}) {
  const navigate = useNavigate();
  const layout = useMemo(() => layoutGraph(nodes, edges, direction), [nodes, edges, direction]);
  if (layout.nodes.length === 0) return <p className="muted">nothing to draw</p>;
  return (
    <div className="graph" data-testid={testId}>
      <svg width={layout.width} height={layout.height} viewBox={`0 0 ${layout.width} ${layout.height}`}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" className="graph-arrow" />
          </marker>
        </defs>
        {layout.edges.map((edge, i) => (
          <g key={i}>
            <polyline
              className="graph-edge"
              points={edge.points.map((p) => `${p.x},${p.y}`).join(" ")}
              markerEnd="url(#arrow)"
            />
            {edge.label && edge.points.length > 0 && (
              <text className="graph-edge-label" x={edge.points[Math.floor(edge.points.length / 2)].x} y={edge.points[Math.floor(edge.points.length / 2)].y - 4}>
                {edge.label}
              </text>
            )}
          </g>
        ))}
        {layout.nodes.map((node) => {
          const clickable = Boolean(node.href || onSelect);
          return (
            <g
              key={node.id}
              className={`graph-node tone-${node.tone ?? "default"}${node.id === selected ? " selected" : ""}${clickable ? " clickable" : ""}`}
              transform={`translate(${node.x - node.width / 2}, ${node.y - node.height / 2})`}
              data-node={node.id}
              role={clickable ? "button" : undefined}
              onClick={() => {
                if (onSelect) onSelect(node.id);
                else if (node.href) navigate(node.href);
              }}
            >
              <title>{[node.label, node.detail].filter(Boolean).join("\n")}</title>
              <rect width={node.width} height={node.height} rx={7} />
              <text x={10} y={node.detail ? 19 : 28} className="graph-label">
                {clip(node.label, node.width)}
              </text>
              {node.detail && (
                <text x={10} y={36} className="graph-detail">
                  {clip(node.detail, node.width)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
    </div>
  );
}

function clip(text: string, width: number): string {
  const fits = Math.floor((width - 16) / 7.2);
  return text.length > fits ? `${text.slice(0, Math.max(1, fits - 1))}…` : text;
}
