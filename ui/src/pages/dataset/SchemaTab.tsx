// The columns of a version: name, Arrow type, nullability, and how full each column is.
import type { Schemas } from "../../api/client";
import { formatBytes, formatNumber } from "../../format";
import { columnKind, formatScalar, percent } from "./logic";

export function SchemaTab({ version }: { version: Schemas["Version"] }) {
  const stats = new Map((version.stats ?? []).map((s) => [s.name, s]));
  if (version.columns.length === 0) return <p className="muted">This version has no columns.</p>;
  const files = version.files ?? [];
  return (
    <div data-testid="schema">
      <div className="ds-table-wrap">
        <table className="data">
          <thead>
            <tr>
              <th className="num">#</th>
              <th>Column</th>
              <th>Type</th>
              <th>Kind</th>
              <th>Nullable</th>
              <th className="num">Nulls</th>
              <th className="num">Distinct (≈)</th>
              <th>Min</th>
              <th>Max</th>
            </tr>
          </thead>
          <tbody>
            {version.columns.map((c, i) => {
              const s = stats.get(c.name);
              return (
                <tr key={c.name} data-testid="schema-row">
                  <td className="num muted">{i + 1}</td>
                  <td className="ds-mono">{c.name}</td>
                  <td>
                    <span className="ds-type">{c.type}</span>
                  </td>
                  <td>
                    <span className="ds-kind">{columnKind(c.type)}</span>
                  </td>
                  <td>{c.nullable ? "yes" : <strong>not null</strong>}</td>
                  <td className="num">{s ? (s.nulls ? `${formatNumber(s.nulls)} (${percent(s.nulls, version.rows)})` : "0") : ""}</td>
                  <td className="num">{s?.distinct !== null && s?.distinct !== undefined ? formatNumber(s.distinct) : ""}</td>
                  <td className="ds-mono">{s ? clip(formatScalar(s.min)) : ""}</td>
                  <td className="ds-mono">{s ? clip(formatScalar(s.max)) : ""}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {files.length > 0 && (
        <p className="muted small">
          Stored as {files.length} Parquet file{files.length === 1 ? "" : "s"} ({formatBytes(version.bytes)}) · manifest <span className="ds-mono">sha256:{version.digest.slice(0, 16)}…</span>
        </p>
      )}
    </div>
  );
}

function clip(text: string, max = 32): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
