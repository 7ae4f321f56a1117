// The shared Graph, laid out left to right when that fits the page and top to bottom when
// a long pipeline would not. It also works around edges that dagre routes a little outside
// the box the layout reports (they were cut off at the top): the SVG may draw outside its
// box and gets a margin to do so (lineage.css).
import { useMemo } from "react";
import { Graph } from "../../components/Graph";
import { type GraphEdge, type GraphNode, layoutGraph } from "../../components/graphLayout";
import { chooseDirection } from "./pipelineLineage";
import "./lineage.css";

export function LineageGraph({ nodes, edges, selected, testId }: { nodes: GraphNode[]; edges: GraphEdge[]; selected?: string; testId: string }) {
  const direction = useMemo(() => {
    if (nodes.length < 6) return "LR";
    const available = typeof window === "undefined" ? 1300 : Math.max(600, window.innerWidth - 100);
    return chooseDirection({ LR: layoutGraph(nodes, edges, "LR").width, TB: layoutGraph(nodes, edges, "TB").width }, available);
  }, [nodes, edges]);
  return (
    <div className="lineage-graph">
      <Graph nodes={nodes} edges={edges} direction={direction} selected={selected} testId={testId} />
    </div>
  );
}
