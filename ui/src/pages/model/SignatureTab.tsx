// What a version takes and gives (its signature), and what loading it needs.
import type { Schemas } from "../../api/client";
import { KeyValue } from "../../components/KeyValue";
import { formatBytes, formatTime } from "../../format";

type ColumnSpec = Schemas["ColumnSpec"];

export function SignatureTab({ version }: { version: Schemas["ModelVersion"] }) {
  const m = version.manifest;
  const sig = m.signature;
  return (
    <div data-testid="signature">
      {!sig ? (
        <div className="md-empty">
          No signature was recorded: inputs are not checked before predictions. Logging the model with <code>input_example=</code> infers one.
        </div>
      ) : (
        <div className="md-two" style={{ marginTop: 0 }}>
          <Columns title="Inputs" columns={sig.inputs} testId="signature-inputs" />
          <Columns title="Outputs" columns={sig.outputs ?? []} testId="signature-outputs" />
        </div>
      )}
      <div className="md-two">
        <div className="panel">
          <h2>Package</h2>
          <KeyValue
            rows={[
              ["uri", `models:/${version.model}/${version.version}`],
              ["flavor", m.flavor],
              ["framework", `${m.framework} ${m.framework_version}`],
              ["python", m.python_version],
              ["predict_proba", m.predict_proba ? "yes" : "no"],
              ["input example", m.input_example ?? "none"],
              ["loading runs pickled code", m.needs_trust ? "yes (needs trusted=True)" : "no"],
              ["manifest sha256", version.manifest_digest],
              ["packaged", formatTime(m.created_at ?? version.created_at)],
            ]}
          />
        </div>
        <div className="panel">
          <h2>Requirements and files</h2>
          {(m.requirements ?? []).length > 0 ? (
            <p className="md-mono">{(m.requirements ?? []).join("  ·  ")}</p>
          ) : (
            <p className="muted">no requirements recorded</p>
          )}
          <table className="data">
            <thead>
              <tr>
                <th>File</th>
                <th className="num">Size</th>
                <th>sha256</th>
              </tr>
            </thead>
            <tbody>
              {(m.files ?? []).map((f) => (
                <tr key={f.path}>
                  <td className="md-mono">{f.path}</td>
                  <td className="num">{formatBytes(f.size)}</td>
                  <td className="md-mono muted" title={f.digest}>
                    {f.digest.slice(0, 16)}…
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </div>
  );
}

function Columns({ title, columns, testId }: { title: string; columns: ColumnSpec[]; testId: string }) {
  return (
    <div className="panel" data-testid={testId}>
      <h2>
        {title} <span className="muted small">({columns.length})</span>
      </h2>
      {columns.length === 0 ? (
        <p className="muted">none recorded</p>
      ) : (
        <table className="data">
          <thead>
            <tr>
              <th className="num">#</th>
              <th>Column</th>
              <th>Type</th>
              <th>Nullable</th>
            </tr>
          </thead>
          <tbody>
            {columns.map((c, i) => (
              <tr key={c.name}>
                <td className="num muted">{i + 1}</td>
                <td className="md-mono">{c.name}</td>
                <td>
                  <span className="ds-type" style={{ fontFamily: "var(--mono)", fontSize: 12, color: "#5a3fc0" }}>
                    {c.type}
                  </span>
                </td>
                <td>{c.nullable ? "yes" : <strong>no</strong>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
