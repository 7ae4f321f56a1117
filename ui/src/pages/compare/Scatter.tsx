// Any two columns (params or metrics) against each other, one point per run.
import { useMemo } from "react";
import { Chart, type ChartOption, escapeHtml } from "../../components/Chart";
import { formatNumber } from "../../format";
import { type Axis, type Column, axisFor, columnText, coordinate } from "../compareData";
import type { RunInfo } from "./types";

function axisOption(axis: Axis) {
  const common = { name: axis.name, nameLocation: "middle", nameGap: 30, nameTextStyle: { color: "#1d2430" } };
  if (axis.type === "category") return { ...common, type: "category", data: axis.categories };
  return { ...common, type: axis.type, scale: true, boundaryGap: ["5%", "5%"], axisLabel: { formatter: (v: number) => formatNumber(v) }, splitLine: { lineStyle: { color: "#eef0f4" } } };
}

const show = (value: number | string | null) => (typeof value === "number" ? formatNumber(value) : String(value));

function ColumnSelect({ label, value, columns, onChange }: { label: string; value: Column; columns: Column[]; onChange: (text: string) => void }) {
  return (
    <label>
      {label}{" "}
      <select aria-label={label} data-testid={`scatter-${label}`} value={columnText(value)} onChange={(e) => onChange(e.target.value)}>
        {(["metrics", "params"] as const).filter((kind) => columns.some((c) => c.kind === kind)).map((kind) => (
          <optgroup key={kind} label={kind}>
            {columns
              .filter((c) => c.kind === kind)
              .map((c) => (
                <option key={columnText(c)} value={columnText(c)}>
                  {c.key}
                </option>
              ))}
          </optgroup>
        ))}
      </select>
    </label>
  );
}

export function Scatter({
  runs,
  columns,
  x,
  y,
  onChange,
}: {
  runs: RunInfo[];
  /** every metric and param of the runs */
  columns: Column[];
  x: Column;
  y: Column;
  onChange: (change: { sx?: string; sy?: string }) => void;
}) {
  const key = runs.map((r) => `${r.run.id}:${r.label}:${r.color}`).join("|");
  const xText = columnText(x);
  const yText = columnText(y);
  const { option, empty, labels } = useMemo(() => {
    const plain = runs.map((r) => r.run);
    const xAxis = axisFor(plain, x);
    const yAxis = axisFor(plain, y);
    const points = runs
      .map((info) => ({ info, at: [coordinate(info.run, xAxis), coordinate(info.run, yAxis)] }))
      .filter(({ at }) => at[0] !== null && at[1] !== null);
    // runs at the same point get one label naming them all, not labels printed over each other
    const groups = new Map<string, string[]>();
    for (const { info, at } of points) {
      const where = JSON.stringify(at);
      groups.set(where, [...(groups.get(where) ?? []), info.label]);
    }
    const labelAt = (at: unknown[], label: string): string | null => {
      const names = groups.get(JSON.stringify(at)) ?? [label];
      if (names[0] !== label) return null;
      return names.length <= 3 ? names.join(", ") : `${names.slice(0, 2).join(", ")} and ${names.length - 2} more`;
    };
    const shown = points.length <= 12 ? points.map(({ info, at }) => labelAt(at, info.label)) : points.map(() => null);
    const chart: ChartOption = {
      animation: false,
      grid: { left: 16, right: 90, top: 24, bottom: 40, containLabel: true },
      tooltip: {
        trigger: "item",
        formatter: (p: { name: string; value: [number | string, number | string] }) =>
          `<b>${escapeHtml(p.name)}</b><br/>${escapeHtml(x.key)}: ${escapeHtml(show(p.value[0]))}<br/>${escapeHtml(y.key)}: ${escapeHtml(show(p.value[1]))}`,
      },
      xAxis: axisOption(xAxis),
      yAxis: { ...axisOption(yAxis), nameLocation: "end", nameGap: 8 },
      series: [
        {
          type: "scatter",
          symbolSize: 13,
          data: points.map(({ info, at }, i) => ({
            name: info.label,
            value: at,
            itemStyle: { color: info.color, opacity: 0.9 },
            label: { show: shown[i] !== null, position: "right", formatter: () => shown[i] ?? "", fontSize: 11, color: "#6b7485" },
          })),
          labelLayout: { hideOverlap: true },
        },
      ],
    };
    return { option: chart, empty: points.length === 0, labels: shown.filter((l): l is string => l !== null) };
  }, [key, xText, yText]); // the runs are keyed by `key`, the columns by their text

  if (columns.length < 2) return null;
  return (
    <section className="panel" data-testid="compare-scatter" data-labels={JSON.stringify(labels)}>
      <div className="compare-controls">
        <h2>Scatter</h2>
        <ColumnSelect label="x" value={x} columns={columns} onChange={(sx) => onChange({ sx })} />
        <ColumnSelect label="y" value={y} columns={columns} onChange={(sy) => onChange({ sy })} />
      </div>
      {empty && (
        <p className="muted small" data-testid="scatter-empty">
          No run has both {columnText(x)} and {columnText(y)}: pick other columns.
        </p>
      )}
      <Chart option={option} height={340} testId="scatter-chart" />
    </section>
  );
}
