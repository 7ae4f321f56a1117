// Every version of a model: where it came from, what it is, how it scored, which aliases
// point at it. Metrics come from the source run, else from the evaluations that loaded it.
import { useQueries } from "@tanstack/react-query";
import { Link } from "react-router";
import { type Schemas, getJson, seg } from "../../api/client";
import { formatTime } from "../../format";
import { short } from "../dataset/logic";
import { signatureSummary, versionMetrics } from "./logic";

type ModelVersion = Schemas["ModelVersion"];

/** Versions whose lineage (for metrics) is fetched; older ones show theirs on their own page. */
const METRIC_VERSIONS = 30;

export function VersionsTab({ name, versions, selected, preferred, onSelect }: { name: string; versions: ModelVersion[]; selected: number | null; preferred: string[]; onSelect: (v: number) => void }) {
  const lineages = useQueries({
    queries: versions.slice(0, METRIC_VERSIONS).map((v) => ({
      queryKey: [`/models/${seg(name)}/versions/${v.version}/lineage`, {}],
      queryFn: ({ signal }: { signal: AbortSignal }) => getJson<Schemas["ModelLineage"]>(`/models/${seg(name)}/versions/${v.version}/lineage`, {}, signal),
      staleTime: 30_000,
    })),
  });
  if (versions.length === 0) return <p className="muted">This model has no versions yet.</p>;
  return (
    <div className="md-table-wrap">
      <table className="data" data-testid="model-versions">
        <thead>
          <tr>
            <th>Version</th>
            <th>Aliases</th>
            <th>Registered</th>
            <th>By</th>
            <th>Source run</th>
            <th>Flavor</th>
            <th>Signature</th>
            <th>Metrics</th>
            <th>Description</th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v, i) => {
            const lineage = lineages[i]?.data;
            const picked = versionMetrics(lineage, preferred, 3);
            const evaluations = [...new Map(picked.filter((m) => m.from === "evaluation").map((m) => [m.run.id, m.run])).values()];
            return (
              <tr key={v.version} className={`md-clickable ${v.version === selected ? "md-selected" : ""}`} onClick={() => onSelect(v.version)} data-testid="model-version-row">
                <td>
                  <strong>v{v.version}</strong>
                </td>
                <td>
                  {(v.aliases ?? []).length === 0 && <span className="muted">—</span>}
                  {(v.aliases ?? []).map((a) => (
                    <span key={a} className="md-alias">
                      @{a}
                    </span>
                  ))}
                </td>
                <td title={formatTime(v.created_at)}>{formatTime(v.created_at)}</td>
                <td>{v.created_by}</td>
                <td onClick={(e) => e.stopPropagation()}>
                  {v.run_id ? (
                    <Link to={`/runs/${seg(v.run_id)}`}>{lineage?.run?.name ?? <span className="md-mono">{v.run_id.slice(0, 12)}…</span>}</Link>
                  ) : (
                    <span className="muted">—</span>
                  )}
                  {lineage?.run && <div className="md-from">{lineage.run.experiment}</div>}
                </td>
                <td>
                  <span className="md-tag">{v.flavor}</span>
                  <div className="md-from">
                    {v.manifest.framework} {v.manifest.framework_version}
                  </div>
                </td>
                <td className="small">{signatureSummary(v.manifest.signature)}</td>
                <td onClick={(e) => e.stopPropagation()}>
                  {picked.map((m) => (
                    <span key={m.name} className="md-metric" title={`${m.name} = ${m.value} (${m.from === "source" ? "source run" : "evaluation"} ${m.run.name})`}>
                      <span>{m.name}</span>
                      {short(m.value)}
                    </span>
                  ))}
                  {evaluations.length > 0 && (
                    <div className="md-from">
                      from evaluation{evaluations.length > 1 ? "s" : ""}{" "}
                      {evaluations.map((r, j) => (
                        <span key={r.id}>
                          {j > 0 && ", "}
                          <Link to={`/runs/${seg(r.id)}`}>{r.name}</Link>
                        </span>
                      ))}
                    </div>
                  )}
                  {lineage && picked.length === 0 && <span className="muted">none logged</span>}
                  {!lineage && i < METRIC_VERSIONS && lineages[i]?.isPending && <span className="muted">…</span>}
                </td>
                <td className="small">{v.description || <span className="muted">—</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
