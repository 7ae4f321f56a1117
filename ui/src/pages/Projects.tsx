// The home page: every project with its counts and latest activity, and what happened lately
// across projects. Counts come from count queries, never from listing runs.
import { useQueries } from "@tanstack/react-query";
import { Link } from "react-router";
import { type ApiError, getJson, seg } from "../api/client";
import { ErrorMessage, Loading } from "../components/ErrorMessage";
import { PageHeader } from "../components/PageHeader";
import { StatusBadge } from "../components/StatusBadge";
import { formatAgo, formatTime } from "../format";
import { PipelineRunsTable } from "./pipeline/PipelineRunsTable";
import { Aliases, ModelFeed, RunFeed } from "./project/Activity";
import {
  type Dataset,
  type Project,
  useDatasets,
  useExperiments,
  useModels,
  usePipelineRuns,
  useProjects,
  useRunSearch,
} from "./project/data";
import { countText, latest, recentModels, sortExperiments } from "./project/logic";
import "./project/projects.css";

const FEED_MS = 15_000;

export default function Projects() {
  const projects = useProjects();
  // the feed shows top-level runs (pipeline steps are under their pipeline run); the total counts all
  const runs = useRunSearch({ query: "parent_id IS NULL", limit: 8 }, { refetchInterval: FEED_MS });
  const allRuns = useRunSearch({ limit: 1, count: true }, { refetchInterval: FEED_MS });
  const pipelines = usePipelineRuns(null, 6);
  const models = useModels(null);
  const names = projects.data?.items.map((p) => p.name) ?? [];
  // the same queries as the cards' (shared cache): only to total the datasets
  const datasets = useQueries({
    queries: names.map((name) => ({
      queryKey: [`/projects/${seg(name)}/datasets`, {}],
      queryFn: ({ signal }: { signal: AbortSignal }) => getJson<Dataset[]>(`/projects/${seg(name)}/datasets`, {}, signal),
    })),
    combine: (results) => (results.every((r) => r.data) ? results.reduce((n, r) => n + (r.data?.length ?? 0), 0) : null),
  });
  const now = Date.now();

  if (projects.error) {
    return (
      <div>
        <PageHeader title="Projects" />
        <ErrorMessage error={projects.error} what="projects could not be listed" />
      </div>
    );
  }

  const items = projects.data?.items ?? [];
  return (
    <div>
      <PageHeader title="Projects" />
      <div className="po-totals" data-testid="totals">
        <Total label="projects" value={projects.data ? countText(items.length, Boolean(projects.data.next_cursor)) : "—"} />
        <Total label="runs" value={countText(allRuns.data?.total)} href="/runs" />
        <Total label="datasets" value={countText(datasets)} href="/datasets" />
        <Total label="models" value={models.data ? countText(models.data.items.length, Boolean(models.data.next_cursor)) : "—"} href="/models" />
        <Total label="pipeline runs" value={countText(pipelines.data?.total ?? (pipelines.data ? pipelines.data.items.length : null), Boolean(pipelines.data && pipelines.data.total == null && pipelines.data.next_cursor))} href="/pipelines" />
      </div>
      <div className="po-layout">
        <section>
          {projects.isPending ? (
            <Loading what="projects" />
          ) : items.length === 0 ? (
            <div className="panel po-empty" data-testid="no-projects">
              <p>
                <b>No project yet.</b>
              </p>
              <p className="muted">
                Create one with <code>dockyard projects create NAME</code>, or start a run: <code>dy.start_run("NAME")</code>.
                <br />
                <code>dockyard demo</code> makes a whole example project.
              </p>
            </div>
          ) : (
            <div className="po-projects" data-testid="projects">
              {items.map((project) => (
                <ProjectCard key={project.id} project={project} now={now} />
              ))}
            </div>
          )}
          {projects.data?.next_cursor && <p className="muted small">Only the first {items.length} projects are shown.</p>}
          <div className="panel pp-panel-flush" style={{ marginTop: 16 }}>
            <div className="panel-title">
              <h2>Latest pipeline runs</h2>
              <Link to="/pipelines">all pipeline runs →</Link>
            </div>
            {pipelines.error ? (
              <ErrorMessage error={pipelines.error} what="pipeline runs could not be listed" />
            ) : pipelines.isPending ? (
              <Loading what="pipeline runs" />
            ) : (
              <PipelineRunsTable runs={pipelines.data.items} now={now} empty="No pipeline has run yet." />
            )}
          </div>
        </section>
        <aside>
          <div className="panel">
            <div className="panel-title">
              <h2>Latest runs</h2>
              <span className="small muted">top-level</span>
              <Link to="/runs">all runs →</Link>
            </div>
            <RunFeed query={runs} now={now} />
          </div>
          <div className="panel">
            <div className="panel-title">
              <h2>Models lately updated</h2>
              <Link to="/models">registry →</Link>
            </div>
            <ModelFeed models={recentModels(models.data?.items ?? [], 5)} query={models} now={now} />
          </div>
        </aside>
      </div>
    </div>
  );
}

