// Lineage: what the run read and wrote (datasets, models), drawn with the run in the middle.
import { useQueries } from "@tanstack/react-query";
import { useMemo } from "react";
import { Link, useSearchParams } from "react-router";
import { type Schemas, getJson, seg } from "../../api/client";
import { useGet } from "../../api/hooks";
import { ErrorMessage, Loading } from "../../components/ErrorMessage";
import { Graph } from "../../components/Graph";
import { formatTime } from "../../format";
import { type Run, type RunIO, runPath } from "./api";
import { type Neighbour, kindName, lineageGraph, withNeighbours } from "./lineage";
import { lineageRef } from "./parse";

type DataLineage = { root: string; nodes: { id: string; kind: string; label: string }[]; edges: { source: string; target: string }[] };
type ModelLineage = { run?: Schemas["Run"] | null; evaluations?: Schemas["Run"][] };

/** The runs one hop beyond an input (who made it) or an output (who used it). */
async function neighbourOf(item: RunIO, signal: AbortSignal): Promise<Neighbour | null> {
  const ref = lineageRef(item.kind, item.label);
  const entity = `${item.kind}:${item.ref}`;
  const side = item.direction === "input" ? "upstream" : "downstream";
  if (ref.kind === "dataset" && ref.version !== null) {
    const g = await getJson<DataLineage>(
      `/projects/${seg(ref.project)}/datasets/${seg(ref.name)}/versions/${ref.version}/lineage`,
      { direction: side, depth: 1 },
      signal,
    );
    const near = new Set(g.edges.flatMap((e) => (e.source === g.root ? [e.target] : e.target === g.root ? [e.source] : [])));
    const runs = g.nodes.filter((n) => n.kind === "run" && near.has(n.id)).map((n) => ({ id: n.id.replace(/^run:/, ""), name: n.label }));
    return { entity, side, runs };
  }
  if (ref.kind === "model" && ref.version !== null) {
    const m = await getJson<ModelLineage>(`/models/${seg(ref.name)}/versions/${ref.version}/lineage`, {}, signal);
    const runs = side === "upstream" ? (m.run ? [m.run] : []) : (m.evaluations ?? []);
    return { entity, side, runs: runs.map((r) => ({ id: r.id, name: r.name, status: r.status })) };
  }
  return null;
}

export function LineageTab({ run }: { run: Run }) {
  const [params, setParams] = useSearchParams();
  const around = params.get("around") !== "0";
  const io = useGet<RunIO[]>(`${runPath(run.id)}/io`, {}, { refetchInterval: run.status === "running" ? 5000 : false });
  const neighbours = useQueries({
    queries: (around ? (io.data ?? []) : []).map((item) => ({
      queryKey: ["run-lineage-hop", item.kind, item.ref, item.direction],
      queryFn: ({ signal }: { signal: AbortSignal }) => neighbourOf(item, signal),
      staleTime: 60_000,
      retry: false,
    })),
  });
  const hops = neighbours.map((q) => q.data).filter((n): n is Neighbour => Boolean(n));
  const hopsKey = neighbours.map((q) => q.dataUpdatedAt).join(",");
  const graph = useMemo(
    () => withNeighbours(lineageGraph(run, io.data ?? []), run.id, hops),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [run, io.data, hopsKey],
  );
  if (io.error) return <ErrorMessage error={io.error} what="inputs and outputs" />;
  if (!io.data) return <Loading what="inputs and outputs" />;
  const items = io.data;
  return (
    <div data-testid="lineage-tab">
      {items.length === 0 ? (
        <div className="panel run-empty" data-testid="lineage-empty">
          <h2>No inputs or outputs recorded</h2>
          <p className="muted">
            Reading a dataset version or loading a model inside <code>dy.start_run</code> records it as an input; adding a
            dataset version or registering a model records an output.
          </p>
          {run.parent_id && (
            <p className="run-hint">
              <Link to={`/runs/${encodeURIComponent(run.parent_id)}?tab=lineage`}>See the parent run’s lineage →</Link>
            </p>
          )}
        </div>
      ) : (
        <>
          <section className="panel">
            <div className="run-panel-head">
              <h2>Inputs and outputs</h2>
              <span className="muted small">
                {items.filter((i) => i.direction === "input").length} in · {items.filter((i) => i.direction === "output").length} out — click a node to open it
              </span>
              <span className="spacer" />
              <label className="run-control" title="Also draw the runs that made this run's inputs and the runs that used its outputs">
                <input
                  type="checkbox"
                  checked={around}
                  data-testid="lineage-around"
                  onChange={(e) =>
                    setParams(
                      (old) => {
                        const next = new URLSearchParams(old);
                        if (e.target.checked) next.delete("around");
                        else next.set("around", "0");
                        return next;
                      },
                      { replace: true },
                    )
                  }
                />
                <span>Runs one step away</span>
              </label>
            </div>
            <div className="run-lineage-graph">
              <Graph nodes={graph.nodes} edges={graph.edges} direction="LR" selected={`run:${run.id}`} testId="lineage-graph" />
            </div>
          </section>
          <section className="panel">
            <table className="data">
              <thead>
                <tr>
                  <th>direction</th>
                  <th>kind</th>
                  <th>what</th>
                  <th>recorded (UTC)</th>
                </tr>
              </thead>
              <tbody>
                {items.map((item, i) => {
                  const ref = lineageRef(item.kind, item.label);
                  return (
                    <tr key={i}>
                      <td>
                        <span className={`run-badge io-${item.direction}`}>{item.direction}</span>
                      </td>
                      <td>{kindName(item.kind)}</td>
                      <td className="mono">{ref.href ? <Link to={ref.href}>{item.label}</Link> : item.label}</td>
                      <td className="muted">{formatTime(item.created_at)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </section>
        </>
      )}
    </div>
  );
}
