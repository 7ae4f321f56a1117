// Parallel coordinates: one axis per param (numbers as value axes, text as categories) and the
// chosen metric last, one line per run coloured by that metric.
import { useMemo } from "react";
import { Chart, type ChartOption, escapeHtml } from "../../components/Chart";
import { formatNumber } from "../../format";
import { type Axis, extent, parallelData } from "../compareData";
import type { RunInfo } from "./types";

/** Axes beyond this many get too narrow to read. */
const MAX_PARAMS = 16;
const SCALE = ["#3b4cc0", "#8db0fe", "#f2cc8f", "#e4572e", "#b40426"];

const clip = (text: string) => (text.length > 18 ? `${text.slice(0, 17)}…` : text);

function axisOption(axis: Axis, dim: number) {
  const base = { dim, name: axis.name, nameTruncate: { maxWidth: 90 } };
  if (axis.type === "category") return { ...base, type: "category", data: axis.categories, axisLabel: { formatter: clip } };
  return { ...base, type: axis.type, scale: true, axisLabel: { formatter: (v: number) => formatNumber(v) } };
}

export function ParamsParallel({
  runs,
  params,
  metrics,
  metric,
  onMetric,
}: {
  runs: RunInfo[];
  /** the params to draw (those that differ, or all) */
  params: string[];
  metrics: string[];
  metric: string;
  onMetric: (metric: string) => void;
}) {
  const chosen = metric && metrics.includes(metric) ? metric : (metrics[0] ?? "");
  const drawn = params.slice(0, MAX_PARAMS);
  // what the chart depends on, as text (the arrays change identity with every render)
  const key = runs.map((r) => `${r.run.id}:${r.label}:${r.color}`).join("|");
  const axesKey = drawn.join("\n");
  const option = useMemo<ChartOption>(() => {
    const { axes, lines } = parallelData(
      runs.map((r) => r.run),
      drawn,
      chosen,
    );
    const range = chosen ? extent(lines.map((line) => line[line.length - 1])) : null;
    return {
      animation: false,
      tooltip: { trigger: "item", formatter: (p: { name: string }) => escapeHtml(p.name) },
      parallel: { left: 40, right: range ? 140 : 60, top: 42, bottom: 28, parallelAxisDefault: { nameGap: 14, nameTextStyle: { fontSize: 12, color: "#1d2430" }, axisLabel: { fontSize: 11, color: "#6b7485" } } },
      parallelAxis: axes.map(axisOption),
      visualMap: range
        ? {
            type: "continuous",
            dimension: axes.length - 1,
            // one value (or one run): a range around it
            min: range[1] > range[0] ? range[0] : range[0] - Math.abs(range[0]) * 0.01 - 1e-9,
            max: range[1] > range[0] ? range[1] : range[1] + Math.abs(range[1]) * 0.01 + 1e-9,
            right: 8,
            top: "middle",
            itemHeight: 160,
            calculable: true,
            precision: 3,
            text: [chosen, ""],
            inRange: { color: SCALE },
            outOfRange: { color: "#c3c8d2" },
          }
        : undefined,
      series: [
        {
          type: "parallel",
          smooth: false,
          lineStyle: { width: 2.2, opacity: 0.85 },
          emphasis: { lineStyle: { width: 4, opacity: 1 } },
          data: lines.map((line, i) => ({
            name: runs[i].label,
            value: line.map((v) => (v === null ? "-" : v)),
            ...(range ? {} : { lineStyle: { color: runs[i].color } }),
          })),
        },
      ],
    };
  }, [key, axesKey, chosen]);

  return (
    <section className="panel" data-testid="compare-parallel">
      <div className="compare-controls">
        <h2>Params against a metric</h2>
        {metrics.length > 0 && (
          <label>
            coloured by{" "}
            <select aria-label="colour metric" data-testid="parallel-metric" value={chosen} onChange={(e) => onMetric(e.target.value)}>
              {metrics.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </label>
        )}
        {params.length > MAX_PARAMS && <span className="muted small">the first {MAX_PARAMS} of {params.length} params that differ</span>}
      </div>
      {drawn.length === 0 && !chosen ? (
        <p className="muted">These runs have no params or metrics to draw.</p>
      ) : (
        <Chart option={option} height={360} testId="parallel-chart" />
      )}
    </section>
  );
}
