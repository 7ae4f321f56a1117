// Where a model version came from and where it went: source run (and the pipeline run it is
// a step of), the data they read, the runs that loaded the version and what they wrote.
import { useQueries } from "@tanstack/react-query";
import { useMemo } from "react";
import { Link, useSearchParams } from "react-router";
import { type Schemas, getJson, seg } from "../../api/client";
import { useGet } from "../../api/hooks";
import { Pending } from "../../components/ErrorMessage";
import { KeyValue } from "../../components/KeyValue";
import { StatusBadge } from "../../components/StatusBadge";
import { elapsed, formatDuration, formatNumber, formatTime } from "../../format";
import { LineageGraph } from "../dataset/LineageGraph";
import { expandPipelines } from "../dataset/pipelineLineage";
import { usePipelineLineage } from "../dataset/usePipelineLineage";
import { type RunIO, entityHref, modelLineageGraph, pickMetrics } from "./logic";

const MAX_EVALUATIONS = 12;

export function LineageTab({ name, version, preferred }: { name: string; version: number; preferred: string[] }) {
  const lineage = useGet<Schemas["ModelLineage"]>(`/models/${seg(name)}/versions/${version}/lineage`, {}, { staleTime: 30_000 });
  const data = lineage.data;
  const parentId = data?.run?.parent_id ?? null;
  const parent = useGet<Schemas["Run"]>(parentId ? `/runs/${seg(parentId)}` : null);
  const parentIo = useGet<RunIO[]>(parentId ? `/runs/${seg(parentId)}/io` : null);
  const evaluations = useMemo(() => [...(data?.evaluations ?? [])].sort((a, b) => b.start_time.localeCompare(a.start_time)), [data]);
  const ios = useQueries({
    queries: evaluations.slice(0, MAX_EVALUATIONS).map((run) => ({
      queryKey: [`/runs/${seg(run.id)}/io`, {}],
      queryFn: ({ signal }: { signal: AbortSignal }) => getJson<RunIO[]>(`/runs/${seg(run.id)}/io`, {}, signal),
    })),
  });
  // ios is a new array every render; ioKey says when its answers changed
  const ioKey = ios.map((q) => q.dataUpdatedAt).join(",");
  const [params, setParams] = useSearchParams();
  const steps = params.get("steps") !== "0";
  const runIds = useMemo(() => [data?.run?.id, parentId, ...evaluations.map((r) => r.id)].filter((x): x is string => Boolean(x)), [data, parentId, evaluations]);
  const expansion = usePipelineLineage(runIds, steps);
  const graph = useMemo(() => {
    if (!data) return null;
    const evaluationIo: Record<string, RunIO[]> = {};
    evaluations.slice(0, MAX_EVALUATIONS).forEach((run, i) => {
      const found = ios[i]?.data;
      if (found) evaluationIo[run.id] = found;
    });
    const base = modelLineageGraph({ lineage: data, parent: parent.data, parentIo: parentIo.data ?? [], evaluationIo, maxEvaluations: MAX_EVALUATIONS });
    return steps ? { ...base, ...expandPipelines(base, expansion.pipelines, expansion.stepIo) } : base;
  }, [data, parent.data, parentIo.data, evaluations, ioKey, steps, expansion]);

  if (!data) return <Pending query={lineage} what="the lineage" />;
  const run = data.run;
  // a pipeline step's run has no git information of its own: its pipeline run has it
  const tags = parent.data?.tags ?? {};
  const fromParent = !data.code.commit && Boolean(tags["dockyard.git.commit"]);
  const code = fromParent
    ? {
        commit: tags["dockyard.git.commit"],
        branch: tags["dockyard.git.branch"],
        remote: tags["dockyard.git.remote"],
        dirty: tags["dockyard.git.dirty"] === undefined ? null : tags["dockyard.git.dirty"] === "true",
        diff_artifact: null,
        entry_point: tags["dockyard.entry_point"],
      }
    : data.code;
  const env = data.environment;
  return (
    <div data-testid="model-lineage">
      <div className="md-toolbar">
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
          />
          pipeline steps
        </label>
        {steps && expansion.loading && <span className="muted small">loading…</span>}
      </div>
      {graph && <LineageGraph nodes={graph.nodes} edges={graph.edges} selected={graph.root} testId="model-lineage-graph" />}
      <div className="md-legend">
        <span>
          <i className="model" />
          model version
        </span>
        <span>
          <i className="run" />
          run / pipeline step
        </span>
        <span>
          <i className="dataset" />
          dataset version
        </span>
        <span>click a node to open it</span>
      </div>
      <div className="md-two">
        <div className="panel">
          <h2>Source run</h2>
          {run ? (
            <KeyValue
              rows={[
                ["run", <Link to={`/runs/${seg(run.id)}`}>{run.name || run.id}</Link>],
                ["status", <StatusBadge status={run.status} />],
                ["project / experiment", `${run.project} / ${run.experiment}`],
                ...(parent.data ? ([["step of", <Link to={`/runs/${seg(parent.data.id)}`}>{parent.data.name}</Link>]] as [string, React.ReactNode][]) : []),
                ["user", run.user],
                ["started", formatTime(run.start_time)],
                ["duration", formatDuration(elapsed(run.start_time, run.end_time))],
                ["params", Object.keys(run.params ?? {}).length ? Object.entries(run.params ?? {}).map(([k, v]) => `${k}=${v}`).join(", ") : "none"],
              ]}
            />
          ) : (
            <p className="muted">The run this version was registered from is gone (deleted or purged).</p>
          )}
        </div>
        <div className="panel">
          <h2>Training data</h2>
          {data.inputs.length === 0 && (data.other_inputs ?? []).length === 0 ? (
            <p className="muted">
              The source run recorded no dataset it read.
              {parentIo.data?.some((io) => io.direction === "input") && " The pipeline run it is a step of read:"}
            </p>
          ) : null}
          <table className="data">
            <tbody>
              {data.inputs.map((input) => (
                <tr key={input.version_id}>
                  <td>
                    <Link to={`/datasets/${seg(input.project)}/${seg(input.dataset)}?version=${input.version}`}>
                      {input.project}/{input.dataset}@{input.version}
                    </Link>
                  </td>
                  <td className="num">{formatNumber(input.rows)} rows</td>
                  <td>
                    <StatusBadge status={input.status} />
                  </td>
                </tr>
              ))}
              {data.inputs.length === 0 &&
                (parentIo.data ?? [])
                  .filter((io) => io.direction === "input")
                  .map((io) => (
                    <tr key={io.ref}>
                      <td>{entityHref(io.kind, io.ref, io.label) ? <Link to={entityHref(io.kind, io.ref, io.label) as string}>{io.label}</Link> : io.label}</td>
                      <td className="muted">{io.kind.replace("_", " ")}</td>
                      <td className="muted small">read by {parent.data?.name ?? "the pipeline run"}</td>
                    </tr>
                  ))}
            </tbody>
          </table>
        </div>
      </div>
      <div className="panel" style={{ marginTop: 14 }}>
        <h2>
          Runs that loaded it <span className="muted small">({evaluations.length})</span>
        </h2>
        {evaluations.length === 0 ? (
          <p className="muted">No run has loaded this version yet (evaluations and batch scoring appear here).</p>
        ) : (
          <table className="data" data-testid="evaluations">
            <thead>
              <tr>
                <th>Run</th>
                <th>Status</th>
                <th>Experiment</th>
                <th>Started</th>
                <th>Metrics</th>
              </tr>
            </thead>
            <tbody>
              {evaluations.map((r) => (
                <tr key={r.id}>
                  <td>
                    <Link to={`/runs/${seg(r.id)}`}>{r.name || r.id}</Link>
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>{r.experiment}</td>
                  <td>{formatTime(r.start_time)}</td>
                  <td>
                    {pickMetrics(r.metrics, preferred, 4).map(([k, value]) => (
                      <span key={k} className="md-metric">
                        <span>{k}</span>
                        {formatNumber(value)}
                      </span>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <div className="md-two">
        <div className="panel">
          <h2>
            Code {fromParent && parent.data && <span className="muted small">of the pipeline run {parent.data.name}</span>}
          </h2>
          <KeyValue
            empty="no git information recorded"
            rows={(
              [
                ["commit", code.commit],
                ["branch", code.branch],
                ["remote", code.remote],
                ["uncommitted changes", code.dirty === null || code.dirty === undefined ? null : code.dirty ? "yes" : "no"],
                ["diff artifact", code.diff_artifact],
                ["entry point", code.entry_point],
              ] as [string, string | null | undefined][]
            )
              .filter(([, value]) => value)
              .map(([k, value]) => [k, value as string])}
          />
        </div>
        <div className="panel">
          <h2>Environment</h2>
          <KeyValue
            rows={[
              ["python", env.python ?? "unknown"],
              ["host", env.host ?? "unknown"],
              ["model needs", (env.requirements ?? []).join(", ") || "nothing recorded"],
            ]}
          />
          {(env.packages ?? []).length > 0 && (
            <>
              <h3>Packages of the source run ({env.packages?.length})</h3>
              <div className="md-pkgs">
                {(env.packages ?? []).map((p) => (
                  <div key={p}>{p}</div>
                ))}
              </div>
            </>
          )}
        </div>
      </div>
    </div>
  );
}
