// One project: its experiments (with run counts), datasets, models, feature views, pipeline runs, schedules,
// latest runs and who may use it. Nothing here lists every run.
import { Link, useParams } from "react-router";
import { seg } from "../api/client";
import { ErrorMessage, Loading } from "../components/ErrorMessage";
import { PageHeader } from "../components/PageHeader";
import { StatusBadge } from "../components/StatusBadge";
import { elapsed, formatAgo, formatDuration, formatTime } from "../format";
import { Access } from "./identity/Access";
import { PipelineRunsTable } from "./pipeline/PipelineRunsTable";
import { Aliases } from "./project/Activity";
import {
  type Experiment,
  type Run,
  type Schedule,
  useDatasets,
  useExperiments,
  useFeatureViews,
  useModels,
  usePipelineRuns,
  useProject,
  useRunSearch,
  useSchedules,
} from "./project/data";
import { freshness } from "./feature/logic";
import { countText, latest, recentModels, runsFromExperiments, scheduleTrigger, sortExperiments } from "./project/logic";
import "./project/projects.css";

type Query = { error: unknown; isPending: boolean };

/** Error, loading or the content of one panel. */
function Body({ query, what, children }: { query: Query; what: string; children: () => React.ReactNode }) {
  if (query.error) return <div style={{ padding: "0 14px" }}><ErrorMessage error={query.error} what={`${what} could not be loaded`} /></div>;
  if (query.isPending) return <div style={{ padding: "0 14px" }}><Loading what={what} /></div>;
  return <>{children()}</>;
}

