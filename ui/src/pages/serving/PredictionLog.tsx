// The prediction log of one model, newest first: a time range (the last hour, day or week,
// or ?since=&until= from a monitoring window), filters by version and by shadow, and a row
// per prediction that opens its trace.
import { useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { type Schemas, seg } from "../../api/client";
import { useGet, useGetKeep } from "../../api/hooks";
import { ErrorMessage, Loading } from "../../components/ErrorMessage";
import { PageHeader } from "../../components/PageHeader";
import { StatusBadge } from "../../components/StatusBadge";
import { formatNumber, formatTime } from "../../format";
import { type Prediction, RANGES, compactInputs, compactValue, explicitRange, formatLatency, rangeOf, since, summarize } from "./logic";
import "./serving.css";

type PredictionPage = Schemas["PredictionPage"];
const LIMITS = [100, 500, 2000];

export default function PredictionLog() {
  const { name = "" } = useParams();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const between = explicitRange(params.get("since"), params.get("until"));
  const range = between ? { id: "between", label: between.label } : rangeOf(params.get("range"));
  const version = params.get("version") ?? "";
  const shadow = params.get("shadow") ?? "";
  const limit = LIMITS.includes(Number(params.get("limit"))) ? Number(params.get("limit")) : LIMITS[0];
  // the range ends when the page opened or was refreshed, so the query stays the same
  const [anchor, setAnchor] = useState(() => Date.now());
  const base = `/models/${seg(name)}`;
  const model = useGet<Schemas["RegisteredModel"]>(base);
  const versions = useGet<Schemas["dockyard__registry__schemas__VersionPage"]>(model.data ? `${base}/versions` : null, { limit: 1000 });
  const log = useGetKeep<PredictionPage>(model.data ? "/serving/predictions" : null, {
    model: name,
    since: between ? between.since : since(range.id, anchor),
    until: between?.until,
    version: version || undefined,
    shadow: shadow || undefined,
    limit,
  });

  function set(key: string, value: string) {
    setParams(
      (old) => {
        const next = new URLSearchParams(old);
        if (value) next.set(key, value);
        else next.delete(key);
        if (key !== "limit") next.delete("limit");
        if (key === "range") {
          next.delete("since");
          next.delete("until");
        }
        return next;
      },
      { replace: true },
    );
  }

  const crumbs: [string, string][] = [
    ["Deployments", "/deployments"],
    [name, base],
  ];
  const predictions = log.data?.predictions ?? [];
  const numbers = [...(versions.data?.items ?? [])].map((v) => v.version).sort((a, b) => b - a);
  const summary = summarize(predictions);
  const next = LIMITS.find((n) => n > limit);

  return (
    <div>
      <PageHeader crumbs={crumbs} title={<>Prediction log of {name}</>} />
      {model.error && <ErrorMessage error={model.error} what={`model ${name}`} />}
      <div className="sv-toolbar">
        <span className="sv-seg" role="group" aria-label="time range" data-testid="range">
          {RANGES.map((r) => (
            <button key={r.id} className={r.id === range.id ? "active" : ""} onClick={() => set("range", r.id === RANGES[0].id ? "" : r.id)}>
              {r.label}
            </button>
          ))}
        </span>
        {between && (
          <span className="sv-between" data-testid="log-between">
            {between.label}
          </span>
        )}
        <label>
          Version
          <select value={version} onChange={(e) => set("version", e.target.value)} data-testid="version-filter">
            <option value="">all versions</option>
            {numbers.map((n) => (
              <option key={n} value={String(n)}>
                v{n}
              </option>
            ))}
            {version && !numbers.includes(Number(version)) && <option value={version}>v{version}</option>}
          </select>
        </label>
        <label>
          Answers
          <select value={shadow} onChange={(e) => set("shadow", e.target.value)} data-testid="shadow-filter">
            <option value="">answered and shadow</option>
            <option value="false">answered only</option>
            <option value="true">shadow only</option>
          </select>
        </label>
        <button onClick={() => setAnchor(Date.now())} title="Read the log up to now">
          Refresh
        </button>
        <span className="spacer" />
        {log.isFetching && <span className="muted small">loading…</span>}
      </div>
      {log.error && <ErrorMessage error={log.error} what="the prediction log" />}
      {model.data && log.isPending && <Loading what="predictions" />}
      {log.data && (
        <div className="sv-summary" data-testid="log-summary">
          <span>
            <b>{formatNumber(summary.count)}</b> prediction{summary.count === 1 ? "" : "s"} in the {range.label}
            {summary.count === limit ? ` (the newest ${formatNumber(limit)})` : ""}, newest first
          </span>
          {summary.versions.length > 0 && <span>{summary.versions.map(([v, n]) => `v${v}: ${formatNumber(n)}`).join(" · ")}</span>}
          {summary.shadow > 0 && <span>{formatNumber(summary.shadow)} shadow</span>}
          {summary.p50 !== null && (
            <span>
              latency p50 <b>{formatLatency(summary.p50)}</b> · p99 <b>{formatLatency(summary.p99)}</b>
            </span>
          )}
          <span title="Parquet files of the log read for this answer">{formatNumber(log.data.segments_read)} segments read</span>
        </div>
      )}
      {log.data && predictions.length === 0 && (
        <div className="sv-empty" data-testid="no-predictions">
          <p>
            <strong>
              No prediction of {name} {version ? `v${version} ` : ""}
              {shadow === "true" ? "from a shadow " : ""}in the {range.label}.
            </strong>
          </p>
          <p>
            {range.id !== "7d" && range.id !== "between" && "Try a longer range. "}Servers started with <code>dockyard serve models:/{name}@ALIAS</code> write every answer here within a few seconds.
          </p>
        </div>
      )}
      {predictions.length > 0 && (
        <div className="sv-wrap">
          <table className="data" data-testid="predictions">
            <thead>
              <tr>
                <th>Prediction</th>
                <th>Time (UTC)</th>
                <th>Version</th>
                <th>Alias</th>
                <th>Answer</th>
                <th className="num">Latency</th>
                <th>Output</th>
                <th>Inputs</th>
              </tr>
            </thead>
            <tbody>
              {predictions.map((p) => (
                <PredictionRow key={p.prediction_id} prediction={p} onOpen={() => navigate(`/predictions/${p.prediction_id}`)} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {next && summary.count === limit && (
        <p>
          <button onClick={() => set("limit", String(next))} data-testid="more-predictions">
            Show the newest {formatNumber(next)}
          </button>
        </p>
      )}
    </div>
  );
}

function PredictionRow({ prediction: p, onOpen }: { prediction: Prediction; onOpen: () => void }) {
  const inputs = compactInputs(p.inputs);
  const output = compactValue(p.output, 200);
  return (
    <tr className="sv-row" onClick={onOpen} data-testid="prediction-row">
      <td className="sv-mono" onClick={(e) => e.stopPropagation()}>
        <Link to={`/predictions/${p.prediction_id}`}>{p.prediction_id}</Link>
      </td>
      <td style={{ whiteSpace: "nowrap" }}>{formatTime(p.at)}</td>
      <td onClick={(e) => e.stopPropagation()}>
        <Link to={`/models/${seg(p.model)}?version=${p.version}`}>v{p.version}</Link>
      </td>
      <td>
        <span className="sv-alias">@{p.alias}</span>
      </td>
      <td>
        <StatusBadge status={p.shadow ? "shadow" : "answered"} />
      </td>
      <td className="num">{formatLatency(p.latency_ms)}</td>
      <td className="sv-output" title={output}>
        {output}
      </td>
      <td className="sv-inputs" title={JSON.stringify(p.inputs, null, 1)}>
        {inputs}
      </td>
    </tr>
  );
}