function Total({ label, value, href }: { label: string; value: string; href?: string }) {
  const body = (
    <>
      <div className="value">{value}</div>
      <div className="label">{label}</div>
    </>
  );
  return href ? (
    <Link to={href} className="card" style={{ color: "inherit", textDecoration: "none" }}>
      {body}
    </Link>
  ) : (
    <div className="card">{body}</div>
  );
}

function ProjectCard({ project, now }: { project: Project; now: number }) {
  const name = project.name;
  const q = encodeURIComponent(name);
  const experiments = useExperiments(name);
  const runs = useRunSearch({ projects: [name], limit: 1, count: true });
  const datasets = useDatasets(name);
  const models = useModels(name);
  const pipelines = usePipelineRuns(name, 1);
  const lastRun = runs.data?.items[0];
  const lastPipeline = pipelines.data?.items[0];
  const active = latest(lastRun?.start_time, lastPipeline?.started_at, project.updated_at);
  const failed = [experiments, runs, datasets, models, pipelines].find((x) => x.error && (x.error as ApiError).status !== 404);

  return (
    <article className="pcard" data-testid="project-card" data-project={name}>
      <div className="pcard-head">
        <Link className="pcard-name" to={`/projects/${seg(name)}`}>
          {name}
        </Link>
        {active && (
          <span className="when" title={formatTime(active)}>
            active {formatAgo(active, now)}
          </span>
        )}
      </div>
      {project.description && <div className="pcard-desc">{project.description}</div>}
      <div className="pcard-stats">
        <Stat n={experiments.data ? countText(experiments.data.filter((e) => !e.deleted).length) : "—"} label="experiments" href={`/projects/${seg(name)}`} />
        <Stat n={countText(runs.data?.total)} label="runs" href={`/runs?project=${q}`} />
        <Stat n={datasets.data ? countText(datasets.data.length) : "—"} label="datasets" href={`/datasets?project=${q}`} />
        <Stat n={models.data ? countText(models.data.items.length, Boolean(models.data.next_cursor)) : "—"} label="models" href={`/models?project=${q}`} />
        <Stat
          n={pipelines.data ? countText(pipelines.data.total ?? pipelines.data.items.length, pipelines.data.total == null && Boolean(pipelines.data.next_cursor)) : "—"}
          label="pipeline runs"
          href={`/pipelines?project=${q}`}
        />
      </div>
      <div className="pcard-latest">
        <div>
          <span className="k">experiments</span>
          <span className="chips">
            {experiments.data && sortExperiments(experiments.data).length === 0 && <span className="muted">none yet</span>}
            {experiments.data &&
              sortExperiments(experiments.data)
                .slice(0, 4)
                .map((e) => (
                  <Link key={e.id} className="chip" to={`/runs?project=${q}&experiment=${encodeURIComponent(e.name)}`} title={e.last_run_at ? `last run ${formatTime(e.last_run_at)}` : "no runs"}>
                    {e.name}
                    {typeof e.run_count === "number" && <span className="chip-n">{countText(e.run_count)}</span>}
                  </Link>
                ))}
            {experiments.data && experiments.data.length > 4 && <span className="muted">+{experiments.data.length - 4} more</span>}
          </span>
        </div>
        {models.data && models.data.items.length > 0 && (
          <div>
            <span className="k">models</span>
            <span className="chips">
              {recentModels(models.data.items, 3).map((m) => (
                <span key={m.id}>
                  <Link to={`/models/${seg(m.name)}`}>{m.name}</Link> <Aliases model={m} />
                </span>
              ))}
            </span>
          </div>
        )}
        <div>
          <span className="k">latest run</span>
          {lastRun ? (
            <>
              <StatusBadge status={lastRun.status} />
              <Link className="v" to={`/runs/${seg(lastRun.id)}`}>
                {lastRun.name || lastRun.id.slice(0, 12)}
              </Link>
              <span className="v muted">in {lastRun.experiment}</span>
              <span className="t">{formatAgo(lastRun.start_time, now)}</span>
            </>
          ) : (
            <span className="muted">{runs.isPending ? "…" : "none yet"}</span>
          )}
        </div>
        <div>
          <span className="k">latest pipeline</span>
          {lastPipeline ? (
            <>
              <StatusBadge status={lastPipeline.status} />
              <Link className="v" to={`/pipelines/${seg(lastPipeline.id)}`}>
                {lastPipeline.pipeline}
              </Link>
              <span className="t">{formatAgo(lastPipeline.started_at, now)}</span>
            </>
          ) : (
            <span className="muted">{pipelines.isPending ? "…" : "none yet"}</span>
          )}
        </div>
      </div>
      {failed && <ErrorMessage error={failed.error} what="some counts could not be loaded" />}
    </article>
  );
}

function Stat({ n, label, href }: { n: string; label: string; href: string }) {
  return (
    <Link to={href}>
      <span className="n">{n}</span>
      <span className="l">{label}</span>
    </Link>
  );
}
