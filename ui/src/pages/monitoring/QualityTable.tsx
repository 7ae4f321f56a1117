// Data quality problems of the period's windows, newest window first.
import { formatNumber } from "../../format";
import { type WindowResult, qualityRows, shortTime } from "./logic";

export function QualityTable({ windows }: { windows: WindowResult[] }) {
  const rows = qualityRows(windows);
  if (rows.length === 0)
    return (
      <p className="muted" data-testid="no-quality-problems">
        No quality problem in {windows.length} window{windows.length === 1 ? "" : "s"}: the traffic kept the reference's rules, nulls and categories.
      </p>
    );
  return (
    <div className="mo-wrap">
      <table className="data" data-testid="quality-problems">
        <thead>
          <tr>
            <th>Window (UTC)</th>
            <th>Version</th>
            <th>Column</th>
            <th>Check</th>
            <th>Message</th>
            <th className="num">Count</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i} data-testid="quality-row">
              <td style={{ whiteSpace: "nowrap" }}>{shortTime(r.window.start)}</td>
              <td>v{r.window.version}</td>
              <td>{r.column}</td>
              <td>{r.check}</td>
              <td>{r.message}</td>
              <td className="num">{formatNumber(r.count)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
