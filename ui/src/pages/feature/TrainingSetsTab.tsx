// The dataset versions built from a view as training sets: which view version, labels and
// source versions each one used.
import { Link } from "react-router";
import { Pending } from "../../components/ErrorMessage";
import { formatAgo, formatTime } from "../../format";
import { type FeatureViewInfo, type TrainingSet, datasetVersionHref, parseDatasetRef } from "./logic";

function DatasetRef({ text }: { text: string }) {
  const ref = parseDatasetRef(text);
  if (!ref) return <span className="muted">{text}</span>;
  return <Link to={datasetVersionHref(ref.project, ref.dataset, ref.version)}>{text}</Link>;
}

export function TrainingSetsTab({
  view,
  trainingSets,
}: {
  view: FeatureViewInfo;
  trainingSets: { data?: TrainingSet[]; error: unknown; isPending: boolean };
}) {
  if (!trainingSets.data) return <Pending query={trainingSets} what="the training sets" />;
  const sets = trainingSets.data;
  if (sets.length === 0)
    return (
      <div className="ds-empty" data-testid="no-training-sets">
        <p>
          <strong>No training set was built from {view.name} yet.</strong>
        </p>
        <p>
          Build one from labels with <code>dy.features.training_set(labels, ["{view.name}:*"], project="{view.project}", output="NAME")</code>: it becomes a
          dataset version, recorded here.
        </p>
      </div>
    );
  const now = Date.now();
  return (
    <div className="panel fv-flush">
      <table className="data" data-testid="training-sets">
        <thead>
          <tr>
            <th>Dataset version</th>
            <th>View version</th>
            <th>Labels</th>
            <th>Features</th>
            <th>Sources read</th>
            <th>Built</th>
          </tr>
        </thead>
        <tbody>
          {sets.map((t) => {
            const used = t.views[view.name];
            const others = Object.entries(t.views).filter(([name]) => name !== view.name);
            return (
              <tr key={`${t.dataset}@${t.version}`} data-testid="training-set">
                <td>
                  <Link className="ds-name" to={datasetVersionHref(view.project, t.dataset, t.version)} data-testid="training-set-link">
                    {t.dataset}@{t.version}
                  </Link>
                </td>
                <td>
                  v{used}
                  {used !== view.version && <span className="muted small"> (latest is v{view.version})</span>}
                  {others.map(([name, number]) => (
                    <div key={name} className="small muted">
                      also {name} v{number}
                    </div>
                  ))}
                </td>
                <td>
                  <DatasetRef text={t.labels} />
                </td>
                <td className="small">
                  <span title={t.features.join("\n")}>
                    {t.features.length} reference{t.features.length === 1 ? "" : "s"}
                  </span>
                  <div className="muted fv-refs">{t.features.join(", ")}</div>
                </td>
                <td>
                  {Object.entries(t.sources).map(([source, number]) => (
                    <div key={source}>
                      <Link to={datasetVersionHref(view.project, source, number)}>
                        {source}@{number}
                      </Link>
                    </div>
                  ))}
                </td>
                <td title={formatTime(t.created_at)}>
                  {formatAgo(t.created_at, now)}
                  <div className="muted small">by {t.created_by}</div>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
