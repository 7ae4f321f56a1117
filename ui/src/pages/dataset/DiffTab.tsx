// Two versions side by side: rows added/removed/changed (matched on a key), schema changes
// and how each column's statistics moved.
import { useSearchParams } from "react-router";
import { type Schemas, seg } from "../../api/client";
import { useGetKeep } from "../../api/hooks";
import { Pending } from "../../components/ErrorMessage";
import { formatNumber } from "../../format";
import { type DiffCell, PSI_MAJOR, PSI_MODERATE, diffTable, formatScalar, guessKey, shiftTable, short } from "./logic";
import { show } from "./ValidationTab";

type Version = Schemas["Version"];

export function DiffTab({ dataset, version, versions }: { dataset: Schemas["Dataset"]; version: Version; versions: Version[] }) {
  const [params, setParams] = useSearchParams();
  const numbers = versions.map((v) => v.number).sort((a, b) => a - b);
  const target = Number(params.get("target") ?? version.number);
  const previous = numbers.filter((n) => n < target).pop() ?? numbers.find((n) => n !== target);
  const base = Number(params.get("base") ?? previous ?? target);
  const keyParam = params.get("key");
  const key = keyParam === null ? (guessKey(version.stats ?? [], version.rows) ?? "") : keyParam;
  const keys = key ? key.split(",").filter(Boolean) : [];
  const columns = version.columns.map((c) => c.name);

  const path = `/projects/${seg(dataset.project)}/datasets/${seg(dataset.name)}/diff`;
  const diff = useGetKeep<Schemas["DatasetDiff"]>(numbers.length > 1 && base !== target ? path : null, { base, target, key: keys, examples: 10 });

  const set = (name: string, value: string) =>
    setParams(
      (old) => {
        const next = new URLSearchParams(old);
        next.set(name, value);
        return next;
      },
      { replace: true },
    );

  if (numbers.length < 2)
    return (
      <p className="muted" data-testid="diff">
        Only one version so far: a diff needs two. Add another version to compare them.
      </p>
    );
  return (
    <div data-testid="diff">
      <div className="ds-diff-pick">
        <label>
          Base
          <select value={base} onChange={(e) => set("base", e.target.value)} data-testid="diff-base">
            {numbers.map((n) => (
              <option key={n} value={n}>
                v{n}
              </option>
            ))}
          </select>
        </label>
        <span className="ds-arrow">→</span>
        <label>
          Target
          <select value={target} onChange={(e) => set("target", e.target.value)} data-testid="diff-target">
            {numbers.map((n) => (
              <option key={n} value={n}>
                v{n}
              </option>
            ))}
          </select>
        </label>
        <label>
          Row key
          <select value={keys.length > 1 ? key : (keys[0] ?? "")} onChange={(e) => set("key", e.target.value)} data-testid="diff-key">
            <option value="">none (statistics only)</option>
            {keys.length > 1 && <option value={key}>{keys.join(", ")}</option>}
            {columns.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <button
          onClick={() =>
            setParams(
              (old) => {
                const next = new URLSearchParams(old);
                next.set("base", String(target));
                next.set("target", String(base));
                return next;
              },
              { replace: true },
            )
          }
          title="swap base and target"
        >
          ⇄ swap
        </button>
        {diff.isFetching && <span className="muted small">comparing…</span>}
      </div>
      {base === target ? (
        <p className="muted">Pick two different versions.</p>
      ) : (
        <>
          <Pending query={diff} what={`the diff of v${base} and v${target}`} />
          {diff.data && !diff.error && <DiffResult diff={diff.data} />}
        </>
      )}
    </div>
  );
}

function DiffResult({ diff }: { diff: Schemas["DatasetDiff"] }) {
  const rd = diff.row_diff;
  const [before, after] = diff.rows;
  const schema = diff.schema_changes;
  const schemaChanges = schema.added.length + schema.removed.length + schema.changed.length;
  const shifts = shiftTable(schema, diff.columns);
  const moved = shifts.filter((s) => s.level !== "same").length;
  return (
    <>
      <div className="ds-cards">
        <div className="card">
          <div className="value small-value">
            {formatNumber(before)} <span className="ds-arrow">→</span> {formatNumber(after)}
          </div>
          <div className="label">
            rows (v{diff.base} → v{diff.target}) <Delta a={before} b={after} />
          </div>
        </div>
        {rd ? (
          <>
            <Count label="added rows" value={rd.added} cls="ds-count-added" />
            <Count label="removed rows" value={rd.removed} cls="ds-count-removed" />
            <Count label="changed rows" value={rd.changed} cls="ds-count-changed" />
            <Count label="unchanged rows" value={rd.unchanged} />
          </>
        ) : (
          <div className="card">
            <div className="value small-value muted">—</div>
            <div className="label">choose a row key to match rows</div>
          </div>
        )}
        <Count label="schema changes" value={schemaChanges} cls={schemaChanges ? "ds-count-changed" : ""} />
        <Count label="shared files" value={diff.shared_files} />
      </div>

      {schemaChanges > 0 && (
        <div className="panel" data-testid="schema-changes">
          <h2>Schema changes</h2>
          <table className="data">
            <thead>
              <tr>
                <th>Change</th>
                <th>Column</th>
                <th>Type in v{diff.base}</th>
                <th>Type in v{diff.target}</th>
              </tr>
            </thead>
            <tbody>
              {schema.added.map((c) => (
                <tr key={`a-${c.name}`} className="added">
                  <td className="ds-rowkind">added</td>
                  <td className="ds-mono">{c.name}</td>
                  <td />
                  <td className="ds-type">{c.type}</td>
                </tr>
              ))}
              {schema.removed.map((c) => (
                <tr key={`r-${c.name}`} className="removed">
                  <td className="ds-rowkind">removed</td>
                  <td className="ds-mono">{c.name}</td>
                  <td className="ds-type">{c.type}</td>
                  <td />
                </tr>
              ))}
              {schema.changed.map((c) => (
                <tr key={`c-${c.name}`} className="changed">
                  <td className="ds-rowkind">type changed</td>
                  <td className="ds-mono">{c.name}</td>
                  <td className="ds-type">{c.base}</td>
                  <td className="ds-type">{c.target}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      {rd && (
        <div className="panel" data-testid="row-diff">
          <h2>
            Rows matched on <span className="ds-mono">{rd.key.join(", ")}</span>
          </h2>
          <RowExamples rowDiff={rd} />
        </div>
      )}

      <div className="panel" data-testid="stat-shifts">
        <h2>
          Column statistics <span className="muted small">{moved ? `${moved} of ${shifts.length} columns moved` : "no column moved"}</span>
        </h2>
        <div className="ds-table-wrap">
          <table className="data">
            <thead>
              <tr>
                <th>Column</th>
                <th>Null rate</th>
                <th>Distinct (≈)</th>
                <th>Mean</th>
                <th>Std</th>
                <th>Min</th>
                <th>Max</th>
                <th className="num" title={`population stability index: ≥ ${PSI_MODERATE} moderate, ≥ ${PSI_MAJOR} major shift`}>
                  PSI
                </th>
                <th>Note</th>
              </tr>
            </thead>
            <tbody>
              {shifts.map((row) => {
                const s = row.shift;
                return (
                  <tr key={`${row.level}-${row.name}`} className={row.level === "same" ? "" : row.level} data-testid="shift-row">
                    <td className="ds-mono">{row.name}</td>
                    {s ? (
                      <>
                        <td>
                          <Pair pair={s.null_rate} format={(v) => (v === null ? "" : `${+(Number(v) * 100).toFixed(2)}%`)} />
                        </td>
                        <td>
                          <Pair pair={s.distinct} />
                        </td>
                        <td>
                          <Pair pair={s.mean} />
                        </td>
                        <td>
                          <Pair pair={s.std} />
                        </td>
                        <td>
                          <Pair pair={s.min} />
                        </td>
                        <td>
                          <Pair pair={s.max} />
                        </td>
                        <td className="num">
                          {s.psi !== null && s.psi !== undefined && (
                            <span className={`ds-psi ${s.psi >= PSI_MAJOR ? "major" : s.psi >= PSI_MODERATE ? "moderate" : ""}`}>{s.psi.toFixed(3)}</span>
                          )}
                        </td>
                      </>
                    ) : (
                      <td colSpan={7} />
                    )}
                    <td className="small">{row.note}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </div>
    </>
  );
}

function RowExamples({ rowDiff }: { rowDiff: Schemas["RowDiff"] }) {
  const { columns, rows } = diffTable(rowDiff);
  if (rows.length === 0) return <p className="muted">The rows are the same in both versions.</p>;
  const keySet = new Set(rowDiff.key);
  return (
    <>
      <p className="muted small">
        Examples of each kind (up to 10); changed rows show the key and the values that changed.
      </p>
      <div className="ds-table-wrap">
        <table className="data" data-testid="diff-rows">
          <thead>
            <tr>
              <th />
              {columns.map((c) => (
                <th key={c}>
                  {c}
                  {keySet.has(c) && <span className="ds-chip accent" style={{ marginLeft: 4 }}>key</span>}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row, i) => (
              <tr key={i} className={row.kind}>
                <td className="ds-rowkind">{row.kind}</td>
                {columns.map((c) => (
                  <td key={c} className="ds-mono">
                    <Cell cell={row.cells[c]} />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function Cell({ cell }: { cell: DiffCell | undefined }) {
  if (!cell) return null;
  if (cell.changed)
    return (
      <>
        <span className="ds-before">{show(cell.before)}</span>
        <span className="ds-arrow">→</span>
        <span className="ds-after">{show(cell.value)}</span>
      </>
    );
  return <>{show(cell.value)}</>;
}

function Pair({ pair, format = (v) => (typeof v === "number" ? short(v) : formatScalar(v as never)) }: { pair: readonly unknown[]; format?: (v: unknown) => string }) {
  const [a, b] = pair;
  const fa = format(a ?? null);
  const fb = format(b ?? null);
  if (fa === fb) return <span className="muted">{fa}</span>;
  return (
    <span>
      {fa || "—"}
      <span className="ds-arrow">→</span>
      <strong>{fb || "—"}</strong>
    </span>
  );
}

function Count({ label, value, cls = "" }: { label: string; value: number; cls?: string }) {
  return (
    <div className="card">
      <div className={`value ${value ? cls : ""}`}>{formatNumber(value)}</div>
      <div className="label">{label}</div>
    </div>
  );
}

function Delta({ a, b }: { a: number; b: number }) {
  if (a === b) return null;
  const d = b - a;
  return <span className={d > 0 ? "ds-delta-up" : "ds-delta-down"}>{`${d > 0 ? "+" : ""}${formatNumber(d)}`}</span>;
}
