// Where a version came from and where it went: the runs (pipeline steps) that wrote it and
// what they read, the runs that read it and what they made (models, other datasets).
import { useMemo } from "react";
import { Link, useSearchParams } from "react-router";
import { type Schemas, seg } from "../../api/client";
import { useGetKeep } from "../../api/hooks";
import { Pending } from "../../components/ErrorMessage";
import { LineageGraph } from "./LineageGraph";
import { lineageGraph, lineageHref, producersAndConsumers } from "./logic";
import { expandPipelines } from "./pipelineLineage";
import { usePipelineLineage } from "./usePipelineLineage";

const DIRECTIONS = ["both", "upstream", "downstream"] as const;

export function LineageTab({ version }: { version: Schemas["Version"] }) {
  const [params, setParams] = useSearchParams();
  const direction = (DIRECTIONS as readonly string[]).includes(params.get("direction") ?? "") ? (params.get("direction") as string) : "both";
  const depth = Math.min(20, Math.max(1, Number(params.get("depth")) || 3));
  const lineage = useGetKeep<Schemas["Lineage"]>(
    `/projects/${seg(version.project)}/datasets/${seg(version.dataset)}/versions/${version.number}/lineage`,
    { direction, depth },
  );
  const steps = params.get("steps") !== "0";
  const runIds = useMemo(() => (lineage.data?.nodes ?? []).filter((n) => n.kind === "run" && !n.missing).map((n) => n.id.slice("run:".length)), [lineage.data]);
  const expansion = usePipelineLineage(runIds, steps);
  const graph = useMemo(() => {
    if (!lineage.data) return null;
    const base = lineageGraph(lineage.data);
    return steps ? expandPipelines(base, expansion.pipelines, expansion.stepIo) : base;
  }, [lineage.data, steps, expansion]);
  const set = (name: string, value: string) =>
    setParams(
      (old) => {
        const next = new URLSearchParams(old);
        next.set(name, value);
        return next;
      },
      { replace: true },
    );
  const ends = lineage.data ? producersAndConsumers(lineage.data) : null;
  return (
    <div data-testid="lineage">
      <div className="ds-toolbar">
        <label>
          Direction
          <select value={direction} onChange={(e) => set("direction", e.target.value)}>
            {DIRECTIONS.map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        </label>
        <label>
          Depth
          <select value={depth} onChange={(e) => set("depth", e.target.value)}>
            {[1, 2, 3, 4, 5, 6, 8, 10].map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        </label>
        <label title="Expand pipeline runs into their steps, with what each step read and wrote">
          <input
            type="checkbox"
            checked={steps}
            onChange={(e) =>
              setParams(
                (old) => {
                  const next = new URLSearchParams(old);
                  if (e.target.checked) next.delete("steps");
                  else next.set("steps", "0");
                  return next;
                },
                { replace: true },
              )
            }
            data-testid="pipeline-steps"
          />
          pipeline steps
        </label>
        {(lineage.isFetching || (steps && expansion.loading)) && <span className="muted small">loading…</span>}
      </div>
      <Pending query={lineage} what="the lineage" />
      {graph && lineage.data && (
        <>
          {graph.edges.length === 0 ? (
            <div className="ds-empty">
              No run has written or read {version.project}/{version.dataset}@{version.number} yet. Reading it inside <code>dy.start_run(...)</code> records the run as a consumer;
              adding a version inside a run records the run as its producer.
            </div>
          ) : (
            <>
              <LineageGraph nodes={graph.nodes} edges={graph.edges} selected={lineage.data.root} testId="lineage-graph" />
              <div className="ds-legend">
                <span>
                  <i className="dataset" />
                  dataset version
                </span>
                <span>
                  <i className="run" />
                  run / pipeline step
                </span>
                <span>
                  <i className="model" />
                  model version
                </span>
                <span>
                  <i className="deleted" />
                  deleted
                </span>
                <span>click a node to open it</span>
              </div>
            </>
          )}
          {ends && (
            <div className="ds-two">
              <NodeList title="Written by" empty="no run recorded writing it" nodes={ends.wrote} />
              <NodeList title="Read by" empty="no run recorded reading it" nodes={ends.read} />
            </div>
          )}
        </>
      )}
    </div>
  );
}

function NodeList({ title, nodes, empty }: { title: string; nodes: Schemas["LineageNode"][]; empty: string }) {
  return (
    <div className="panel">
      <h2>{title}</h2>
      {nodes.length === 0 ? (
        <p className="muted">{empty}</p>
      ) : (
        <table className="data">
          <tbody>
            {nodes.map((n) => {
              const href = n.missing ? undefined : lineageHref(n.kind, n.id, n.label);
              return (
                <tr key={n.id}>
                  <td>{href ? <Link to={href}>{n.label}</Link> : n.label}</td>
                  <td className="muted ds-mono">{n.id.split(":").pop()}</td>
                  <td>{n.missing && <span className="ds-chip">deleted</span>}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
