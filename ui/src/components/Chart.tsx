// ECharts, registered once with only the parts the pages use (keeps the bundle small).
import { BarChart, LineChart, ParallelChart, ScatterChart } from "echarts/charts";
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  ParallelComponent,
  TitleComponent,
  ToolboxComponent,
  TooltipComponent,
  VisualMapComponent,
} from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import { useEffect, useRef } from "react";

echarts.use([
  BarChart,
  LineChart,
  ParallelChart,
  ScatterChart,
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  ParallelComponent,
  TitleComponent,
  ToolboxComponent,
  TooltipComponent,
  VisualMapComponent,
  CanvasRenderer,
]);

export type ChartOption = echarts.EChartsCoreOption;

/** Text made safe for the HTML of a tooltip formatter (run names and keys are user input). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}
export type ChartEvents = Record<string, (params: unknown) => void>;

/** One chart; `option` replaces the previous one entirely (no stale series). */
export function Chart({
  option,
  height = 300,
  events,
  testId,
}: {
  option: ChartOption;
  height?: number;
  events?: ChartEvents;
  testId?: string;
}) {
  const element = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);

  useEffect(() => {
    const node = element.current;
    if (!node) return undefined;
    const instance = echarts.init(node, undefined, { renderer: "canvas" });
    chart.current = instance;
    const observer = new ResizeObserver(() => instance.resize());
    observer.observe(node);
    return () => {
      observer.disconnect();
      instance.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption(option, { notMerge: true });
  }, [option]);

  useEffect(() => {
    const instance = chart.current;
    if (!instance || !events) return undefined;
    for (const [name, handler] of Object.entries(events)) instance.on(name, handler);
    return () => {
      for (const [name, handler] of Object.entries(events)) instance.off(name, handler);
    };
  }, [events]);

  return <div className="chart" ref={element} style={{ height }} data-testid={testId ?? "chart"} />;
}
