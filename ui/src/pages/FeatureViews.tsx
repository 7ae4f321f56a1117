// Every feature view, per project: its latest definition (keys, features, source dataset) and
// how fresh its online values are.
import { useQueries } from "@tanstack/react-query";
import { useMemo } from "react";
import { Link, useSearchParams } from "react-router";
import { type ApiError, getJson, seg } from "../api/client";
import { ErrorMessage, Loading, Pending } from "../components/ErrorMessage";
import { PageHeader } from "../components/PageHeader";
import { formatAgo, formatNumber, formatTime } from "../format";
import { type FeatureViewInfo } from "./feature/logic";
import { useProjects } from "./project/data";
import "./dataset/dataset.css";
import "./feature/feature.css";

export default function FeatureViews() {
  const [params, setParams] = useSearchParams();
  const project = params.get("project") ?? "";
  const filter = params.get("q") ?? "";

  const set = (key: string, value: string) =>
    setParams(
      (old) => {
        const next = new URLSearchParams(old);
        if (value) next.set(key, value);
        else next.delete(key);
        return next;
      },
      { replace: true },
    );

  const projects = useProjects();
  const names = useMemo(() => (projects.data?.items ?? []).map((p) => p.name), [projects.data]);
  const shown = project ? [project] : names;
  const lists = useQueries({
    queries: shown.map((name) => ({
      queryKey: [`/projects/${seg(name)}/features/views`, {}],
      queryFn: ({ signal }: { signal: AbortSignal }) => getJson<FeatureViewInfo[]>(`/projects/${seg(name)}/features/views`, {}, signal),
    })),
  });
  const views = lists.flatMap((q) => q.data ?? []);
  const needle = filter.toLowerCase();
  const visible = views
    .filter((v) => !needle || `${v.project}/${v.name} ${v.source} ${v.features.join(" ")}`.toLowerCase().includes(needle))
    .sort((a, b) => a.name.localeCompare(b.name) || a.project.localeCompare(b.project));
  const listError = lists.find((q) => q.error)?.error as ApiError | undefined;
  const pending = lists.some((q) => q.isPending);
  const online = views.filter((v) => v.online).length;
  const now = Date.now();

  return (
    <div>
      <PageHeader title="Feature views" />
      <div className="ds-toolbar">
        <label>
          Project
          <select value={project} onChange={(e) => set("project", e.target.value)} data-testid="project-filter">
            <option value="">all projects</option>
            {names.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
            {project && !names.includes(project) && <option value={project}>{project}</option>}
          </select>
        </label>
        <input type="search" placeholder="Filter by name, source or feature…" value={filter} onChange={(e) => set("q", e.target.value)} data-testid="view-filter" />
        <span className="spacer" />
        {!pending && <span className="muted small">{visible.length === views.length ? `${views.length} feature views` : `${visible.length} of ${views.length} feature views`}</span>}
      </div>
      <Pending query={projects} what="projects" />
      {listError && <ErrorMessage error={listError} what={project ? `the feature views of project ${project}` : "the feature views"} />}
      {!listError && projects.data && (
        <>
          {views.length > 0 && (
            <div className="ds-cards">
              <Card label="feature views" value={formatNumber(views.length)} />
              <Card label="features" value={formatNumber(views.reduce((s, v) => s + v.features.length, 0))} />
              <Card label="with online values" value={`${formatNumber(online)} of ${formatNumber(views.length)}`} />
              <Card label="events online" value={formatNumber(views.reduce((s, v) => s + (v.online?.events ?? 0), 0))} />
            </div>
          )}
          {pending && views.length === 0 ? (
            <Loading what="feature views" />
          ) : views.length === 0 ? (
            <div className="ds-empty" data-testid="no-views">
              <p>
                <strong>No feature views {project ? `in project ${project}` : "yet"}.</strong>
              </p>
              <p>
                Define one from Python: <code>dy.features.apply([view], project="{project || "my-project"}")</code>, then fill its online values with{" "}
                <code>dy.features.materialize("NAME", project="{project || "my-project"}")</code>.
              </p>
            </div>
          ) : (
            <div className="ds-table-wrap">
              <table className="data" data-testid="views-table">
                <thead>
                  <tr>
                    <th>Feature view</th>
                    <th>Project</th>
                    <th className="num">Version</th>
                    <th>Keys</th>
                    <th className="num">Features</th>
                    <th>Source</th>
                    <th>Online</th>
                    <th>Updated</th>
                  </tr>
                </thead>
                <tbody>
                  {visible.map((v) => (
                    <ViewRow key={`${v.project}/${v.name}`} view={v} now={now} />
                  ))}
                  {visible.length === 0 && (
                    <tr>
                      <td colSpan={8} className="muted">
                        No feature view matches “{filter}”.
                      </td>
                    </tr>
                  )}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </div>
  );
}

function ViewRow({ view: v, now }: { view: FeatureViewInfo; now: number }) {
  const href = `/features/${seg(v.project)}/${seg(v.name)}`;
  return (
    <tr data-testid="view-row" data-view={v.name}>
      <td>
        <Link to={href} className="ds-name">
          {v.name}
        </Link>
        <div className="ds-desc">{v.entities.length === 1 ? `entity ${v.entities[0]}` : `entities ${v.entities.join(", ")}`}</div>
      </td>
      <td>
        <Link to={`/projects/${seg(v.project)}`}>{v.project}</Link>
      </td>
      <td className="num">
        <Link to={`${href}?tab=versions`} title={`${v.versions} version${v.versions === 1 ? "" : "s"}`}>
          v{v.version}
        </Link>
      </td>
      <td>
        {v.keys.map((k) => (
          <span key={k} className="ds-chip ds-mono">
            {k}
          </span>
        ))}
      </td>
      <td className="num" title={v.features.join(", ")}>
        {formatNumber(v.features.length)}
      </td>
      <td>
        <Link to={`/datasets/${seg(v.project)}/${seg(v.source)}`}>{v.source}</Link>
      </td>
      <td data-testid="view-freshness">
        {v.online ? (
          <>
            <div>
              newest event{" "}
              <span title={formatTime(v.online.newest_event_at)}>{v.online.newest_event_at ? formatAgo(v.online.newest_event_at, now) : "—"}</span>
            </div>
            <div className="small muted">{formatNumber(v.online.events)} events online</div>
          </>
        ) : (
          <span className="muted">{v.materialization ? "materialized, nothing online" : "not materialized"}</span>
        )}
      </td>
      <td className="muted" title={formatTime(v.updated_at)}>
        {formatAgo(v.updated_at, now)}
      </td>
    </tr>
  );
}

function Card({ label, value }: { label: string; value: string }) {
  return (
    <div className="card">
      <div className="value">{value}</div>
      <div className="label">{label}</div>
    </div>
  );
}
