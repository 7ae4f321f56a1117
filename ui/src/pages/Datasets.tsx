// Every versioned dataset, per project: latest version, rows, size, when it last changed.
import { useQueries } from "@tanstack/react-query";
import { useMemo } from "react";
import { Link, useSearchParams } from "react-router";
import { type ApiError, type Schemas, getJson, seg } from "../api/client";
import { useGet } from "../api/hooks";
import { ErrorMessage, Loading, Pending } from "../components/ErrorMessage";
import { PageHeader } from "../components/PageHeader";
import { StatusBadge } from "../components/StatusBadge";
import { formatAgo, formatBytes, formatNumber, formatTime, parseTime } from "../format";
import "./dataset/dataset.css";

type Dataset = Schemas["Dataset"];
type Version = Schemas["Version"];
type VersionPage = Schemas["dockyard__data__schemas__VersionPage"];

interface Row {
  dataset: Dataset;
  newest: Version | undefined;
  loading: boolean;
}

const SORTS: Record<string, { label: string; key: (r: Row) => string | number; desc?: boolean }> = {
  name: { label: "Dataset", key: (r) => `${r.dataset.name}\u0000${r.dataset.project}` },
  project: { label: "Project", key: (r) => `${r.dataset.project}\u0000${r.dataset.name}` },
  versions: { label: "Versions", key: (r) => r.dataset.versions, desc: true },
  rows: { label: "Rows", key: (r) => r.newest?.rows ?? -1, desc: true },
  size: { label: "Size", key: (r) => r.newest?.bytes ?? -1, desc: true },
  updated: { label: "Updated", key: (r) => parseTime(r.newest?.created_at ?? r.dataset.created_at) ?? 0, desc: true },
};

