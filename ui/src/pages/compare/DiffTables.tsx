// Params side by side (rows that differ highlighted, or only those) and the metrics' last values.
import type { ReactNode } from "react";
import { Link } from "react-router";
import { formatNumber } from "../../format";
import type { DiffRow } from "../compareData";
import type { RunInfo } from "./types";

function RunHeads({ runs }: { runs: RunInfo[] }) {
  return (
    <>
      {runs.map(({ run, label, color }) => (
        <th key={run.id} title={run.id}>
          <span className="compare-dot" style={{ background: color }} />
          <Link to={`/runs/${run.id}`}>{label}</Link>
        </th>
      ))}
    </>
  );
}

export function DiffTable<T>({
  title,
  rows,
  runs,
  show,
  onlyDiff,
  onOnlyDiff,
  testId,
  numeric = false,
}: {
  title: string;
  rows: DiffRow<T>[];
  runs: RunInfo[];
  show: (value: T) => ReactNode;
  onlyDiff: boolean;
  onOnlyDiff: (value: boolean) => void;
  testId: string;
  numeric?: boolean;
}) {
  const differing = rows.filter((r) => r.differs).length;
  const shown = onlyDiff ? rows.filter((r) => r.differs) : rows;
  return (
    <section className="panel compare-table" data-testid={testId}>
      <div className="compare-controls">
        <h2>{title}</h2>
        <span className="muted small">
          {rows.length} keys, {differing} differ
        </span>
        <span className="spacer" />
        <label>
          <input type="checkbox" data-testid={`${testId}-only-diff`} checked={onlyDiff} onChange={(e) => onOnlyDiff(e.target.checked)} /> only differences
        </label>
      </div>
      {shown.length === 0 ? (
        <p className="muted">{rows.length === 0 ? "None recorded." : "Every run has the same values."}</p>
      ) : (
        <div className="compare-table-scroll">
          <table className="data">
            <thead>
              <tr>
                <th>key</th>
                <RunHeads runs={runs} />
              </tr>
            </thead>
            <tbody>
              {shown.map((row) => (
                <tr key={row.key} className={row.differs ? "changed" : ""} data-testid="diff-row" data-key={row.key} data-differs={row.differs}>
                  <th className="mono">{row.key}</th>
                  {row.values.map((value, i) => (
                    <td key={runs[i].run.id} className={numeric ? "num" : "mono"}>
                      {value === undefined ? <span className="muted">—</span> : show(value)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export const showText = (value: string) => value;
export const showNumber = (value: number) => formatNumber(value);
