// Every definition of a view, newest first: who applied it, when, and what changed.
import { Pending } from "../../components/ErrorMessage";
import { formatAgo, formatTime } from "../../format";
import type { DefinitionVersion, FeatureViewInfo, TrainingSet } from "./logic";

export function VersionsTab({
  view,
  versions,
  trainingSets,
}: {
  view: FeatureViewInfo;
  versions: { data?: DefinitionVersion[]; error: unknown; isPending: boolean };
  trainingSets: TrainingSet[];
}) {
  if (!versions.data) return <Pending query={versions} what="the versions" />;
  const now = Date.now();
  return (
    <div className="panel fv-flush">
      <table className="data" data-testid="view-versions">
        <thead>
          <tr>
            <th>Version</th>
            <th>Applied</th>
            <th>By</th>
            <th>What changed</th>
            <th>Used by</th>
          </tr>
        </thead>
        <tbody>
          {versions.data.map((d) => {
            const sets = trainingSets.filter((t) => t.views[view.name] === d.version).length;
            const materialized = view.materialization?.view_version === d.version;
            return (
              <tr key={d.version} data-testid="view-version" data-version={d.version}>
                <td>
                  <strong>v{d.version}</strong> {d.version === view.version && <span className="ds-chip accent">latest</span>}
                  <div className="muted small ds-mono" title={d.fingerprint}>
                    {d.fingerprint.slice(0, 12)}
                  </div>
                </td>
                <td title={formatTime(d.created_at)}>
                  {formatTime(d.created_at)}
                  <div className="muted small">{formatAgo(d.created_at, now)}</div>
                </td>
                <td>{d.created_by}</td>
                <td data-testid="version-changes">
                  {d.changes.length > 0 ? (
                    <ul className="fv-changes">
                      {d.changes.map((c, i) => (
                        <li key={i}>{c}</li>
                      ))}
                    </ul>
                  ) : (
                    <span className="muted">{d.version === 1 ? "first definition" : "nothing recorded"}</span>
                  )}
                </td>
                <td className="small">
                  {materialized && <div>the last materialization</div>}
                  {sets > 0 && (
                    <div>
                      {sets} training set{sets === 1 ? "" : "s"}
                    </div>
                  )}
                  {!materialized && sets === 0 && <span className="muted">—</span>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