export default function Project() {
  const { project: name = "" } = useParams();
  const project = useProject(name);
  const ok = Boolean(project.data);
  const experiments = useExperiments(name, ok);
  const runs = useRunSearch({ projects: [name], limit: 12, count: true }, { enabled: ok, refetchInterval: 15_000 });
  const datasets = useDatasets(name, ok);
  const models = useModels(name, ok);
  const featureViews = useFeatureViews(name, ok);
  const pipelines = usePipelineRuns(name, 8, ok);
  const schedules = useSchedules(name, ok);
  const now = Date.now();

  if (project.error) {
    return (
      <div>
        <PageHeader crumbs={[["Projects", "/"]]} title={name} />
        <ErrorMessage error={project.error} what={project.error.status === 404 ? "unknown project" : "the project could not be loaded"} />
        <p>
          <Link to="/">See every project</Link>
        </p>
      </div>
    );
  }
  if (!project.data) return <Loading what="project" />;
  const p = project.data;
  const q = encodeURIComponent(p.name);
  const runTotal = runs.data?.total ?? runsFromExperiments(experiments.data);
  const active = latest(runs.data?.items[0]?.start_time, pipelines.data?.items[0]?.started_at, p.updated_at);
  const liveExperiments = experiments.data ? sortExperiments(experiments.data) : [];

  return (
    <div data-testid="project-page">
      <PageHeader crumbs={[["Projects", "/"]]} title={p.name}>
        <Link className="btn-like" to={`/runs?project=${q}`}>
          Runs
        </Link>
        <Link className="btn-like" to={`/pipelines?project=${q}`}>
          Pipeline runs
        </Link>
        <a className="btn-like" href="#access">
          Access
        </a>
      </PageHeader>
      <div className="pp-head-meta">
        <span>
          created {formatTime(p.created_at)} by <b>{p.created_by}</b>
        </span>
        {active && <span>last activity {formatAgo(active, now)}</span>}
        <span className="mono">{p.id}</span>
      </div>
      {p.description ? <p className="pp-desc">{p.description}</p> : null}

      <div className="pp-cards">
        <CountCard label="experiments" value={experiments.data ? countText(liveExperiments.length) : "—"} href="#experiments" />
        <CountCard label="runs" value={countText(runTotal)} href={`/runs?project=${q}`} />
        <CountCard label="datasets" value={datasets.data ? countText(datasets.data.length) : "—"} href={`/datasets?project=${q}`} />
        <CountCard label="models" value={models.data ? countText(models.data.items.length, Boolean(models.data.next_cursor)) : "—"} href={`/models?project=${q}`} />
        <CountCard label="feature views" value={featureViews.data ? countText(featureViews.data.length) : "—"} href={`/features?project=${q}`} />
        <CountCard
          label="pipeline runs"
          value={pipelines.data ? countText(pipelines.data.total ?? pipelines.data.items.length, pipelines.data.total == null && Boolean(pipelines.data.next_cursor)) : "—"}
          href={`/pipelines?project=${q}`}
        />
      </div>

      <div className="panel pp-panel-flush" id="experiments">
        <div className="panel-title">
          <h2>Experiments</h2>
          <Link to={`/runs?project=${q}`}>all runs of {p.name} →</Link>
        </div>
        <Body query={experiments} what="experiments">
          {() => <ExperimentsTable experiments={liveExperiments} project={p.name} now={now} />}
        </Body>
      </div>

      <div className="pp-grid">
        <div className="panel pp-panel-flush">
          <div className="panel-title">
            <h2>Datasets</h2>
            <Link to={`/datasets?project=${q}`}>all →</Link>
          </div>
          <Body query={datasets} what="datasets">
            {() =>
              datasets.data && datasets.data.length > 0 ? (
                <table className="data pp-table" data-testid="datasets">
                  <thead>
                    <tr>
                      <th>Dataset</th>
                      <th className="num">Versions</th>
                      <th className="num">Latest</th>
                      <th>Rules</th>
                      <th>Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {datasets.data.map((d) => (
                      <tr key={d.id}>
                        <td>
                          <Link className="strong" to={`/datasets/${seg(p.name)}/${seg(d.name)}`}>
                            {d.name}
                          </Link>
                          {d.description && <div className="small muted">{d.description}</div>}
                        </td>
                        <td className="num">{d.versions}</td>
                        <td className="num">{d.latest ? <Link to={`/datasets/${seg(p.name)}/${seg(d.name)}?version=${d.latest}`}>v{d.latest}</Link> : "—"}</td>
                        <td className="muted">{d.rules?.length ? `${d.rules.length} rule${d.rules.length === 1 ? "" : "s"}` : "none"}</td>
                        <td className="muted" title={formatTime(d.created_at)}>
                          {formatAgo(d.created_at, now)}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : (
                <div className="feed-empty">
                  No dataset yet: <code>dockyard data ingest FILE -d NAME -p {p.name}</code>
                </div>
              )
            }
          </Body>
        </div>

        <div className="panel pp-panel-flush">
          <div className="panel-title">
            <h2>Models</h2>
            <Link to={`/models?project=${q}`}>all →</Link>
          </div>
          <Body query={models} what="models">
            {() =>
              models.data && models.data.items.length > 0 ? (
                <table className="data pp-table" data-testid="models">
                  <thead>
                    <tr>
                      <th>Model</th>
                      <th className="num">Latest</th>
                      <th>Aliases</th>
                      <th>Updated</th>
                    </tr>
                  </thead>
                  <tbody>
                    {recentModels(models.data.items, models.data.items.length).map((m) => (
                      <tr key={m.id}>
                        <td>
                          <Link className="strong" to={`/models/${seg(m.name)}`}>
                            {m.name}
                          </Link>
                          {m.description && <div className="small muted">{m.description}</div>}
                        </td>
                        <td className="num">{m.latest_version ? `v${m.latest_version}` : "—"}</td>
                        <td>
                          <Aliases model={m} />
                        </td>
                        <td className="muted" title={formatTime(m.updated_at)}>
                          {formatAgo(m.updated_at, now)}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : (
                <div className="feed-empty">
                  No model yet: log one with <code>dy.log_model</code> and register it with <code>dy.register_model</code>.
                </div>
              )
            }
          </Body>
        </div>
      </div>

      <div className="panel pp-panel-flush">
        <div className="panel-title">
          <h2>Feature views</h2>
          <Link to={`/features?project=${q}`}>all →</Link>
        </div>
        <Body query={featureViews} what="feature views">
          {() =>
            featureViews.data && featureViews.data.length > 0 ? (
              <table className="data pp-table" data-testid="feature-views">
                <thead>
                  <tr>
                    <th>Feature view</th>
                    <th className="num">Version</th>
                    <th>Keys</th>
                    <th className="num">Features</th>
                    <th>Source</th>
                    <th>Online</th>
                  </tr>
                </thead>
                <tbody>
                  {featureViews.data.map((v) => (
                    <tr key={v.name}>
                      <td>
                        <Link className="strong" to={`/features/${seg(p.name)}/${seg(v.name)}`}>
                          {v.name}
                        </Link>
                      </td>
                      <td className="num">v{v.version}</td>
                      <td className="mono">{v.keys.join(", ")}</td>
                      <td className="num">{v.features.length}</td>
                      <td>
                        <Link to={`/datasets/${seg(p.name)}/${seg(v.source)}`}>{v.source}</Link>
                      </td>
                      <td className={v.online ? "small" : "small muted"}>{freshness(v, now)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <div className="feed-empty">
                No feature view yet: define one with <code>dy.features.apply([view], project="{p.name}")</code>.
              </div>
            )
          }
        </Body>
      </div>

      <div className="panel pp-panel-flush">
        <div className="panel-title">
          <h2>Pipeline runs</h2>
          <Link to={`/pipelines?project=${q}`}>all pipeline runs of {p.name} →</Link>
        </div>
        <Body query={pipelines} what="pipeline runs">
          {() => <PipelineRunsTable runs={pipelines.data?.items ?? []} showProject={false} now={now} empty="No pipeline has run in this project yet." />}
        </Body>
      </div>

      <div className="pp-grid">
        <div className="panel pp-panel-flush">
          <div className="panel-title">
            <h2>Latest runs</h2>
            <Link to={`/runs?project=${q}`}>all →</Link>
          </div>
          <Body query={runs} what="runs">
            {() => <RunsTable runs={runs.data?.items ?? []} now={now} />}
          </Body>
        </div>
        <div className="panel pp-panel-flush">
          <div className="panel-title">
            <h2>Schedules</h2>
          </div>
          <Body query={schedules} what="schedules">
            {() => <SchedulesTable schedules={schedules.data ?? []} project={p.name} now={now} />}
          </Body>
        </div>
      </div>

      <Access project={p.name} />
    </div>
  );
}

function CountCard({ label, value, href }: { label: string; value: string; href: string }) {
  const body = (
    <>
      <div className="value">{value}</div>
      <div className="label">{label}</div>
    </>
  );
  return href.startsWith("#") ? (
    <a className="card" href={href}>
      {body}
    </a>
  ) : (
    <Link className="card" to={href}>
      {body}
    </Link>
  );
}

function ExperimentsTable({ experiments, project, now }: { experiments: Experiment[]; project: string; now: number }) {
  if (experiments.length === 0) return <div className="feed-empty">No experiment yet: start a run with <code>dy.start_run("{project}", experiment="NAME")</code>.</div>;
  const counted = experiments.some((e) => typeof e.run_count === "number");
  const most = Math.max(1, ...experiments.map((e) => e.run_count ?? 0));
  const q = encodeURIComponent(project);
  return (
    <table className="data pp-table" data-testid="experiments">
      <thead>
        <tr>
          <th>Experiment</th>
          {counted && <th className="num">Runs</th>}
          <th>Last run</th>
          <th>Created</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {experiments.map((e) => {
          const href = `/runs?project=${q}&experiment=${encodeURIComponent(e.name)}`;
          return (
            <tr key={e.id} data-experiment={e.name}>
              <td>
                <Link className="strong" to={href}>
                  {e.name}
                </Link>
                {e.description && <div className="small muted">{e.description}</div>}
              </td>
              {counted && (
                <td className="num">
                  <span className="pp-bar" style={{ width: `${Math.max(2, (60 * (e.run_count ?? 0)) / most)}px` }} />
                  {countText(e.run_count)}
                </td>
              )}
              <td title={formatTime(e.last_run_at)}>
                {e.last_run_at ? formatAgo(e.last_run_at, now) : <span className="muted">{e.last_run_at === undefined ? "—" : "never"}</span>}
              </td>
              <td className="muted" title={formatTime(e.created_at)}>
                {formatAgo(e.created_at, now)} by {e.created_by}
              </td>
              <td className="num">
                <Link to={href}>runs →</Link>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function RunsTable({ runs, now }: { runs: Run[]; now: number }) {
  if (runs.length === 0) return <div className="feed-empty">No run yet.</div>;
  return (
    <table className="data pp-table" data-testid="runs">
      <thead>
        <tr>
          <th>Run</th>
          <th>Status</th>
          <th>Experiment</th>
          <th>Started</th>
          <th className="num">Duration</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.id}>
            <td>
              <Link className="strong" to={`/runs/${seg(r.id)}`}>
                {r.name || r.id.slice(0, 12)}
              </Link>
              {r.parent_id && <span className="small muted"> · child</span>}
            </td>
            <td>
              <StatusBadge status={r.status} />
            </td>
            <td>{r.experiment}</td>
            <td title={formatTime(r.start_time)}>{formatAgo(r.start_time, now)}</td>
            <td className="num">{formatDuration(elapsed(r.start_time, r.end_time, now))}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SchedulesTable({ schedules, project, now }: { schedules: Schedule[]; project: string; now: number }) {
  if (schedules.length === 0)
    return (
      <div className="feed-empty">
        No schedule. <code>dockyard pipelines schedule create NAME module:pipeline -p {project} --cron "0 3 * * *"</code> runs a pipeline on a cron or on each new dataset version.
      </div>
    );
  return (
    <table className="data pp-table" data-testid="schedules">
      <thead>
        <tr>
          <th>Schedule</th>
          <th>Trigger</th>
          <th>Next</th>
          <th>Last</th>
        </tr>
      </thead>
      <tbody>
        {schedules.map((s) => (
          <tr key={s.id}>
            <td>
              <b className={s.enabled ? "" : "off"}>{s.name}</b>
              {!s.enabled && <span className="small muted"> (disabled)</span>}
              <div className="small muted mono" title={s.pipeline}>
                {s.pipeline.length > 40 ? `…${s.pipeline.slice(-39)}` : s.pipeline}
              </div>
            </td>
            <td className="small">{scheduleTrigger(s)}</td>
            <td className="small" title={formatTime(s.next_fire_at)}>
              {s.enabled && s.next_fire_at ? formatTime(s.next_fire_at) : <span className="muted">—</span>}
            </td>
            <td className="small">
              {s.last_run_id ? (
                <>
                  <StatusBadge status={s.last_status} />{" "}
                  <Link to={`/pipelines/${seg(s.last_run_id)}`} title={formatTime(s.last_fired_at)}>
                    {formatAgo(s.last_fired_at, now)}
                  </Link>
                </>
              ) : (
                <span className="muted">never fired</span>
              )}
              {s.last_error && <div className="small" style={{ color: "var(--bad)" }}>{s.last_error}</div>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
