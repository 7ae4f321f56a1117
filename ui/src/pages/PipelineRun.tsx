// One pipeline run: its DAG (live while it runs), a timeline, the steps and the selected
// step's details (?step=node), with a cancel button while it runs.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { type ApiError, sendJson, seg } from "../api/client";
import { useGet } from "../api/hooks";
import { ErrorMessage, Loading } from "../components/ErrorMessage";
import { Graph } from "../components/Graph";
import { KeyValue } from "../components/KeyValue";
import { PageHeader } from "../components/PageHeader";
import { StatusBadge } from "../components/StatusBadge";
import { formatAgo, formatDuration, formatTime } from "../format";
import {
  type PipelineRun as Run,
  errorHeadline,
  hasTraceback,
  isLive,
  pipelineGraph,
  runDuration,
  stepCounts,
  stepDuration,
  stepSummary,
  stepsOf,
  timelineBars,
} from "./pipeline/logic";
import { StepPanel } from "./pipeline/StepPanel";
import { Timeline } from "./pipeline/Timeline";
import { useNow } from "./pipeline/useNow";
import "./pipeline/pipeline.css";

const POLL_MS = 2000;

export default function PipelineRun() {
  const { runId = "" } = useParams();
  const path = `/pipelines/runs/${seg(runId)}`;
  // the whole record (with every step) while it runs: statuses, fan-out counts and timings move
  const run = useGet<Run>(path, {}, { refetchInterval: (query) => (isLive(query.state.data?.status) ? POLL_MS : false) });

  if (run.error) {
    return (
      <div>
        <PageHeader crumbs={[["Pipelines", "/pipelines"]]} title="Pipeline run" />
        <ErrorMessage error={run.error} what={run.error.status === 404 ? "unknown pipeline run" : "the pipeline run could not be loaded"} />
        <p>
          <Link to="/pipelines">See every pipeline run</Link>
        </p>
      </div>
    );
  }
  if (!run.data) return <Loading what="pipeline run" />;
  return <RunView run={run.data} path={path} fetching={run.isFetching} />;
}

function RunView({ run, path, fetching }: { run: Run; path: string; fetching: boolean }) {
  const live = isLive(run.status);
  const now = useNow(live);
  const [params, setParams] = useSearchParams();
  const selected = params.get("step");

  const select = useCallback(
    (node: string | null) =>
      setParams(
        (old) => {
          const next = new URLSearchParams(old);
          if (node && node !== old.get("step")) next.set("step", node);
          else next.delete("step");
          return next;
        },
        { replace: true },
      ),
    [setParams],
  );

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") select(null);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [select]);

  const graph = useMemo(() => pipelineGraph(run, now), [run, now]);
  const bars = useMemo(() => timelineBars(run, now), [run, now]);
  const steps = useMemo(() => stepsOf(run), [run]);
  const counts = stepCounts(run);
  const step = selected ? steps.find((s) => s.node === selected) : undefined;
  const duration = runDuration(run, now);

  return (
    <div data-testid="pipeline-run">
      <PageHeader
        crumbs={[
          ["Pipelines", "/pipelines"],
          [run.project, `/pipelines?project=${encodeURIComponent(run.project)}`],
        ]}
        title={
          <>
            {run.pipeline}
            {live && <span className="live-dot" title="live: refreshing every 2 s" />}
            <StatusBadge status={run.cancel_requested && live ? "cancelling" : run.status} />
          </>
        }
      >
        {fetching && live && <span className="small muted">live</span>}
        {live && <CancelButton run={run} path={path} />}
        <Link to={`/pipelines?project=${encodeURIComponent(run.project)}&pipeline=${encodeURIComponent(run.pipeline)}`}>Runs of this pipeline</Link>
        <Link to={`/runs/${seg(run.id)}`} className="btn-link" data-testid="tracked-run-link">
          Tracked run →
        </Link>
      </PageHeader>

      <div className="pr-meta">
        <span>
          project <Link to={`/projects/${seg(run.project)}`}>{run.project}</Link>
        </span>
        <span title={formatTime(run.started_at)}>
          started <b>{formatTime(run.started_at)}</b> ({formatAgo(run.started_at, now)})
        </span>
        <span>
          by <b>{run.created_by}</b>
        </span>
        <span>
          executor <b>{run.executor}</b>
        </span>
        {run.import_path && (
          <span>
            code <span className="mono">{run.import_path}</span>
          </span>
        )}
        {run.resumed_from && (
          <span>
            resumed from <Link to={`/pipelines/${seg(run.resumed_from)}`}>{run.resumed_from.slice(0, 12)}</Link>
          </span>
        )}
        <span className="mono muted">{run.id}</span>
      </div>

      <div className="pr-cards">
        <Card label={live ? "running for" : "duration"} value={formatDuration(duration) || "—"} />
        <Card
          label={counts.loads ? `steps + data load${counts.loads === 1 ? "" : "s"}` : "steps"}
          value={counts.loads ? `${counts.total} + ${counts.loads}` : String(counts.total)}
          testId="steps-card"
        />
        <Card label="succeeded" value={String(counts.succeeded)} tone={counts.succeeded ? "ok" : undefined} />
        <Card label="cache hits" value={String(counts.cached)} tone={counts.cached ? "cached" : undefined} />
        <Card label="failed" value={String(counts.failed)} tone={counts.failed ? "bad" : undefined} />
        {(counts.running > 0 || counts.pending > 0) && <Card label="running / waiting" value={`${counts.running} / ${counts.pending}`} tone={counts.running ? "running" : undefined} />}
        {counts.skipped > 0 && <Card label="skipped" value={String(counts.skipped)} />}
        {counts.cancelled > 0 && <Card label="cancelled" value={String(counts.cancelled)} />}
      </div>

      {run.error && (
        <div className={`pr-error${run.status === "cancelled" ? " neutral" : ""}`} data-testid="run-error">
          <strong>The pipeline run {run.status === "cancelled" ? "was cancelled" : "failed"}</strong>
          <div className="headline">{errorHeadline(run.error)}</div>
          {hasTraceback(run.error) && (
            <details>
              <summary className="small">traceback</summary>
              <pre>{run.error.trim()}</pre>
            </details>
          )}
        </div>
      )}

      <div className="panel pr-graph">
        <div className="panel-head">
          <h2>Graph</h2>
          <span className="small muted" data-testid="graph-note">
            click a step for its details · times: how long each step’s function ran
          </span>
          <Legend />
        </div>
        <Graph nodes={graph.nodes} edges={graph.edges} selected={selected} onSelect={(id) => select(id)} testId="pipeline-graph" />
      </div>

      <div className="pr-columns">
        <div>
          <div className="panel">
            <h2>Timeline</h2>
            <Timeline bars={bars} span={duration} selected={selected} onSelect={select} />
            <p className="small muted" data-testid="timeline-note">
              Bars: each step’s wall time, from its start to its end (with waiting for a worker and storing its output), on an axis as long as the
              pipeline run’s duration. The graph and the steps table give the time the step’s function ran.
            </p>
          </div>
          <div className="panel" style={{ padding: 0, overflow: "hidden" }}>
            <h2 style={{ padding: "14px 14px 0" }}>Steps</h2>
            <StepsTable steps={steps} selected={selected} now={now} onSelect={select} />
          </div>
          <div className="panel">
            <h2>Parameters</h2>
            <KeyValue rows={Object.entries(run.params).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])} empty="no parameters" />
          </div>
        </div>
        <div className="pr-side">
          {selected && !step ? (
            <div className="panel">
              <ErrorMessage error={new Error(`This pipeline run has no step "${selected}".`)} what="unknown step" />
              <button onClick={() => select(null)}>Show the run</button>
            </div>
          ) : step ? (
            <StepPanel run={run} step={step} now={now} onSelect={select} onClose={() => select(null)} />
          ) : (
            <div className="panel pr-hint">
              <span className="big">⬡</span>
              Select a step in the graph, the timeline or the table
              <br />
              to see its status, error, inputs, output and log.
            </div>
          )}
        </div>
      </div>
    </div>
  );
}