export default function Datasets() {
  const [params, setParams] = useSearchParams();
  const project = params.get("project") ?? "";
  const filter = params.get("q") ?? "";
  const sort = SORTS[params.get("sort") ?? ""] ? (params.get("sort") as string) : "updated";

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

  const projects = useGet<Schemas["Page_Project_"]>("/projects", { limit: 1000 });
  const names = useMemo(() => (projects.data?.items ?? []).map((p) => p.name), [projects.data]);
  const shown = project ? [project] : names;

  const lists = useQueries({
    queries: shown.map((name) => ({
      queryKey: [`/projects/${seg(name)}/datasets`, {}],
      queryFn: ({ signal }: { signal: AbortSignal }) => getJson<Dataset[]>(`/projects/${seg(name)}/datasets`, {}, signal),
    })),
  });
  const datasets = lists.flatMap((q) => q.data ?? []);
  const newest = useQueries({
    queries: datasets.map((d) => ({
      queryKey: [`/projects/${seg(d.project)}/datasets/${seg(d.name)}/versions`, { limit: 1 }],
      queryFn: ({ signal }: { signal: AbortSignal }) =>
        getJson<VersionPage>(`/projects/${seg(d.project)}/datasets/${seg(d.name)}/versions`, { limit: 1 }, signal),
      enabled: d.versions > 0,
    })),
  });

  const rows: Row[] = datasets.map((dataset, i) => ({
    dataset,
    newest: newest[i]?.data?.items[0],
    loading: dataset.versions > 0 && Boolean(newest[i]?.isPending),
  }));
  const needle = filter.toLowerCase();
  const visible = rows.filter((r) => !needle || `${r.dataset.project}/${r.dataset.name} ${r.dataset.description}`.toLowerCase().includes(needle));
  const order = SORTS[sort];
  visible.sort((a, b) => {
    const x = order.key(a);
    const y = order.key(b);
    const c = x < y ? -1 : x > y ? 1 : 0;
    return order.desc ? -c : c;
  });
  const listError = lists.find((q) => q.error)?.error as ApiError | undefined;
  const listsPending = lists.some((q) => q.isPending);
  const totalVersions = rows.reduce((s, r) => s + r.dataset.versions, 0);
  const totalRows = rows.reduce((s, r) => s + (r.newest?.rows ?? 0), 0);
  const totalBytes = rows.reduce((s, r) => s + (r.newest?.bytes ?? 0), 0);

  return (
    <div>
      <PageHeader title="Datasets" />
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
        <input type="search" placeholder="Filter by name or description…" value={filter} onChange={(e) => set("q", e.target.value)} data-testid="dataset-filter" />
        <span className="spacer" />
        {!listsPending && <span className="muted small">{visible.length === rows.length ? `${rows.length} datasets` : `${visible.length} of ${rows.length} datasets`}</span>}
      </div>
      <Pending query={projects} what="projects" />
      {listError && <ErrorMessage error={listError} what={project ? `the datasets of project ${project}` : "the datasets"} />}
      {!listError && projects.data && (
        <>
          {rows.length > 0 && (
            <div className="ds-cards">
              <Card label="datasets" value={formatNumber(rows.length)} />
              <Card label="versions" value={formatNumber(totalVersions)} />
              <Card label="rows (newest versions)" value={formatNumber(totalRows)} />
              <Card label="stored (newest versions)" value={formatBytes(totalBytes)} />
            </div>
          )}
          {listsPending && rows.length === 0 ? (
            <Loading what="datasets" />
          ) : rows.length === 0 ? (
            <div className="ds-empty" data-testid="no-datasets">
              <p>
                <strong>No datasets {project ? `in project ${project}` : "yet"}.</strong>
              </p>
              <p>
                Version one from Python: <code>dy.dataset("transactions", project="{project || "my-project"}").add_version(df)</code>, or with{" "}
                <code>dockyard data ingest</code>.
              </p>
            </div>
          ) : (
            <div className="ds-table-wrap">
              <table className="data" data-testid="datasets-table">
                <thead>
                  <tr>
                    {(["name", "project", "versions"] as const).map((k) => (
                      <SortHeader key={k} id={k} sort={sort} onSort={(s) => set("sort", s)} className={k === "versions" ? "num" : ""} />
                    ))}
                    <th>Latest</th>
                    <SortHeader id="rows" sort={sort} onSort={(s) => set("sort", s)} className="num" />
                    <th className="num">Columns</th>
                    <SortHeader id="size" sort={sort} onSort={(s) => set("sort", s)} className="num" />
                    <SortHeader id="updated" sort={sort} onSort={(s) => set("sort", s)} />
                    <th>By</th>
                  </tr>
                </thead>
                <tbody>
                  {visible.map(({ dataset: d, newest: v, loading }) => {
                    const href = `/datasets/${seg(d.project)}/${seg(d.name)}`;
                    const updated = v?.created_at ?? d.created_at;
                    return (
                      <tr key={d.id} data-testid="dataset-row">
                        <td>
                          <Link to={href} className="ds-name">
                            {d.name}
                          </Link>
                          {d.description && <div className="ds-desc">{d.description}</div>}
                          {!d.description && v?.message && <div className="ds-desc">{v.message}</div>}
                        </td>
                        <td>
                          <Link to={`/projects/${seg(d.project)}`}>{d.project}</Link>
                        </td>
                        <td className="num">{formatNumber(d.versions)}</td>
                        <td>
                          {d.latest ? (
                            <Link to={`${href}?version=${d.latest}`}>v{d.latest}</Link>
                          ) : (
                            <span className="muted">{d.versions ? "none passed" : "—"}</span>
                          )}{" "}
                          {v && v.number !== d.latest && (
                            <span title={`v${v.number} is the newest version but ${v.status === "failed" ? "failed validation" : "is not latest"}`}>
                              <span className="ds-chip">v{v.number}</span>
                              <StatusBadge status={v.status} />
                            </span>
                          )}
                          {v && v.number === d.latest && v.status !== "unchecked" && <StatusBadge status={v.status} />}
                          {d.rules && d.rules.length > 0 && <span className="ds-chip" title="validation rules">{d.rules.length} rules</span>}
                        </td>
                        <td className="num">{loading ? "…" : v ? formatNumber(v.rows) : ""}</td>
                        <td className="num">{v ? formatNumber(v.columns.length) : ""}</td>
                        <td className="num">{v ? formatBytes(v.bytes) : ""}</td>
                        <td title={formatTime(updated)}>{formatAgo(updated)}</td>
                        <td className="muted">{v?.created_by ?? d.created_by}</td>
                      </tr>
                    );
                  })}
                  {visible.length === 0 && (
                    <tr>
                      <td colSpan={10} className="muted">
                        No dataset matches “{filter}”.
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

function Card({ label, value }: { label: string; value: string }) {
  return (
    <div className="card">
      <div className="value">{value}</div>
      <div className="label">{label}</div>
    </div>
  );
}

function SortHeader({ id, sort, onSort, className = "" }: { id: string; sort: string; onSort: (id: string) => void; className?: string }) {
  const active = sort === id;
  return (
    <th className={`sortable ${active ? "sorted" : ""} ${className}`} onClick={() => onSort(id)} aria-sort={active ? (SORTS[id].desc ? "descending" : "ascending") : undefined}>
      {SORTS[id].label}
      {active ? (SORTS[id].desc ? " ↓" : " ↑") : ""}
    </th>
  );
}
