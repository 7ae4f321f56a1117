// The model page's Monitoring tab: the model's monitors, and for the chosen one (?monitor=,
// default `default`) over a period (?period=24h|7d|30d) its drift heatmap, performance,
// quality problems and alerts; a window (?window=VERSION@START) opens its data.
import { useState } from "react";
import { useSearchParams } from "react-router";
import type { Schemas } from "../../api/client";
import { useGet, useGetKeep } from "../../api/hooks";
import { ErrorMessage, Loading, Pending } from "../../components/ErrorMessage";
import { formatAgo, formatTime } from "../../format";
import { AlertsTimeline } from "./AlertsTimeline";
import { DriftHeatmap } from "./DriftHeatmap";
import { type Monitor, PERIODS, type WindowResult, checksOf, onAlertText, periodOf, windowKey } from "./logic";
import { PerformancePanel } from "./PerformancePanel";
import { QualityTable } from "./QualityTable";
import { WindowPanel } from "./WindowPanel";
import "../serving/serving.css";
import "./monitoring.css";

const WINDOW_LIMIT = 5000;

export function MonitoringTab({ name }: { name: string }) {
  const [params, setParams] = useSearchParams();
  const monitors = useGet<Monitor[]>("/monitoring/monitors", { model: name });
  const list = monitors.data ?? [];
  const wanted = params.get("monitor");
  const chosen = wanted ? list.find((m) => m.name === wanted) : (list.find((m) => m.name === "default") ?? list[0]);

  function set(key: string, value: string | null) {
    setParams(
      (old) => {
        const next = new URLSearchParams(old);
        if (value) next.set(key, value);
        else next.delete(key);
        if (key !== "window") next.delete("window");
        return next;
      },
      { replace: true },
    );
  }

  if (!monitors.data) return <Pending query={monitors} what="the monitors" />;
  if (list.length === 0)
    return (
      <div className="mo-empty" data-testid="no-monitor">
        <p>
          <strong>{name} has no monitor.</strong> A monitor compares each window of the prediction log with the model's training data (drift), checks data quality, and
          follows performance as labels arrive.
        </p>
        <p>Add one with:</p>
        <pre data-testid="monitor-command">dockyard monitor add {name}</pre>
        <p className="muted small">
          Options: <code>--window 1h</code>, <code>--metric auc --min 0.8</code>, <code>--webhook URL</code>, <code>--freeze</code>; see <code>dockyard monitor add --help</code>.
        </p>
      </div>
    );

  return (
    <div data-testid="monitoring">
      <MonitorsTable monitors={list} chosen={chosen?.name ?? null} onChoose={(n) => set("monitor", n === "default" ? null : n)} />
      {!chosen && (
        <p className="notice" role="status" data-testid="unknown-monitor">
          {name} has no monitor “{(wanted ?? "").slice(0, 80)}” (its monitors are {list.map((m) => m.name).join(", ")}).
        </p>
      )}
      {chosen && <MonitorResults name={name} monitor={chosen} periodId={params.get("period")} selected={params.get("window")} set={set} />}
    </div>
  );
}

