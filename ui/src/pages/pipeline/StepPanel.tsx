import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { ApiError, type Schemas, getText, seg } from "../../api/client";
import { useGet } from "../../api/hooks";
import { ErrorMessage, Loading } from "../../components/ErrorMessage";
import { KeyValue } from "../../components/KeyValue";
import { StatusBadge } from "../../components/StatusBadge";
import { formatBytes, formatDuration, formatNumber, formatTime } from "../../format";
import { FanOut } from "./FanOut";
import { type PipelineRun, type StepRecord, errorHeadline, graphEntries, hasTraceback, loadRef, neighbours, prettyInline, stepDuration, stepWall } from "./logic";

const LOG = "dockyard/output.log";
const LOG_LIMIT = 200_000;

/** Everything about one step of a pipeline run: state, error, fan-out, inputs, output, logs. */
export function StepPanel({
  run,
  step,
  now,
  onSelect,
  onClose,
}: {
  run: PipelineRun;
  step: StepRecord;
  now: number;
  onSelect: (node: string) => void;
  onClose: () => void;
}) {
  const { upstream, downstream } = neighbours(run, step.node);
  const took = stepDuration(step, now);
  const wall = stepWall(step, now);
  // a cached step did not run: its params and log are those of the run that made the output
  const sourceRun = step.run_id ?? step.cached_from ?? null;
  const stepRun = useGet<Schemas["Run"]>(sourceRun ? `/runs/${seg(sourceRun)}` : null, {}, { staleTime: 30_000 });
  const io = useGet<Schemas["RunIO"][]>(step.run_id ? `/runs/${seg(step.run_id)}/io` : null, {}, { staleTime: 30_000 });

  const rows: [React.ReactNode, React.ReactNode][] = [
    ["kind", step.kind === "map" ? "fan-out (map)" : step.kind === "load" ? "dataset load" : "step"],
  ];
  if (step.kind === "load") {
    const entry = graphEntries(run).find((e) => e.id === step.node);
    const ref = loadRef(entry?.ref ?? step.step);
    if (ref) {
      const href = `/datasets/${seg(run.project)}/${seg(ref.dataset)}${/^\d+$/.test(ref.version) ? `?version=${ref.version}` : ""}`;
      rows.push([
        "dataset",
        <Link key="d" to={href}>
          {run.project}/{ref.dataset}@{ref.version}
        </Link>,
      ]);
    }
  }
  if (step.kind !== "load") rows.push(["function", step.step || step.node]);
  if (step.kind !== "load") rows.push(["attempts", String(step.attempts)]);
  if (step.started_at) rows.push(["started", formatTime(step.started_at)]);
  if (step.ended_at) rows.push(["ended", formatTime(step.ended_at)]);
  if (took !== null) rows.push([step.status === "running" ? "running for" : "duration", formatDuration(took)]);
  if (wall !== null && took !== null && Math.abs(wall - took) > 250 && step.status !== "running")
    rows.push(["wall time", `${formatDuration(wall)} (with scheduling and upload)`]);
  if (step.kind !== "load") {
    rows.push([
      "cache",
      step.status === "cached" ? (
        <span key="c">
          hit: reused the output of{" "}
          {step.cached_from ? <Link to={`/runs/${seg(step.cached_from)}`}>run {step.cached_from.slice(0, 12)}</Link> : "an earlier run"}
        </span>
      ) : !step.cache_key ? (
        "not cached"
      ) : step.status === "succeeded" ? (
        "miss: ran and stored its output"
      ) : (
        "miss"
      ),
    ]);
    if (step.cache_key)
      rows.push([
        "cache key",
        <span key="k" title={step.cache_key}>
          {step.cache_key.slice(0, 16)}…
        </span>,
      ]);
  }

  return (
    <div className="panel step-panel" data-testid="step-panel">
      <div className="sp-head">
        <h2>{step.kind === "load" ? "Load" : "Step"} {step.node}</h2>
        <StatusBadge status={step.status} />
        <span className="spacer" />
        {step.run_id && (
          <Link to={`/runs/${seg(step.run_id)}`} data-testid="step-run-link">
            Step run →
          </Link>
        )}
        <button className="sp-close" onClick={onClose} title="Close (Esc)" aria-label="close">
          ×
        </button>
      </div>

      {step.error && (
        <div className="sp-section">
          <div className="sp-error" data-testid="step-error">
            <div className="headline">{errorHeadline(step.error)}</div>
            {hasTraceback(step.error) && (
              <details>
                <summary className="small">traceback</summary>
                <pre>{step.error.trim()}</pre>
              </details>
            )}
          </div>
        </div>
      )}

      <div className="sp-section">
        <KeyValue rows={rows} />
      </div>

      {step.kind === "map" && (
        <div className="sp-section">
          <h3>Fan-out</h3>
          <FanOut itemsStatus={step.items_status} itemsTotal={step.items_total} />
        </div>
      )}

      {(upstream.length > 0 || downstream.length > 0) && (
        <div className="sp-section">
          <h3>Inputs and dependents</h3>
          <div className="row small">
            <span className="muted">from</span>
            <span className="sp-chips">
              {upstream.length === 0 && <span className="muted">nothing (a root step)</span>}
              {upstream.map((n) => (
                <button key={n} className="sp-chip" onClick={() => onSelect(n)}>
                  {n}
                </button>
              ))}
            </span>
          </div>
          <div className="row small" style={{ marginTop: 6 }}>
            <span className="muted">to</span>
            <span className="sp-chips">
              {downstream.length === 0 && <span className="muted">nothing (a final step)</span>}
              {downstream.map((n) => (
                <button key={n} className="sp-chip" onClick={() => onSelect(n)}>
                  {n}
                </button>
              ))}
            </span>
          </div>
        </div>
      )}

      {io.data && io.data.length > 0 && (
        <div className="sp-section">
          <h3>Data and models</h3>
          <RunIO rows={io.data} />
        </div>
      )}

      {sourceRun && (
        <div className="sp-section">
          <h3>Parameters</h3>
          {stepRun.error ? (
            <ErrorMessage error={stepRun.error} what="the step's run" />
          ) : !stepRun.data ? (
            <Loading />
          ) : (
            <KeyValue rows={Object.entries(stepRun.data.params ?? {}).map(([k, v]) => [k, v])} empty="no parameters" />
          )}
        </div>
      )}

      {stepRun.data && Object.keys(stepRun.data.metrics ?? {}).length > 0 && (
        <div className="sp-section">
          <h3>Metrics</h3>
          <KeyValue rows={Object.entries(stepRun.data.metrics ?? {}).map(([k, m]) => [k, formatNumber(m.last)])} />
        </div>
      )}

      {step.output && (
        <div className="sp-section">
          <h3>Output</h3>
          <Output output={step.output} />
        </div>
      )}

      {step.kind !== "load" && (
        <div className="sp-section">
          <h3>Output log</h3>
          <StepLog runId={sourceRun} status={step.status} cachedFrom={step.run_id ? null : step.cached_from ?? null} />
        </div>
      )}
      {step.kind === "map" && step.run_id && step.status !== "pending" && <FailedItemLogs runId={step.run_id} />}
    </div>
  );
}

