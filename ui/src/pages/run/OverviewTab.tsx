// Overview: params, tags, latest metrics and the note.
import { useMemo, useState } from "react";
import { Link } from "react-router";
import type { UseQueryResult } from "@tanstack/react-query";
import type { ApiError } from "../../api/client";
import { KeyValue } from "../../components/KeyValue";
import { formatBytes, formatNumber } from "../../format";
import type { Artifact, Run } from "./api";
import { FailureTail } from "./LogsTab";
import { chartParam, isSystemMetric } from "./MetricsTab";

const AUTO_TAG = "dockyard.";

function FilterBox({ value, onChange, placeholder, testId }: { value: string; onChange: (v: string) => void; placeholder: string; testId?: string }) {
  return (
    <input
      className="run-filter"
      type="search"
      value={value}
      placeholder={placeholder}
      onChange={(e) => onChange(e.target.value)}
      data-testid={testId}
    />
  );
}

const matches = (needle: string, ...texts: string[]) => {
  const n = needle.trim().toLowerCase();
  return !n || texts.some((t) => t.toLowerCase().includes(n));
};

function MetricsTable({ run }: { run: Run }) {
  const [filter, setFilter] = useState("");
  const keys = useMemo(() => {
    const all = Object.keys(run.metrics).sort((a, b) => a.localeCompare(b));
    return [...all.filter((k) => !isSystemMetric(k)), ...all.filter(isSystemMetric)];
  }, [run.metrics]);
  const shown = keys.filter((k) => matches(filter, k));
  return (
    <section className="panel" data-testid="run-overview-metrics">
      <div className="run-panel-head">
        <h2>Metrics</h2>
        <span className="muted small">{keys.length} logged</span>
        <span className="spacer" />
        {keys.length > 8 && <FilterBox value={filter} onChange={setFilter} placeholder="Filter metrics" />}
      </div>
      {keys.length === 0 ? (
        <p className="muted">No metrics logged.</p>
      ) : (
        <div className="run-table-wrap">
          <table className="data run-metrics-table">
            <thead>
              <tr>
                <th>metric</th>
                <th className="num">last</th>
                <th className="num">min</th>
                <th className="num">max</th>
                <th className="num">step</th>
                <th className="num">points</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((key) => {
                const m = run.metrics[key];
                const tab = isSystemMetric(key) ? "system" : "metrics";
                return (
                  <tr key={key} className={isSystemMetric(key) ? "run-system-row" : undefined}>
                    <td className="mono">
                      {m.count > 1 ? <Link to={`?tab=${tab}&${chartParam(tab === "system", "q")}=${encodeURIComponent(key)}`}>{key}</Link> : key}
                    </td>
                    <td className="num run-strong">{formatNumber(m.last)}</td>
                    <td className="num">{formatNumber(m.min)}</td>
                    <td className="num">{formatNumber(m.max)}</td>
                    <td className="num">{formatNumber(m.step)}</td>
                    <td className="num">{formatNumber(m.count)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {shown.length === 0 && <p className="muted">No metric matches “{filter}”.</p>}
        </div>
      )}
    </section>
  );
}

function Params({ run }: { run: Run }) {
  const [filter, setFilter] = useState("");
  const keys = Object.keys(run.params).sort((a, b) => a.localeCompare(b));
  const rows = keys.filter((k) => matches(filter, k, run.params[k])).map((k) => [k, run.params[k]] as [string, string]);
  return (
    <section className="panel" data-testid="run-params">
      <div className="run-panel-head">
        <h2>Parameters</h2>
        <span className="muted small">{keys.length}</span>
        <span className="spacer" />
        {keys.length > 12 && <FilterBox value={filter} onChange={setFilter} placeholder="Filter parameters" />}
      </div>
      <KeyValue rows={rows} empty={keys.length ? `No parameter matches “${filter}”.` : "No parameters logged."} />
    </section>
  );
}

function TagList({ tags }: { tags: [string, string][] }) {
  return (
    <div className="run-tags">
      {tags.map(([k, v]) => (
        <span key={k} className="run-tag" title={`${k} = ${v}`}>
          <span className="run-tag-key">{k}</span>
          {v !== "" && <span className="run-tag-value">{v}</span>}
        </span>
      ))}
    </div>
  );
}

function Tags({ run }: { run: Run }) {
  const entries = Object.entries(run.tags).sort(([a], [b]) => a.localeCompare(b));
  const user = entries.filter(([k]) => !k.startsWith(AUTO_TAG));
  const auto = entries.filter(([k]) => k.startsWith(AUTO_TAG));
  return (
    <section className="panel" data-testid="run-tags">
      <div className="run-panel-head">
        <h2>Tags</h2>
        <span className="muted small">{user.length}</span>
      </div>
      {user.length ? <TagList tags={user} /> : <p className="muted">No tags set.</p>}
      {auto.length > 0 && (
        <>
          <h3>Recorded automatically</h3>
          <KeyValue rows={auto.map(([k, v]) => [k.slice(AUTO_TAG.length), v])} />
        </>
      )}
    </section>
  );
}

export function OverviewTab({ run, artifacts }: { run: Run; artifacts: UseQueryResult<Artifact[], ApiError> }) {
  const files = artifacts.data ?? [];
  const userMetrics = Object.entries(run.metrics).filter(([k]) => !isSystemMetric(k));
  const steps = userMetrics.reduce((most, [, m]) => Math.max(most, m.step), 0);
  const points = Object.values(run.metrics).reduce((sum, m) => sum + m.count, 0);
  return (
    <div data-testid="run-overview">
      <div className="cards run-cards">
        <div className="card">
          <div className="label">Parameters</div>
          <div className="value">{Object.keys(run.params).length}</div>
        </div>
        <div className="card">
          <div className="label">Metrics</div>
          <div className="value">{userMetrics.length}</div>
          <div className="label">
            {formatNumber(points)} {points === 1 ? "point" : "points"}
          </div>
        </div>
        <div className="card">
          <div className="label">Last step</div>
          <div className="value">{userMetrics.length ? formatNumber(steps) : "—"}</div>
        </div>
        <Link className="card run-card-link" to="?tab=artifacts">
          <div className="label">Artifacts</div>
          <div className="value">{artifacts.isPending ? "…" : files.length}</div>
          <div className="label">{formatBytes(files.reduce((s, f) => s + f.size, 0))}</div>
        </Link>
      </div>
      {(run.status === "failed" || run.status === "killed") && <FailureTail run={run} artifacts={artifacts} />}
      {run.note && (
        <section className="panel run-note" data-testid="run-note">
          <h2>Note</h2>
          <div className="run-note-text">{run.note}</div>
        </section>
      )}
      <div className="run-overview-grid">
        <div>
          <Params run={run} />
          <Tags run={run} />
        </div>
        <div>
          <MetricsTable run={run} />
        </div>
      </div>
    </div>
  );
}
