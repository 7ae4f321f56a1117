// The top of the run page: where the run lives, who ran it, when, and its family.
import { type ReactNode, useEffect, useState } from "react";
import { Link } from "react-router";
import type { Schemas } from "../../api/client";
import { useGet } from "../../api/hooks";
import { PageHeader } from "../../components/PageHeader";
import { StatusBadge } from "../../components/StatusBadge";
import { elapsed, formatAgo, formatDuration, formatTime } from "../../format";
import { type Run, runPath, useChildren } from "./api";

/** Milliseconds since the epoch, ticking every `ms` while `live`. */
export function useNow(live: boolean, ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!live) return undefined;
    const timer = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(timer);
  }, [live, ms]);
  return now;
}

/** A pipeline's own run (not one of its steps): it has a page of its own under /pipelines. */
export const isPipelineRun = (run: { tags?: Record<string, string> }) =>
  Boolean(run.tags?.["dockyard.pipeline"]) && !run.tags?.["dockyard.pipeline.step"];

function Fact({ label, children, testId }: { label: string; children: ReactNode; testId?: string }) {
  return (
    <div className="run-fact" data-testid={testId}>
      <div className="run-fact-label">{label}</div>
      <div className="run-fact-value">{children}</div>
    </div>
  );
}

function CopyId({ id }: { id: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <span className="run-id">
      <code title={id}>{id}</code>
      <button
        type="button"
        className="run-copy"
        title="Copy the run id"
        onClick={() => {
          void navigator.clipboard?.writeText(id).then(() => {
            setCopied(true);
            window.setTimeout(() => setCopied(false), 1200);
          });
        }}
      >
        {copied ? "copied" : "copy"}
      </button>
    </span>
  );
}

function Parent({ id }: { id: string }) {
  const parent = useGet<Schemas["Run"]>(runPath(id), {}, { staleTime: 60_000, retry: false });
  if (parent.error) return <span className="muted">{id.slice(0, 12)} (not found)</span>;
  if (!parent.data) return <span className="muted">…</span>;
  const pipeline = isPipelineRun(parent.data);
  return (
    <span>
      <Link to={pipeline ? `/pipelines/${encodeURIComponent(id)}` : `/runs/${encodeURIComponent(id)}`} data-testid="run-parent">
        {parent.data.name}
      </Link>{" "}
      <span className="muted small">{pipeline ? "pipeline" : "run"}</span>
    </span>
  );
}

const SHOWN_CHILDREN = 12;

function Children({ run }: { run: Run }) {
  const children = useChildren(run.id);
  const items = children.data?.items ?? [];
  if (items.length === 0) return null;
  const more = items.length - SHOWN_CHILDREN;
  return (
    <div className="run-children" data-testid="run-children">
      <span className="run-fact-label">{isPipelineRun(run) ? "Steps" : "Child runs"} ({children.data?.next_cursor ? `${items.length}+` : items.length})</span>
      {items.slice(0, SHOWN_CHILDREN).map((child) => (
        <Link key={child.id} to={`/runs/${encodeURIComponent(child.id)}`} className={`run-chip chip-${child.status}`} title={`${child.name} · ${child.status}`}>
          <span className={`run-dot dot-${child.status}`} />
          {child.name}
        </Link>
      ))}
      {more > 0 && <span className="muted small">and {more} more</span>}
    </div>
  );
}

export function RunHeader({ run }: { run: Run }) {
  const running = run.status === "running";
  const now = useNow(running);
  const duration = elapsed(run.start_time, run.end_time, now);
  const crumbs: [string, string][] = [
    ["Projects", "/"],
    [run.project, `/projects/${encodeURIComponent(run.project)}`],
    [run.experiment, `/runs?project=${encodeURIComponent(run.project)}&experiment=${encodeURIComponent(run.experiment)}`],
  ];
  return (
    <div className="run-header panel">
      <PageHeader
        crumbs={crumbs}
        title={
          <>
            <span data-testid="run-name">{run.name}</span>
            <StatusBadge status={run.status} />
            {run.deleted && <span className="status status-killed">deleted</span>}
          </>
        }
      >
        {isPipelineRun(run) && (
          <Link className="button-link" to={`/pipelines/${encodeURIComponent(run.id)}`}>
            Pipeline view →
          </Link>
        )}
      </PageHeader>
      <div className="run-facts">
        <Fact label="User">{run.user}</Fact>
        <Fact label="Started">
          <span title={`${formatTime(run.start_time)} UTC`}>{formatTime(run.start_time)}</span>{" "}
          <span className="muted small">{formatAgo(run.start_time, now)}</span>
        </Fact>
        <Fact label="Ended">{run.end_time ? formatTime(run.end_time) : <span className="muted">{running ? "still running" : "—"}</span>}</Fact>
        <Fact label="Duration" testId="run-duration">
          {formatDuration(duration)}
          {running && <span className="run-live" title="refreshed every 5 s" />}
        </Fact>
        {run.parent_id && (
          <Fact label="Parent">
            <Parent id={run.parent_id} />
          </Fact>
        )}
        <Fact label="Run ID">
          <CopyId id={run.id} />
        </Fact>
      </div>
      <Children run={run} />
    </div>
  );
}
