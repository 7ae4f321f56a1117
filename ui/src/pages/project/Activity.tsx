// Lists of recent things (runs, pipeline runs, models) for the overview and the project page.
import { Link } from "react-router";
import { seg } from "../../api/client";
import { ErrorMessage, Loading } from "../../components/ErrorMessage";
import { StatusBadge } from "../../components/StatusBadge";
import { elapsed, formatAgo, formatDuration, formatTime } from "../../format";
import { type PipelineRun, runDuration, stepCounts } from "../pipeline/logic";
import type { RegisteredModel, Run } from "./data";
import { aliasList } from "./logic";

type Query<T> = { data?: T; error: unknown; isPending: boolean };

function State<T>({ query, what, empty, children }: { query: Query<T>; what: string; empty: boolean; children: () => React.ReactNode }) {
  if (query.error) return <ErrorMessage error={query.error} what={`${what} could not be loaded`} />;
  if (query.isPending) return <Loading what={what} />;
  if (empty) return <div className="feed-empty">No {what} yet.</div>;
  return <>{children()}</>;
}

export function RunFeed({ query, showProject = true, now }: { query: Query<{ items: Run[] }>; showProject?: boolean; now: number }) {
  const items = query.data?.items ?? [];
  return (
    <State query={query} what="runs" empty={items.length === 0}>
      {() => (
        <ul className="feed" data-testid="run-feed">
          {items.map((run) => (
            <li key={run.id}>
              <StatusBadge status={run.status} />
              <div className="main">
                <Link className="title" to={`/runs/${seg(run.id)}`}>
                  {run.name || run.id.slice(0, 12)}
                </Link>
                <div className="sub">
                  {showProject && (
                    <>
                      <Link to={`/projects/${seg(run.project)}`}>{run.project}</Link> /{" "}
                    </>
                  )}
                  <Link to={`/runs?project=${encodeURIComponent(run.project)}&experiment=${encodeURIComponent(run.experiment)}`}>{run.experiment}</Link>
                  {run.end_time && ` · ${formatDuration(elapsed(run.start_time, run.end_time))}`}
                  {run.user && ` · ${run.user}`}
                </div>
              </div>
              <span className="when" title={formatTime(run.start_time)}>
                {formatAgo(run.start_time, now)}
              </span>
            </li>
          ))}
        </ul>
      )}
    </State>
  );
}

export function PipelineFeed({ query, showProject = true, now }: { query: Query<{ items: PipelineRun[] }>; showProject?: boolean; now: number }) {
  const items = query.data?.items ?? [];
  return (
    <State query={query} what="pipeline runs" empty={items.length === 0}>
      {() => (
        <ul className="feed" data-testid="pipeline-feed">
          {items.map((run) => {
            const c = stepCounts(run);
            return (
              <li key={run.id}>
                <StatusBadge status={run.status} />
                <div className="main">
                  <Link className="title" to={`/pipelines/${seg(run.id)}`}>
                    {run.pipeline}
                  </Link>
                  <div className="sub">
                    {showProject && (
                      <>
                        <Link to={`/projects/${seg(run.project)}`}>{run.project}</Link> ·{" "}
                      </>
                    )}
                    {c.succeeded + c.cached}/{c.total} steps done
                    {c.cached > 0 && `, ${c.cached} cached`}
                    {c.failed > 0 && `, ${c.failed} failed`}
                    {run.ended_at && ` · ${formatDuration(runDuration(run, now))}`}
                  </div>
                </div>
                <span className="when" title={formatTime(run.started_at)}>
                  {formatAgo(run.started_at, now)}
                </span>
              </li>
            );
          })}
        </ul>
      )}
    </State>
  );
}

export function Aliases({ model }: { model: Pick<RegisteredModel, "aliases"> }) {
  return (
    <>
      {aliasList(model).map(([alias, version]) => (
        <span key={alias} className="alias" title={`${alias} → version ${version}`}>
          @{alias} v{version}
        </span>
      ))}
    </>
  );
}

export function ModelFeed({ models, query, showProject = true, now }: { models: RegisteredModel[]; query: Query<unknown>; showProject?: boolean; now: number }) {
  return (
    <State query={query} what="models" empty={models.length === 0}>
      {() => (
        <ul className="feed" data-testid="model-feed">
          {models.map((m) => (
            <li key={m.id}>
              <div className="main">
                <Link className="title" to={`/models/${seg(m.name)}`}>
                  {m.name}
                </Link>{" "}
                <Aliases model={m} />
                <div className="sub">
                  {showProject && (
                    <>
                      <Link to={`/projects/${seg(m.project)}`}>{m.project}</Link> ·{" "}
                    </>
                  )}
                  {m.latest_version ? `latest v${m.latest_version}` : "no versions"}
                  {m.created_by && ` · ${m.created_by}`}
                </div>
              </div>
              <span className="when" title={formatTime(m.updated_at)}>
                {formatAgo(m.updated_at, now)}
              </span>
            </li>
          ))}
        </ul>
      )}
    </State>
  );
}
