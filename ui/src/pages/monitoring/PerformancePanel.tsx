// The monitor's metric per window: realised from the labels known now and estimated before
// they arrive, on one chart with label coverage (bars, right axis) and the alert bound as a
// line; below it, the same numbers in a table.
import { useMemo } from "react";
import type { Schemas } from "../../api/client";
import { Chart, type ChartOption, escapeHtml } from "../../components/Chart";
import { formatNumber } from "../../format";
import { type PerformanceSeries, type WindowResult, breaks, formatCoverage, formatStat, performanceSeries, shortTime } from "./logic";

const REALISED = ["#2463eb", "#0e9f6e", "#8b5cf6", "#e08a3c"];

export function PerformancePanel({ windows, config }: { windows: WindowResult[]; config: Schemas["PerformanceConfig"] }) {
  const series = useMemo(() => performanceSeries(windows, config), [windows, config]);
  const option = useMemo(() => chartOption(series), [series]);
  const labelled = series.points.some((p) => p.labelled > 0);
  const estimated = series.points.some((p) => p.estimated !== null);
  return (
    <div data-testid="performance">
      <p className="small muted">
        {series.metric} per window{series.bound ? `; alerts ${series.bound.kind === "min" ? "below" : "above"} ${formatNumber(series.bound.value)}` : "; no alert bound set"}
        {!labelled && " · no labels yet: only estimates"}
        {!estimated && !labelled && " · nothing to estimate (estimates need a classifier's scores)"}
      </p>
      <Chart option={option} height={280} testId="performance-chart" />
      <details className="mo-details">
        <summary>The numbers per window</summary>
        <div className="mo-wrap">
          <table className="data" data-testid="performance-table">
            <thead>
              <tr>
                <th>Window (UTC)</th>
                <th>Version</th>
                <th className="num">Rows</th>
                <th className="num">Labelled</th>
                <th className="num">Coverage</th>
                <th className="num">{series.metric} realised</th>
                <th className="num">{series.metric} estimated</th>
                <th>Note</th>
              </tr>
            </thead>
            <tbody>
              {[...series.points].reverse().map((p) => (
                <tr key={`${p.version}-${p.time}`} data-testid="performance-row" data-start={new Date(p.time).toISOString()} data-version={p.version}>
                  <td>{shortTime(p.time)}</td>
                  <td>v{p.version}</td>
                  <td className="num">{formatNumber(p.rows)}</td>
                  <td className="num">{formatNumber(p.labelled)}</td>
                  <td className="num" data-testid="coverage">
                    {formatCoverage(p.coverage)}
                  </td>
                  <td className={`num${breaks(p.realised, series.bound) ? " mo-error" : ""}`} data-testid="realised">
                    {p.realised === null ? "—" : formatStat(p.realised)}
                  </td>
                  <td className={`num${breaks(p.estimated, series.bound) ? " mo-error" : ""}`} data-testid="estimated">
                    {p.estimated === null ? "—" : formatStat(p.estimated)}
                  </td>
                  <td className="small">{p.error || (p.labelled === 0 ? "no labels yet" : "")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </div>
  );
}

function chartOption(s: PerformanceSeries): ChartOption {
  const several = s.versions.length > 1;
  const name = (v: number, what: string) => (several ? `v${v} ${what}` : what);
  const out: Record<string, unknown>[] = [];
  s.versions.forEach((v, i) => {
    const own = s.points.filter((p) => p.version === v);
    const color = REALISED[i % REALISED.length];
    out.push({
      name: name(v, "realised"),
      type: "line",
      data: own.map((p) => [p.time, p.realised]),
      connectNulls: false,
      showSymbol: true,
      symbolSize: 7,
      itemStyle: { color },
    });
    out.push({
      name: name(v, "estimated"),
      type: "line",
      data: own.map((p) => [p.time, p.estimated]),
      connectNulls: false,
      showSymbol: true,
      symbol: "emptyCircle",
      symbolSize: 7,
      lineStyle: { type: "dashed" },
      itemStyle: { color },
    });
    out.push({
      name: name(v, "label coverage"),
      type: "bar",
      yAxisIndex: 1,
      data: own.map((p) => [p.time, Math.round(p.coverage * 1000) / 10]),
      barMaxWidth: 14,
      itemStyle: { color, opacity: 0.18 },
    });
  });
  if (s.bound && s.points.length > 0) {
    const first = s.points[0].time;
    const last = s.points[s.points.length - 1].time;
    out.push({
      name: `alert ${s.bound.kind === "min" ? "below" : "above"} ${formatNumber(s.bound.value)}`,
      type: "line",
      data: [
        [first, s.bound.value],
        [last === first ? first + 3_600_000 : last, s.bound.value],
      ],
      showSymbol: false,
      lineStyle: { type: "dotted", width: 2, color: "#d6333a" },
      itemStyle: { color: "#d6333a" },
    });
  }
  return {
    animation: false,
    grid: { left: 50, right: 50, top: 36, bottom: 30 },
    legend: { top: 0, type: "scroll" },
    tooltip: {
      trigger: "axis",
      formatter: (items: unknown) => {
        const list = items as { seriesName: string; value: [number, number | null]; marker: string }[];
        if (!list.length) return "";
        const head = `${shortTime(list[0].value[0])} UTC`;
        const rows = list
          .filter((item) => item.value[1] !== null && item.value[1] !== undefined)
          .map((item) => `${item.marker}${escapeHtml(item.seriesName)}: ${item.seriesName.endsWith("coverage") ? `${item.value[1]}%` : formatStat(item.value[1])}`);
        return [head, ...rows].join("<br/>");
      },
    },
    xAxis: { type: "time" },
    yAxis: [
      { type: "value", name: s.metric, scale: true },
      { type: "value", name: "labels", min: 0, max: 100, axisLabel: { formatter: "{value}%" }, splitLine: { show: false } },
    ],
    series: out,
  };
}
