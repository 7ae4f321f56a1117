// One window of a monitor: its rows, per-column drift, quality and performance, and a link
// to the model's prediction log over the window's time range.
import { Link } from "react-router";
import { StatusBadge } from "../../components/StatusBadge";
import { formatNumber } from "../../format";
import { type WindowResult, driftColor, driftSeverity, formatCoverage, formatStat, predictionLogLink, shortTime } from "./logic";

export function WindowPanel({ model, window: w, onClose }: { model: string; window: WindowResult; onClose: () => void }) {
  const columns = [...w.drift].sort((a, b) => Number(b.drifted) - Number(a.drifted) || driftSeverity(b) - driftSeverity(a));
  const p = w.performance;
  return (
    <section className="mo-window" data-testid="window-panel" data-version={w.version} data-start={w.start}>
      <div className="mo-window-head">
        <b>
          Window {shortTime(w.start)} – {shortTime(w.end)} UTC · v{w.version}
        </b>
        <span className="muted">
          {formatNumber(w.rows)} predictions{w.drifted.length ? ` · drift in ${w.drifted.join(", ")}` : " · no drift"}
          {p.labelled > 0 ? ` · ${formatNumber(p.labelled)} labelled (${formatCoverage(p.coverage)})` : ""}
        </span>
        <span className="spacer" />
        <Link to={predictionLogLink(model, w)} data-testid="window-log-link">
          Its predictions in the log
        </Link>
        <button onClick={onClose} aria-label="Close the window">
          Close
        </button>
      </div>
      {columns.length === 0 ? (
        <p className="muted">No column was compared in this window (fewer rows than the monitor's minimum).</p>
      ) : (
        <table className="data" data-testid="window-drift">
          <thead>
            <tr>
              <th>Column</th>
              <th>Kind</th>
              <th>Method</th>
              <th className="num">Statistic</th>
              <th className="num">Threshold</th>
              <th className="num">p-value</th>
              <th>Verdict</th>
            </tr>
          </thead>
          <tbody>
            {columns.map((c) => (
              <tr key={c.column} data-testid="window-drift-row" data-column={c.column} data-drifted={String(c.drifted)}>
                <td>
                  <span className="mo-swatch" style={driftColor(driftSeverity(c), c.drifted)} /> {c.column}
                </td>
                <td>{c.kind}</td>
                <td>{c.method}</td>
                <td className="num">{formatStat(c.statistic)}</td>
                <td className="num">{formatStat(c.threshold)}</td>
                <td className="num">{formatStat(c.p_value)}</td>
                <td>{c.drifted ? <StatusBadge status="drifted" /> : <span className="muted">no drift</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {w.quality.length > 0 && (
        <p className="small">
          Quality: {w.quality.map((q) => `${q.column} ${q.check}${q.count ? ` (${formatNumber(q.count)})` : ""}`).join(" · ")}
        </p>
      )}
      {p.error && <p className="small mo-error">Performance: {p.error}</p>}
    </section>
  );
}
