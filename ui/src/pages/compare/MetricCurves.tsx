// One metric of every compared run, overlaid: x by step or time, log scale, EMA smoothing
// (the raw lines faint behind), zoom by wheel, drag or the slider.
import { useQueries } from "@tanstack/react-query";
import { useMemo } from "react";
import { type ApiError, getJson, seg } from "../../api/client";
import { Chart, type ChartOption, escapeHtml } from "../../components/Chart";
import { ErrorMessage } from "../../components/ErrorMessage";
import { formatNumber, formatTime, parseTime } from "../../format";
import { curvePoints } from "../compareData";
import { X_MODES, type XMode, formatSeconds } from "../run/points";
import type { CompareView } from "../compareData";
import type { RunInfo } from "./types";

const MAX_POINTS = 1000;

interface History {
  steps: number[];
  timestamps: number[];
  values: number[];
  total_points: number;
  downsampled: boolean;
}

function axisNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}

export function MetricCurves({
  runs,
  metrics,
  metric,
  view,
  onView,
}: {
  runs: RunInfo[];
  metrics: string[];
  /** the metric drawn (the view's, or a default) */
  metric: string;
  view: CompareView;
  onView: (change: Partial<CompareView>) => void;
}) {
  const having = runs.filter((r) => metric && r.run.metrics?.[metric]);
  // a metric each run logged once (a score, a count) has no curve: one bar per run says more
  const single = having.length > 0 && having.every((r) => (r.run.metrics?.[metric]?.count ?? 0) <= 1);
  const histories = useQueries({
    queries: having.map(({ run }) => ({
      queryKey: ["/runs/metric-history", run.id, metric, MAX_POINTS],
      enabled: !single,
      queryFn: ({ signal }: { signal: AbortSignal }) =>
        getJson<History>(`/runs/${seg(run.id)}/metric-history`, { key: metric, max_points: MAX_POINTS }, signal),
      staleTime: 30_000,
    })),
  });
  // what the chart depends on, as text: histories and runs change identity on every render
  const loaded = histories.map((h) => h.dataUpdatedAt).join(",");
  const lines = having.map((r) => `${r.run.id}:${r.label}:${r.color}`).join("|");
  const error = histories.find((h) => h.error)?.error as ApiError | undefined;

  const option = useMemo<ChartOption>(() => {
    const x = view.x;
    const series = having.flatMap((info, i) => {
      const data = histories[i]?.data;
      if (!data) return [];
      const origin = parseTime(info.run.start_time);
      const raw = curvePoints(data, x, 0, view.log, origin);
      const common = { type: "line", name: info.label, color: info.color, showSymbol: raw.length <= 30, symbolSize: 5, connectNulls: false };
      if (view.smooth <= 0) return [{ ...common, id: `line:${info.run.id}`, data: raw, lineStyle: { width: 1.8 }, z: 2 }];
      return [
        { ...common, id: `raw:${info.run.id}`, data: raw, lineStyle: { width: 1, opacity: 0.2 }, itemStyle: { opacity: 0.25 }, emphasis: { disabled: true }, silent: true, z: 1 },
        { ...common, id: `line:${info.run.id}`, data: curvePoints(data, x, view.smooth, view.log, origin), showSymbol: false, lineStyle: { width: 1.8 }, z: 2 },
      ];
    });
    const xText = (v: number) => (x === "step" ? `step ${formatNumber(v)}` : x === "wall" ? `${formatTime(v)} UTC` : `+${formatSeconds(v)}`);
    return {
      animation: false,
      useUTC: true,
      legend: { type: "scroll", top: 0 },
      grid: { left: 12, right: 24, top: 36, bottom: 52, containLabel: true },
      tooltip: {
        trigger: "axis",
        formatter: (params: unknown) => {
          const items = (params as { seriesId: string; seriesName: string; color: string; value: [number, number | null] }[]).filter(
            (p) => !p.seriesId.startsWith("raw:"),
          );
          if (!items.length) return "";
          return (
            `<div class="compare-tip-head">${xText(items[0].value[0])}</div>` +
            items
              .map((p) => `<div><span class="compare-dot" style="background:${escapeHtml(p.color)}"></span>${escapeHtml(p.seriesName)} <b>${p.value[1] === null ? "—" : formatNumber(p.value[1])}</b></div>`)
              .join("")
          );
        },
      },
      xAxis: {
        type: x === "wall" ? "time" : "value",
        min: "dataMin",
        max: "dataMax",
        name: x === "step" ? "step" : x === "relative" ? "time since start" : "",
        nameLocation: "middle",
        nameGap: 26,
        axisLabel: { hideOverlap: true, formatter: x === "relative" ? (v: number) => formatSeconds(v) : x === "step" ? (v: number) => axisNumber(v) : undefined },
        splitLine: { show: false },
      },
      yAxis: { type: view.log ? "log" : "value", scale: true, axisLabel: { formatter: (v: number) => axisNumber(v) }, splitLine: { lineStyle: { color: "#eef0f4" } } },
      dataZoom: [
        { type: "inside", xAxisIndex: 0, filterMode: "none" },
        { type: "slider", xAxisIndex: 0, height: 16, bottom: 4, showDetail: false, filterMode: "none" },
      ],
      series,
    };
  }, [loaded, lines, view.x, view.log, view.smooth]);

  const bars = useMemo<ChartOption>(() => {
    const values = having.map((r) => r.run.metrics?.[metric]?.last ?? null);
    return {
      animation: false,
      grid: { left: 12, right: 24, top: 24, bottom: 12, containLabel: true },
      tooltip: { trigger: "item", formatter: (p: { name: string; value: number }) => `${escapeHtml(p.name)}: <b>${formatNumber(p.value)}</b>` },
      xAxis: { type: "category", data: having.map((r) => r.label), axisLabel: { interval: 0, hideOverlap: true, width: 140, overflow: "truncate" } },
      yAxis: { type: "value", name: metric, axisLabel: { formatter: (v: number) => axisNumber(v) }, splitLine: { lineStyle: { color: "#eef0f4" } } },
      series: [
        {
          type: "bar",
          barMaxWidth: 48,
          data: having.map((r, i) => ({ name: r.label, value: values[i], itemStyle: { color: r.color } })),
          label: { show: true, position: "top", fontSize: 11, formatter: (p: { value: number }) => formatNumber(p.value) },
        },
      ],
    };
  }, [lines, metric]);

  const lacking = runs.filter((r) => metric && !r.run.metrics?.[metric]);
  const drawn = histories.filter((h) => h.data).length;
  if (metrics.length === 0) {
    return (
      <section className="panel" data-testid="compare-curves" data-metric="" data-lines={0}>
        <h2>Metric</h2>
        <p className="muted" data-testid="curves-none">
          These runs logged no metrics (a pipeline's run keeps its steps' metrics in their own runs).
        </p>
      </section>
    );
  }
  if (single) {
    return (
      <section className="panel" data-testid="compare-curves" data-metric={metric} data-lines={0} data-bars={having.length}>
        <div className="compare-controls">
          <h2>Metric</h2>
          <select aria-label="metric" data-testid="curve-metric" value={metric} onChange={(e) => onView({ metric: e.target.value })}>
            {metrics.map((key) => (
              <option key={key} value={key}>
                {key}
              </option>
            ))}
          </select>
          <span className="muted small" data-testid="curves-single">
            each run logged {metric} once: one bar per run
          </span>
        </div>
        <Chart option={bars} height={300} testId="bars-chart" />
        {lacking.length > 0 && (
          <p className="muted small">
            No {metric} in {lacking.map((r) => r.label).join(", ")}.
          </p>
        )}
      </section>
    );
  }
  return (
    <section className="panel" data-testid="compare-curves" data-metric={metric} data-lines={drawn}>
      <div className="compare-controls">
        <h2>Metric</h2>
        <select aria-label="metric" data-testid="curve-metric" value={metric} onChange={(e) => onView({ metric: e.target.value })}>
          {metrics.map((key) => (
            <option key={key} value={key}>
              {key}
            </option>
          ))}
        </select>
        <label>
          x{" "}
          <select aria-label="x axis" data-testid="curve-x" value={view.x} onChange={(e) => onView({ x: e.target.value as XMode })}>
            {X_MODES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          <input type="checkbox" data-testid="curve-log" checked={view.log} onChange={(e) => onView({ log: e.target.checked })} /> log scale
        </label>
        <label className="compare-smooth">
          smoothing
          <input
            type="range"
            data-testid="curve-smooth"
            min={0}
            max={0.99}
            step={0.01}
            value={view.smooth}
            onChange={(e) => onView({ smooth: Number(e.target.value) })}
          />
          <span className="mono">{view.smooth.toFixed(2)}</span>
        </label>
      </div>
      {metrics.length === 0 ? (
        <p className="muted">These runs logged no metrics.</p>
      ) : (
        <>
          {error && <ErrorMessage error={error} what={`the history of ${metric}`} />}
          <Chart option={option} height={340} testId="curves-chart" />
          {lacking.length > 0 && (
            <p className="muted small">
              No {metric} in {lacking.map((r) => r.label).join(", ")}.
            </p>
          )}
        </>
      )}
    </section>
  );
}