function Card({ label, value, tone, testId }: { label: string; value: string; tone?: string; testId?: string }) {
  return (
    <div className="card" data-testid={testId}>
      <div className={`value${tone ? ` ${tone}` : ""}`}>{value}</div>
      <div className="label">{label}</div>
    </div>
  );
}

function Legend() {
  return (
    <span className="pr-legend">
      {["succeeded", "cached", "running", "failed", "pending", "skipped", "dataset"].map((t) => (
        <span key={t}>
          <i className={`l-${t}`} />
          {t === "cached" ? "cache hit" : t}
        </span>
      ))}
    </span>
  );
}

function StepsTable({
  steps,
  selected,
  now,
  onSelect,
}: {
  steps: ReturnType<typeof stepsOf>;
  selected: string | null;
  now: number;
  onSelect: (node: string) => void;
}) {
  if (steps.length === 0) return <p className="muted" style={{ padding: 14 }}>This pipeline run has no steps.</p>;
  return (
    <table className="data pr-steps" data-testid="steps-table">
      <thead>
        <tr>
          <th>Step</th>
          <th>Status</th>
          <th className="num" title="the time the step's function ran (the timeline shows wall time)">
            Ran for
          </th>
          <th className="num">Attempts</th>
          <th>Detail</th>
        </tr>
      </thead>
      <tbody>
        {steps.map((s) => (
          <tr key={s.node} className={s.node === selected ? "selected" : ""} onClick={() => onSelect(s.node)} data-step={s.node}>
            <td>
              <b>{s.node}</b>
              {s.kind !== "step" && <span className="small muted"> {s.kind === "map" ? "map" : "load"}</span>}
            </td>
            <td>
              <StatusBadge status={s.status} />
            </td>
            <td className="num">{formatDuration(stepDuration(s, now))}</td>
            <td className="num">{s.kind === "load" ? "" : s.attempts}</td>
            <td className="detail" title={stepSummary(s, now)}>
              {stepSummary(s, now)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function CancelButton({ run, path }: { run: Run; path: string }) {
  const client = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const cancel = useMutation<Run, ApiError>({
    mutationFn: () => sendJson<Run>("POST", `${path}/cancel`),
    onSuccess: (updated) => {
      client.setQueryData([path, {}], updated);
      setConfirming(false);
    },
  });
  if (run.cancel_requested) return <span className="small muted">cancel requested…</span>;
  if (cancel.error)
    return (
      <span className="small" style={{ color: "var(--bad)" }} title={cancel.error.message}>
        cancel failed: {cancel.error.message}
      </span>
    );
  if (!confirming)
    return (
      <button onClick={() => setConfirming(true)} data-testid="cancel">
        Cancel run
      </button>
    );
  return (
    <span className="row">
      <span className="small">Stop this pipeline run?</span>
      <button className="danger" onClick={() => cancel.mutate()} disabled={cancel.isPending} data-testid="cancel-confirm">
        {cancel.isPending ? "Cancelling…" : "Yes, cancel"}
      </button>
      <button onClick={() => setConfirming(false)}>No</button>
    </span>
  );
}
