import { useMemo } from "react";
import { Chart, type ChartEvents, type ChartOption, escapeHtml } from "../../components/Chart";
import { formatDuration } from "../../format";
import { STATUS_COLORS, type TimelineBar } from "./logic";

/** A Gantt-like chart of the steps: one bar per step from its start to its end (wall time),
 * on an axis as long as `span` (the pipeline run's duration) when it is known. */
export function Timeline({
  bars,
  span: runSpan,
  selected,
  onSelect,
}: {
  bars: TimelineBar[];
  span?: number | null;
  selected?: string | null;
  onSelect?: (node: string) => void;
}) {
  const option = useMemo<ChartOption>(() => {
    const span = Math.max(1, runSpan ?? 0, ...bars.map((b) => b.end));
    // a cached or instant step still gets a sliver to see and click
    const minimum = span * 0.006;
    return {
      animation: false,
      grid: { left: 8, right: 64, top: 8, bottom: 26, containLabel: true },
      xAxis: {
        type: "value",
        min: 0,
        max: span,
        axisLabel: { formatter: (v: number) => (v === 0 ? "0" : formatDuration(v)), color: "#6b7485", fontSize: 11 },
        splitLine: { lineStyle: { color: "#eef0f4" } },
      },
      yAxis: {
        type: "category",
        inverse: true,
        data: bars.map((b) => b.label),
        axisTick: { show: false },
        axisLine: { lineStyle: { color: "#dfe3ea" } },
        axisLabel: {
          color: "#1d2430",
          fontSize: 12,
          fontWeight: (value: string) => (bars.find((b) => b.label === value)?.node === selected ? 700 : 400),
        },
      },
      tooltip: {
        trigger: "item",
        formatter: (p: { dataIndex: number; seriesIndex: number }) => {
          const bar = bars[p.dataIndex];
          if (!bar) return "";
          return `<b>${escapeHtml(bar.label)}</b><br/>${bar.status}<br/>started +${formatDuration(bar.start)}<br/>took ${formatDuration(bar.end - bar.start)}${bar.running ? " so far" : ""}`;
        },
      },
      series: [
        {
          type: "bar",
          stack: "t",
          silent: true,
          itemStyle: { color: "transparent" },
          data: bars.map((b) => b.start),
          barWidth: 14,
        },
        {
          type: "bar",
          stack: "t",
          barWidth: 14,
          cursor: onSelect ? "pointer" : "default",
          data: bars.map((b) => ({
            value: Math.max(minimum, b.end - b.start),
            itemStyle: {
              color: STATUS_COLORS[b.status] ?? "#8a94a6",
              borderRadius: 3,
              opacity: selected && selected !== b.node ? 0.55 : 1,
              borderColor: selected === b.node ? "#1d2430" : undefined,
              borderWidth: selected === b.node ? 1.5 : 0,
            },
          })),
          label: {
            show: true,
            position: "right",
            fontSize: 11,
            color: "#6b7485",
            formatter: (p: { dataIndex: number }) => {
              const bar = bars[p.dataIndex];
              if (!bar) return "";
              return bar.status === "cached" ? "cache hit" : `${formatDuration(bar.end - bar.start)} wall`;
            },
          },
        },
      ],
    };
  }, [bars, runSpan, selected, onSelect]);

  const events = useMemo<ChartEvents | undefined>(
    () =>
      onSelect
        ? {
            click: (params: unknown) => {
              const bar = bars[(params as { dataIndex: number }).dataIndex];
              if (bar) onSelect(bar.node);
            },
          }
        : undefined,
    [bars, onSelect],
  );

  if (bars.length === 0) return <p className="muted">No step has started yet.</p>;
  return <Chart option={option} events={events} height={Math.max(120, 44 + bars.length * 30)} testId="timeline" />;
}
