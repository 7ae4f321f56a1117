// One dataset: its versions, and for the chosen version (?version=, default latest) its
// schema, statistics, validation report, a diff against another version and its lineage.
import { Link, useParams, useSearchParams } from "react-router";
import { useQueries } from "@tanstack/react-query";
import { type Schemas, getJson, seg } from "../api/client";
import { useGet } from "../api/hooks";
import { ErrorMessage, Pending } from "../components/ErrorMessage";
import { PageHeader } from "../components/PageHeader";
import { StatusBadge } from "../components/StatusBadge";
import { Tabs } from "../components/Tabs";
import { formatAgo, formatBytes, formatNumber, formatTime } from "../format";
import { DiffTab } from "./dataset/DiffTab";
import { LineageTab } from "./dataset/LineageTab";
import { SchemaTab } from "./dataset/SchemaTab";
import { StatsTab } from "./dataset/StatsTab";
import { ValidationTab } from "./dataset/ValidationTab";
import "./dataset/dataset.css";

type Version = Schemas["Version"];

export default function Dataset() {
  const { project = "", dataset: name = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const base = `/projects/${seg(project)}/datasets/${seg(name)}`;
  const dataset = useGet<Schemas["Dataset"]>(base);
  const versions = useGet<Schemas["dockyard__data__schemas__VersionPage"]>(dataset.data ? `${base}/versions` : null, { limit: 1000 });
  const items = versions.data?.items ?? [];
  const wanted = params.get("version") ?? (dataset.data?.latest ? String(dataset.data.latest) : items[0] ? String(items[0].number) : null);
  const version = useGet<Version>(dataset.data && wanted ? `${base}/versions/${seg(wanted)}` : null);

  const crumbs: [string, string][] = [
    ["Datasets", "/datasets"],
    [project, `/datasets?project=${encodeURIComponent(project)}`],
  ];
  if (dataset.error)
    return (
      <div>
        <PageHeader crumbs={crumbs} title={name} />
        <ErrorMessage error={dataset.error} what={`dataset ${project}/${name}`} />
        <p>
          <Link to="/datasets">All datasets</Link>
        </p>
      </div>
    );
  const d = dataset.data;
  const v = version.data;
  const select = (number: number) =>
    setParams((old) => {
      const next = new URLSearchParams(old);
      next.set("version", String(number));
      next.delete("target");
      next.delete("base");
      return next;
    });

  return (
    <div>
      <PageHeader
        crumbs={crumbs}
        title={
          <>
            <span>{name}</span>
            {v && <span className="ds-chip accent">v{v.number}</span>}
            {v && <StatusBadge status={v.status} />}
            {v && d && v.number === d.latest && <span className="ds-chip">latest</span>}
          </>
        }
      >
        {items.length > 0 && (
          <label className="ds-version-pick">
            Version
            <select value={v?.number ?? wanted ?? ""} onChange={(e) => select(Number(e.target.value))} data-testid="version-select">
              {wanted && !items.some((i) => String(i.number) === wanted) && !v && <option value={wanted}>{wanted}</option>}
              {items.map((i) => (
                <option key={i.number} value={i.number}>
                  v{i.number}
                  {i.number === d?.latest ? " (latest)" : ""}
                  {i.status === "failed" ? " — failed" : ""}
                </option>
              ))}
            </select>
          </label>
        )}
      </PageHeader>
      <Pending query={dataset} what="the dataset" />
      {d && (
        <>
          <div className="ds-head">
            <div className="ds-about">
              {d.description || <span>Dataset in project <Link to={`/projects/${seg(d.project)}`}>{d.project}</Link></span>}
              <div className="small">
                created {formatAgo(d.created_at)} by {d.created_by} · {d.rules?.length ? `${d.rules.length} validation rules` : "no validation rules"}
              </div>
            </div>
          </div>
          <div className="ds-cards" style={{ marginTop: 12 }}>
            <Card label="versions" value={formatNumber(d.versions)} />
            <Card label="latest" value={d.latest ? `v${d.latest}` : "—"} />
            <Card label={`rows${v ? ` (v${v.number})` : ""}`} value={v ? formatNumber(v.rows) : version.error ? "—" : "…"} />
            <Card label="columns" value={v ? formatNumber(v.columns.length) : version.error ? "—" : "…"} />
            <Card label="size" value={v ? formatBytes(v.bytes) : version.error ? "—" : "…"} />
            <Card label="files" value={v ? formatNumber(v.files?.length ?? 0) : version.error ? "—" : "…"} />
          </div>
          <div className="panel">
            <div className="ds-section-title">
              <h2>Versions</h2>
              <span className="muted small">newest first · click a version to inspect it</span>
            </div>
            <Pending query={versions} what="the versions" />
            {versions.data && items.length === 0 && <p className="muted">This dataset has no versions yet.</p>}
            {items.length > 0 && <VersionsTable items={items} latest={d.latest ?? null} selected={v?.number ?? null} onSelect={select} />}
          </div>
          {wanted && <Pending query={version} what={`version ${wanted} of ${project}/${name}`} />}
          {v && !version.error && (
            <Tabs
              tabs={[
                { id: "schema", label: `Schema (${v.columns.length})`, render: () => <SchemaTab version={v} /> },
                { id: "stats", label: "Statistics", render: () => <StatsTab version={v} /> },
                {
                  id: "validation",
                  label: (
                    <>
                      Validation {v.validation && <StatusBadge status={v.validation.passed ? "passed" : "failed"} />}
                    </>
                  ),
                  render: () => <ValidationTab dataset={d} version={v} />,
                },
                { id: "diff", label: "Diff", render: () => <DiffTab key={v.number} dataset={d} version={v} versions={items} /> },
                { id: "lineage", label: "Lineage", render: () => <LineageTab version={v} /> },
              ]}
            />
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

function VersionsTable({ items, latest, selected, onSelect }: { items: Version[]; latest: number | null; selected: number | null; onSelect: (n: number) => void }) {
  // the names of the runs that wrote the versions
  const runIds = [...new Set(items.map((i) => i.run_id).filter((id): id is string => Boolean(id)))].slice(0, 50);
  const runs = useQueries({
    queries: runIds.map((id) => ({
      queryKey: [`/runs/${seg(id)}`, {}],
      queryFn: ({ signal }: { signal: AbortSignal }) => getJson<Schemas["Run"]>(`/runs/${seg(id)}`, {}, signal),
      staleTime: 30_000,
    })),
  });
  const runName = new Map(runIds.map((id, i) => [id, runs[i]?.data?.name]));
  return (
    <div className="ds-versions">
      <table className="data" data-testid="versions-table">
        <thead>
          <tr>
            <th>Version</th>
            <th>Status</th>
            <th className="num">Rows</th>
            <th className="num">Columns</th>
            <th className="num">Size</th>
            <th>Created</th>
            <th>By</th>
            <th>Message</th>
            <th>Written by run</th>
          </tr>
        </thead>
        <tbody>
          {items.map((i) => (
            <tr
              key={i.number}
              className={`ds-clickable ${i.number === selected ? "ds-selected" : ""}`}
              onClick={() => onSelect(i.number)}
              data-testid="version-row"
            >
              <td>
                <strong>v{i.number}</strong> {i.number === latest && <span className="ds-chip accent">latest</span>}
                {i.parents.length > 0 && <span className="ds-chip" title="appended to">+v{i.parents.join(", v")}</span>}
              </td>
              <td>
                <StatusBadge status={i.status} />
                {i.forced && <span className="ds-chip" title="added with force=True">forced</span>}
              </td>
              <td className="num">{formatNumber(i.rows)}</td>
              <td className="num">{formatNumber(i.columns.length)}</td>
              <td className="num">{formatBytes(i.bytes)}</td>
              <td title={formatTime(i.created_at)}>{formatTime(i.created_at)}</td>
              <td>{i.created_by}</td>
              <td>
                {i.message || <span className="muted">—</span>}
                {i.source && <div className="muted small ds-mono">{i.source}</div>}
              </td>
              <td onClick={(e) => e.stopPropagation()}>
                {i.run_id ? (
                  <Link to={`/runs/${seg(i.run_id)}`} className={runName.get(i.run_id) ? "" : "ds-mono"}>
                    {runName.get(i.run_id) ?? `${i.run_id.slice(0, 12)}…`}
                  </Link>
                ) : (
                  <span className="muted">—</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
