// The latest definition of a view in words: entities and keys, source and time, expiry and
// lateness, and what each feature computes.
import { Link } from "react-router";
import { seg } from "../../api/client";
import { KeyValue } from "../../components/KeyValue";
import { type FeatureViewInfo, type ViewDefinition, describeFeature, featureKind, featureValues } from "./logic";

export function DefinitionTab({ view, definition: d }: { view: FeatureViewInfo; definition: ViewDefinition }) {
  const onDemand = d.features.filter((f) => f.kind === "on_demand").length;
  return (
    <div data-testid="definition">
      <div className="fv-two">
        <div className="panel">
          <h2>Entities and keys</h2>
          <table className="data" data-testid="entities">
            <thead>
              <tr>
                <th>Entity</th>
                <th>Key columns</th>
              </tr>
            </thead>
            <tbody>
              {d.entities.map((e) => (
                <tr key={e.name}>
                  <td>
                    <b>{e.name}</b>
                  </td>
                  <td>
                    {e.keys.map((k) => (
                      <span key={k} className="ds-chip ds-mono">
                        {k}
                      </span>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div className="panel">
          <h2>Events</h2>
          <KeyValue
            rows={[
              [
                "source dataset",
                <Link key="source" to={`/datasets/${seg(view.project)}/${seg(d.source)}`}>
                  {view.project}/{d.source}
                </Link>,
              ],
              ["event time column", d.timestamp],
              ["values expire (ttl)", d.ttl ? `after ${d.ttl}: a latest value older than that is null` : "never"],
              ["lateness", d.lateness ? `a push may deliver events up to ${d.lateness} older than the newest seen` : "—"],
              ["bucket", d.bucket ? `windows are cut in buckets of ${d.bucket}` : "not set: each window is cut in 24 buckets"],
            ]}
          />
        </div>
      </div>
      <div className="panel">
        <div className="ds-section-title">
          <h2>Features</h2>
          <span className="muted small">
            {d.features.length} feature{d.features.length === 1 ? "" : "s"}
            {onDemand > 0 && ` · ${onDemand} on-demand (run in their owner's process, never in the server)`} · each value uses only the events strictly before the time
            asked
          </span>
        </div>
        <table className="data" data-testid="features">
          <thead>
            <tr>
              <th>Feature</th>
              <th>Kind</th>
              <th>Values</th>
              <th>What it computes</th>
            </tr>
          </thead>
          <tbody>
            {d.features.map((f) => (
              <tr key={f.name} data-testid="feature-row" data-feature={f.name}>
                <td className="ds-mono">
                  <b>{f.name}</b>
                </td>
                <td>
                  <span className={`ds-kind fv-kind-${f.kind}`}>{featureKind(f)}</span>
                </td>
                <td className="muted small">{featureValues(f)}</td>
                <td data-testid="feature-description">
                  {describeFeature(f, d.ttl)}
                  {f.kind === "on_demand" && f.source_sha256 && (
                    <div className="muted small">
                      source sha256 <span className="ds-mono">{f.source_sha256.slice(0, 12)}</span>
                    </div>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