function MonitorsTable({ monitors, chosen, onChoose }: { monitors: Monitor[]; chosen: string | null; onChoose: (name: string) => void }) {
  return (
    <div className="mo-wrap">
      <table className="data" data-testid="monitors">
        <thead>
          <tr>
            <th>Monitor</th>
            <th>Window</th>
            <th>Checks</th>
            <th>An alert</th>
            <th>Computed until (UTC)</th>
            <th>Last run</th>
            <th>Last error</th>
          </tr>
        </thead>
        <tbody>
          {monitors.map((m) => (
            <tr key={m.id} className={m.name === chosen ? "mo-chosen" : "mo-row"} onClick={() => onChoose(m.name)} data-testid="monitor-row" data-monitor={m.name}>
              <td>
                <b>{m.name}</b>
                {!m.enabled && <span className="status status-skipped">disabled</span>}
              </td>
              <td>{m.window}</td>
              <td data-testid="monitor-checks">{checksOf(m)}</td>
              <td data-testid="monitor-actions">
                {onAlertText(m).map((text) => (
                  <div key={text} className="mo-action-text">
                    {text}
                  </div>
                ))}
              </td>
              <td style={{ whiteSpace: "nowrap" }}>{m.computed_until ? formatTime(m.computed_until) : <span className="muted">not yet</span>}</td>
              <td style={{ whiteSpace: "nowrap" }} title={m.last_run_at ? formatTime(m.last_run_at) : ""}>
                {m.last_run_at ? formatAgo(m.last_run_at) : <span className="muted">never</span>}
              </td>
              <td className={m.last_error ? "mo-error" : "muted"} data-testid="monitor-error">
                {m.last_error || "none"}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function MonitorResults({
  name,
  monitor,
  periodId,
  selected,
  set,
}: {
  name: string;
  monitor: Monitor;
  periodId: string | null;
  selected: string | null;
  set: (key: string, value: string | null) => void;
}) {
  const period = periodOf(periodId);
  // the period ends when the tab opened or was refreshed, so the query stays the same
  const [anchor, setAnchor] = useState(() => Date.now());
  const since = new Date(anchor - period.ms).toISOString();
  const windows = useGetKeep<WindowResult[]>("/monitoring/windows", { model: name, monitor: monitor.name, since, limit: WINDOW_LIMIT, newest: true });
  const alerts = useGetKeep<Schemas["Alert"][]>("/monitoring/alerts", { model: name, since, limit: 500 });
  const found = windows.data ?? [];
  const open = selected ? found.find((w) => windowKey(w) === selected) : undefined;

  return (
    <div className="mo-results">
      <div className="sv-toolbar mo-toolbar">
        <span className="sv-seg" role="group" aria-label="period" data-testid="period">
          {PERIODS.map((p) => (
            <button key={p.id} className={p.id === period.id ? "active" : ""} onClick={() => set("period", p.id === PERIODS[0].id ? null : p.id)}>
              {p.label}
            </button>
          ))}
        </span>
        <button onClick={() => setAnchor(Date.now())} title="Read the windows up to now">
          Refresh
        </button>
        <span className="spacer" />
        {(windows.isFetching || alerts.isFetching) && <span className="muted small">loading…</span>}
      </div>
      {windows.error && <ErrorMessage error={windows.error} what={`the windows of ${monitor.name}`} />}
      {windows.isPending && <Loading what="the windows" />}
      {windows.data && found.length === 0 && (
        <div className="mo-empty" data-testid="no-windows">
          <strong>
            No window of {monitor.name} in the {period.label}.
          </strong>{" "}
          {monitor.computed_until
            ? `It computed windows until ${formatTime(monitor.computed_until)} UTC; windows without traffic are not stored.`
            : `It has not run yet: runners compute it on schedule, or run it now with `}
          {!monitor.computed_until && <code>dockyard monitor run {name}</code>}
          {period.id !== "30d" && " Try a longer period."}
        </div>
      )}
      {found.length >= WINDOW_LIMIT && (
        <p className="notice" role="status">
          Showing the newest {WINDOW_LIMIT} windows of the period; choose a shorter period to see it all.
        </p>
      )}
      {found.length > 0 && (
        <>
          <h3 className="mo-section">Drift</h3>
          {monitor.config.drift ? (
            <DriftHeatmap windows={found} selected={open ? windowKey(open) : null} onSelect={(w) => set("window", windowKey(w))} />
          ) : (
            <p className="muted" data-testid="no-drift-config">
              This monitor does not check drift.
            </p>
          )}
          {selected && !open && (
            <p className="notice" role="status" data-testid="unknown-window">
              No window {selected.slice(0, 80)} in the {period.label}.
            </p>
          )}
          {open && <WindowPanel model={name} window={open} onClose={() => set("window", null)} />}
          <h3 className="mo-section">Performance</h3>
          {monitor.config.performance ? (
            <PerformancePanel windows={found} config={monitor.config.performance} />
          ) : (
            <p className="muted" data-testid="no-performance-config">
              This monitor has no performance check, so it computes no metric. Add one with <code>dockyard monitor add {name} --metric auc --min 0.8</code> and log labels
              with <code>dockyard monitor labels {name} FILE</code>.
            </p>
          )}
          <h3 className="mo-section">Quality problems</h3>
          {monitor.config.quality ? <QualityTable windows={found} /> : <p className="muted">This monitor does not check data quality.</p>}
        </>
      )}
      <h3 className="mo-section">Alerts and actions</h3>
      {alerts.error && <ErrorMessage error={alerts.error} what="the alerts" />}
      {alerts.isPending && <Loading what="the alerts" />}
      {alerts.data && <AlertsTimeline alerts={alerts.data} monitor={monitor.name} period={period.label} />}
    </div>
  );
}
