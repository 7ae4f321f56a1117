// The model registry: every registered model with its latest version and aliases.
import { useInfiniteQuery, useQueries } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { type ApiError, type Schemas, getJson, seg } from "../api/client";
import { useGet } from "../api/hooks";
import { ErrorMessage, Loading } from "../components/ErrorMessage";
import { PageHeader } from "../components/PageHeader";
import { formatAgo, formatTime } from "../format";
import "./model/model.css";

type ModelPage = Schemas["ModelPage"];

export default function Models() {
  const [params, setParams] = useSearchParams();
  const project = params.get("project") ?? "";
  const name = params.get("q") ?? "";
  const [typed, setTyped] = useState(name);
  useEffect(() => setTyped(name), [name]);
  // the name filter runs on the server: wait until typing pauses
  useEffect(() => {
    if (typed === name) return undefined;
    const timer = setTimeout(() => set("q", typed), 250);
    return () => clearTimeout(timer);
  }, [typed]);

  function set(key: string, value: string) {
    setParams(
      (old) => {
        const next = new URLSearchParams(old);
        if (value) next.set(key, value);
        else next.delete(key);
        return next;
      },
      { replace: true },
    );
  }

  const projects = useGet<Schemas["Page_Project_"]>("/projects", { limit: 1000 });
  const query = { project: project || undefined, name: name || undefined, limit: 100 };
  const models = useInfiniteQuery<ModelPage, ApiError>({
    queryKey: ["/models", query],
    queryFn: ({ pageParam, signal }) => getJson<ModelPage>("/models", { ...query, cursor: pageParam as string | undefined }, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    placeholderData: (previous) => previous,
  });
  const items = models.data?.pages.flatMap((p) => p.items) ?? [];
  // the latest version of each model: its flavor, and its description when the model has none
  const latest = useQueries({
    queries: items.map((m) => ({
      queryKey: [`/models/${seg(m.name)}/versions/${m.latest_version}`, {}],
      queryFn: ({ signal }: { signal: AbortSignal }) => getJson<Schemas["ModelVersion"]>(`/models/${seg(m.name)}/versions/${m.latest_version}`, {}, signal),
      enabled: Boolean(m.latest_version),
      staleTime: 30_000,
    })),
  });
  const names = (projects.data?.items ?? []).map((p) => p.name);

  return (
    <div>
      <PageHeader title="Models" />
      <div className="md-toolbar">
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
        <input type="search" placeholder="Filter by name…" value={typed} onChange={(e) => setTyped(e.target.value)} data-testid="model-filter" />
        <span className="spacer" />
        {models.isFetching && <span className="muted small">loading…</span>}
        {models.data && (
          <span className="muted small">
            {items.length}
            {models.hasNextPage ? "+" : ""} model{items.length === 1 ? "" : "s"}
          </span>
        )}
      </div>
      {models.error && <ErrorMessage error={models.error} what="the models" />}
      {models.isPending && <Loading what="models" />}
      {models.data && !models.error && items.length === 0 && (
        <div className="md-empty" data-testid="no-models">
          <p>
            <strong>{name || project ? "No model matches these filters." : "No registered models yet."}</strong>
          </p>
          {!name && !project && (
            <p>
              Log a model in a run with <code>dy.log_model(model, "model")</code>, then register it: <code>dy.register_model(run, "model", name="my-model")</code>.
            </p>
          )}
        </div>
      )}
      {items.length > 0 && (
        <div className="md-table-wrap">
          <table className="data" data-testid="models-table">
            <thead>
              <tr>
                <th>Model</th>
                <th>Project</th>
                <th>Latest version</th>
                <th>Flavor</th>
                <th>Aliases</th>
                <th>Tags</th>
                <th>Updated</th>
                <th>Created by</th>
              </tr>
            </thead>
            <tbody>
              {items.map((m, i) => {
                const version = latest[i]?.data;
                const description = m.description || version?.description;
                const href = `/models/${seg(m.name)}`;
                const aliases = Object.entries(m.aliases ?? {});
                const tags = Object.entries(m.tags ?? {});
                return (
                  <tr key={m.id} data-testid="model-row">
                    <td>
                      <Link to={href} className="md-name">
                        {m.name}
                      </Link>
                      {description && <div className="md-desc">{description}</div>}
                    </td>
                    <td>
                      <Link to={`/projects/${seg(m.project)}`}>{m.project}</Link>
                    </td>
                    <td>
                      {m.latest_version ? <Link to={`${href}?version=${m.latest_version}`}>v{m.latest_version}</Link> : <span className="muted">—</span>}
                      {version && <div className="md-from">{formatAgo(version.created_at)}</div>}
                    </td>
                    <td>{version ? <span className="md-tag">{version.flavor}</span> : null}</td>
                    <td>
                      {aliases.length === 0 && <span className="muted">—</span>}
                      {aliases.map(([alias, version]) => (
                        <Link key={alias} className="md-alias" to={version ? `${href}?version=${version}` : `${href}?tab=aliases`} title={`${alias} points at v${version}`}>
                          @{alias} <span className="md-alias-v">{version ? `v${version}` : "unset"}</span>
                        </Link>
                      ))}
                    </td>
                    <td>
                      {tags.length === 0 && <span className="muted">—</span>}
                      {tags.map(([k, v]) => (
                        <span key={k} className="md-tag">
                          <b>{k}</b>
                          {v ? `: ${v}` : ""}
                        </span>
                      ))}
                    </td>
                    <td title={formatTime(m.updated_at)}>{formatAgo(m.updated_at)}</td>
                    <td className="muted">{m.created_by}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {models.hasNextPage && (
        <p>
          <button onClick={() => models.fetchNextPage()} disabled={models.isFetchingNextPage}>
            {models.isFetchingNextPage ? "Loading…" : "Load more models"}
          </button>
        </p>
      )}
    </div>
  );
}
