// The alerts of a monitor, newest first, each with what its actions did: kind, target,
// status (failed ones stand out), detail and attempts.
import { StatusBadge } from "../../components/StatusBadge";
import { formatAgo, formatTime } from "../../format";
import { type Alert, monitorAlerts, shortTime } from "./logic";

export function AlertsTimeline({ alerts, monitor, period }: { alerts: Alert[]; monitor: string; period: string }) {
  const own = monitorAlerts(alerts, monitor);
  if (own.length === 0)
    return (
      <p className="muted" data-testid="no-alerts">
        No alert from {monitor} in the {period}.
      </p>
    );
  return (
    <ol className="md-timeline" data-testid="alerts">
      {own.map((a) => {
        const failed = a.actions.some((o) => o.status === "failed");
        return (
          <li key={a.id} className="md-move" data-testid="alert" data-rule={a.rule}>
            <span className={`md-dot ${failed ? "failed" : "cancelled"}`} />
            <div className="mo-alert-head">
              <span className={`status mo-rule mo-rule-${a.rule}`}>{a.rule.replace("_", " ")}</span>
              <b title={formatTime(a.raised_at)}>{formatTime(a.raised_at)} UTC</b>
              <span className="muted small">
                ({formatAgo(a.raised_at)}) · v{a.version} · window from {shortTime(a.window_start)}
              </span>
            </div>
            <div className="mo-alert-message" data-testid="alert-message">
              {a.message}
            </div>
            {a.actions.length === 0 ? (
              <div className="muted small">No action: the alert is recorded only.</div>
            ) : (
              <table className="data mo-actions" data-testid="alert-actions">
                <thead>
                  <tr>
                    <th>Action</th>
                    <th>Target</th>
                    <th>Status</th>
                    <th>Detail</th>
                    <th className="num">Attempts</th>
                  </tr>
                </thead>
                <tbody>
                  {a.actions.map((o, i) => (
                    <tr key={i} data-testid="alert-action" data-kind={o.kind} data-status={o.status} className={o.status === "failed" ? "mo-failed" : ""}>
                      <td>{o.kind}</td>
                      <td className="sv-mono">{o.target || "—"}</td>
                      <td>
                        <StatusBadge status={o.status} />
                      </td>
                      <td className="mo-detail">{o.detail || "—"}</td>
                      <td className="num">{o.attempts}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </li>
        );
      })}
    </ol>
  );
}
