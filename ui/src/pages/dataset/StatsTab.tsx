// Per-column statistics of a version: a summary chosen for the column's type and its
// distribution (histogram of numbers and times, most frequent values of the rest).
import { useMemo, useState } from "react";
import { useSearchParams } from "react-router";
import type { Schemas } from "../../api/client";
import { Chart, type ChartOption } from "../../components/Chart";
import { elapsed, formatDuration, formatNumber } from "../../format";
import { type BarSeries, type ColumnStats, columnKind, columnSeries, formatScalar, noChartReason, percent, summaryRows } from "./logic";

const PAGE = 24;
const COLORS: Record<string, string> = { numeric: "#5b7fe0", temporal: "#2a9d8f", string: "#e08a3c", boolean: "#8a63d2", other: "#8a94a6" };

export function StatsTab({ version }: { version: Schemas["Version"] }) {
  const [params, setParams] = useSearchParams();
  const filter = params.get("col") ?? "";
  const [all, setAll] = useState(false);
  const stats = version.stats ?? [];
  const needle = filter.toLowerCase();
  const matching = stats.filter((s) => !needle || s.name.toLowerCase().includes(needle) || s.type.toLowerCase().includes(needle));
  const shown = all ? matching : matching.slice(0, PAGE);
  if (stats.length === 0)
    return <p className="muted">{version.columns.length ? "No statistics were recorded for this version." : "This version has no columns."}</p>;
  return (
    <div data-testid="stats">
      <div className="ds-toolbar">
        <input
          type="search"
          placeholder="Filter columns by name or type…"
          value={filter}
          onChange={(e) =>
            setParams(
              (old) => {
                const next = new URLSearchParams(old);
                if (e.target.value) next.set("col", e.target.value);
                else next.delete("col");
                return next;
              },
              { replace: true },
            )
          }
        />
        <span className="muted small">
          {matching.length} of {stats.length} columns · {formatNumber(version.rows)} rows · distinct counts are approximate
        </span>
      </div>
      <div className="ds-stats-grid">
        {shown.map((s) => (
          <ColumnCard key={s.name} stats={s} rows={version.rows} />
        ))}
      </div>
      {matching.length > shown.length && (
        <p>
          <button onClick={() => setAll(true)}>Show all {matching.length} columns</button>
        </p>
      )}
      {matching.length === 0 && <p className="muted">No column matches “{filter}”.</p>}
    </div>
  );
}

function ColumnCard({ stats, rows }: { stats: ColumnStats; rows: number }) {
  const kind = columnKind(stats.type);
  const series = useMemo(() => columnSeries(stats), [stats]);
  const nullShare = rows ? stats.nulls / rows : 0;
  // min and max of strings and times are long: one line of their own
  const wide = kind !== "numeric";
  const summary = summaryRows(stats, rows);
  const metrics = wide ? summary.filter(([k]) => k !== "min" && k !== "max") : summary;
  const lo = formatScalar(stats.min);
  const hi = formatScalar(stats.max);
  const span = kind === "temporal" ? elapsed(String(stats.min ?? ""), String(stats.max ?? "")) : null;
  return (
    <div className="ds-col" data-testid="column-stats" data-column={stats.name}>
      <div className="ds-col-head">
        <span className="ds-col-name">{stats.name}</span>
        <span className="ds-type">{stats.type}</span>
        <span className="spacer" />
        <span className="ds-kind">{kind}</span>
      </div>
      <div className="ds-nullbar" title={`${percent(stats.nulls, rows) || "0%"} null`}>
        <span style={{ width: `${Math.min(100, nullShare * 100)}%` }} />
      </div>
      <div className="ds-col-metrics">
        {metrics.map(([k, v]) => (
          <div key={k}>
            <div className="k">{k}</div>
            <div className="v" title={v}>
              {v}
            </div>
          </div>
        ))}
      </div>
      {wide && (lo || hi) && kind !== "boolean" && (
        <div className="ds-range" title={`${lo} → ${hi}`}>
          <span className="k">range</span> <span className="ds-mono">{lo}</span> <span className="ds-arrow">→</span> <span className="ds-mono">{hi}</span>
          {span !== null && span > 0 && <span className="muted"> · {formatDuration(span)}</span>}
        </div>
      )}
      {series ? (
        <>
          <ColumnChart series={series} color={COLORS[kind]} />
          {series.kind === "top" && series.other > 0 && (
            <div className="ds-other">
              + {formatNumber(series.other)} other values ({percent(series.other, stats.count)})
            </div>
          )}
        </>
      ) : (
        <div className="ds-nochart">{noChartReason(stats, rows)}</div>
      )}
    </div>
  );
}

function ColumnChart({ series, color }: { series: BarSeries; color: string }) {
  const option = useMemo<ChartOption>(() => {
    const tooltip = {
      trigger: "axis",
      axisPointer: { type: "shadow" },
      formatter: (items: { dataIndex: number }[]) => series.tips[items[0]?.dataIndex ?? 0] ?? "",
    };
    if (series.kind === "histogram") {
      return {
        title: series.log ? { text: "log scale", right: 6, top: 0, textStyle: { fontSize: 10, color: "#8a94a6", fontWeight: "normal" } } : undefined,
        grid: { left: 46, right: 10, top: 8, bottom: 22 },
        tooltip,
        xAxis: {
          type: "category",
          data: series.labels,
          axisTick: { alignWithLabel: false },
          axisLabel: { fontSize: 10, color: "#6b7485", hideOverlap: true },
          axisLine: { lineStyle: { color: "#c9cfd9" } },
        },
        yAxis: {
          type: series.log ? "log" : "value",
          logBase: 10,
          min: series.log ? 1 : undefined,
          axisLabel: { fontSize: 10, color: "#6b7485", formatter: compact },
          splitLine: { lineStyle: { color: "#eef0f4" } },
        },
        series: [
          {
            type: "bar",
            data: series.log ? series.counts.map((c) => (c > 0 ? c : null)) : series.counts,
            barCategoryGap: "6%",
            itemStyle: { color, borderRadius: [2, 2, 0, 0] },
          },
        ],
      };
    }
    return {
      grid: { left: 8, right: 40, top: 4, bottom: 4, containLabel: true },
      tooltip,
      xAxis: { type: "value", show: false },
      yAxis: {
        type: "category",
        inverse: true,
        data: series.labels,
        axisTick: { show: false },
        axisLine: { show: false },
        axisLabel: { fontSize: 11, color: "#1d2430", width: 120, overflow: "truncate" },
      },
      series: [
        {
          type: "bar",
          data: series.counts,
          barMaxWidth: 14,
          itemStyle: { color, borderRadius: [0, 3, 3, 0] },
          label: { show: true, position: "right", fontSize: 10, color: "#6b7485", formatter: (p: { value: number }) => compact(p.value) },
        },
      ],
    };
  }, [series, color]);
  const height = series.kind === "top" ? Math.max(60, 16 + series.labels.length * 17) : 150;
  return <Chart option={option} height={height} testId={`chart-${series.kind}`} />;
}

function compact(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${+(value / 1e9).toFixed(1)}G`;
  if (abs >= 1e6) return `${+(value / 1e6).toFixed(1)}M`;
  if (abs >= 1e4) return `${+(value / 1e3).toFixed(0)}k`;
  if (abs >= 1e3) return `${+(value / 1e3).toFixed(1)}k`;
  return formatNumber(value);
}