function RunIO({ rows }: { rows: Schemas["RunIO"][] }) {
  return (
    <table className="data">
      <tbody>
        {rows.map((r, i) => (
          <tr key={i}>
            <td className="muted small">{r.direction === "input" ? "read" : "wrote"}</td>
            <td className="muted small">{r.kind.replace("_", " ")}</td>
            <td>{ioLink(r)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ioLink(r: Schemas["RunIO"]): React.ReactNode {
  // labels read "project/dataset@version" or "model/vN"
  if (r.kind.startsWith("dataset")) {
    const m = /^([^/]+)\/([^@]+)(?:@(\d+))?$/.exec(r.label);
    if (m) return <Link to={`/datasets/${seg(m[1])}/${seg(m[2])}${m[3] ? `?version=${m[3]}` : ""}`}>{r.label}</Link>;
  }
  if (r.kind.startsWith("model")) {
    const m = /^(.+?)(?:\/v(\d+))?$/.exec(r.label);
    if (m) return <Link to={`/models/${seg(m[1])}${m[2] ? `?version=${m[2]}` : ""}`}>{r.label}</Link>;
  }
  return r.label;
}

function Output({ output }: { output: NonNullable<StepRecord["output"]> }) {
  if (output.kind === "items") {
    return (
      <p className="small">
        a list of {output.count.toLocaleString("en-US")} item outputs <span className="muted mono">{output.digest.slice(0, 12)}</span>
      </p>
    );
  }
  const rows: [string, React.ReactNode][] = [
    ["kind", output.kind],
    ["summary", output.summary || "—"],
  ];
  for (const file of output.files ?? []) rows.push([file.path, formatBytes(file.size)]);
  return (
    <>
      <KeyValue rows={rows} />
      {output.inline !== null && output.inline !== undefined && output.inline !== output.summary && <pre style={{ marginTop: 8, maxHeight: 220, whiteSpace: "pre-wrap", wordBreak: "break-word" }}>{prettyInline(output.inline)}</pre>}
    </>
  );
}

/** The step run's printed output (`dockyard/output.log`); a missing log is "no output". */
function StepLog({ runId, status, cachedFrom }: { runId: string | null; status: string; cachedFrom: string | null }) {
  const log = useQuery<string | null, ApiError>({
    queryKey: ["step-log", runId, status],
    enabled: Boolean(runId) && status !== "running" && status !== "pending",
    staleTime: 60_000,
    queryFn: async ({ signal }) => {
      try {
        return await getText(`/runs/${seg(runId as string)}/artifacts/content`, { path: LOG }, signal);
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }
    },
  });
  if (status === "pending") return <p className="muted small">not started</p>;
  if (status === "running") return <p className="muted small">The log is stored when the step finishes.</p>;
  if (!runId) return <p className="muted small">no output (the step has no run)</p>;
  if (log.error) return <ErrorMessage error={log.error} what="the step's log" />;
  if (log.isPending) return <Loading what="log" />;
  const text = log.data;
  return (
    <>
      {cachedFrom && <p className="sp-note">from the run that made the cached output</p>}
      {text === null || text === undefined || text.trim() === "" ? (
        <p className="muted small" data-testid="step-log-empty">
          no output
        </p>
      ) : (
        <pre className="sp-log" data-testid="step-log">
          {text.length > LOG_LIMIT ? `… (${formatBytes(text.length - LOG_LIMIT)} earlier left out)\n${text.slice(-LOG_LIMIT)}` : text}
        </pre>
      )}
    </>
  );
}

const FAILED_PREFIX = "dockyard/failed/";

/** A fan-out's failed items each leave `dockyard/failed/<item>.log`: what it printed and its
 * traceback. Lists them and shows the chosen one. */
function FailedItemLogs({ runId }: { runId: string }) {
  const [chosen, setChosen] = useState<string | null>(null);
  const listed = useGet<Schemas["Artifact"][]>(`/runs/${seg(runId)}/artifacts`, { prefix: FAILED_PREFIX }, { staleTime: 10_000 });
  const items = (listed.data ?? [])
    .map((a) => ({ path: a.path, item: Number(a.path.slice(FAILED_PREFIX.length).replace(/\.log$/, "")) }))
    .filter((a) => Number.isInteger(a.item))
    .sort((a, b) => a.item - b.item);
  const path = chosen ?? items[0]?.path ?? null;
  const log = useQuery<string, ApiError>({
    queryKey: ["item-log", runId, path],
    enabled: path !== null,
    staleTime: 60_000,
    queryFn: ({ signal }) => getText(`/runs/${seg(runId)}/artifacts/content`, { path }, signal),
  });
  if (listed.error) return <ErrorMessage error={listed.error} what="the failed items' logs" />;
  if (items.length === 0) return null;
  return (
    <div className="sp-section" data-testid="failed-item-logs">
      <h3>Failed items ({items.length.toLocaleString("en-US")})</h3>
      <div className="row small">
        {items.slice(0, 60).map((a) => (
          <button key={a.path} className={a.path === path ? "primary" : ""} onClick={() => setChosen(a.path)}>
            item {a.item}
          </button>
        ))}
        {items.length > 60 && <span className="muted">and {items.length - 60} more</span>}
      </div>
      {log.error ? (
        <ErrorMessage error={log.error} what="the item's log" />
      ) : log.isPending ? (
        <Loading what="log" />
      ) : (
        <pre className="sp-log" data-testid="item-log">
          {log.data.length > LOG_LIMIT ? `… (${formatBytes(log.data.length - LOG_LIMIT)} earlier left out)\n${log.data.slice(-LOG_LIMIT)}` : log.data}
        </pre>
      )}
    </div>
  );
}
