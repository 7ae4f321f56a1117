// One metric as a line chart: zoom (wheel/drag and a slider), log scale, EMA smoothing with
// the raw line faint behind, x = step / wall time / relative time. The series is fetched
// downsampled to ~2 points per pixel and fetched again, denser, when the user zooms in.
import { type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Chart, type ChartEvents, type ChartOption } from "../../components/Chart";
import { ErrorMessage } from "../../components/ErrorMessage";
import { formatNumber, formatTime } from "../../format";
import { POLL_MS, useHistory } from "./api";
import { type XMode, chooseMaxPoints, formatSeconds, percentToRange, rangeFraction, xValues } from "./points";
import { ema } from "./smoothing";

const COLOR = "#2463eb";
const CHART_HEIGHT = 250;

export interface MetricChartProps {
  runId: string;
  metricKey: string;
  title?: ReactNode;
  /** Points the run has for this metric (from Run.metrics), to avoid asking for more. */
  total?: number;
  xMode: XMode;
  smoothing: number;
  log: boolean;
  onToggleLog: () => void;
  /** The run's start (ms), the origin of relative time. */
  origin: number | null;
  running: boolean;
  /** A fixed y range (percentages: 0-100). */
  yMax?: number;
  unit?: string;
}

/** Mounts its children once they scroll near the viewport (dozens of charts stay cheap). */
export function WhenVisible({ height, children }: { height: number; children: ReactNode }) {
  const ref = useRef<HTMLDivElement>(null);
  const [seen, setSeen] = useState(typeof IntersectionObserver === "undefined");
  useEffect(() => {
    const node = ref.current;
    if (seen || !node) return undefined;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) setSeen(true);
    }, { rootMargin: "300px" });
    observer.observe(node);
    return () => observer.disconnect();
  }, [seen]);
  return <div ref={ref}>{seen ? children : <div className="run-chart-placeholder" style={{ height }} />}</div>;
}

function useWidth(ref: React.RefObject<HTMLElement | null>): number {
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const node = ref.current;
    if (!node) return undefined;
    setWidth(node.clientWidth);
    const observer = new ResizeObserver(() => setWidth(node.clientWidth));
    observer.observe(node);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}

function axisNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-4)) return value.toExponential(1);
  if (abs >= 1e4) return `${Number((value / 1000).toPrecision(3))}k`;
  return String(Number(value.toPrecision(4)));
}

export function MetricChart(props: MetricChartProps) {
  const { runId, metricKey, total, xMode, smoothing, log, onToggleLog, origin, running, yMax, unit } = props;
  const box = useRef<HTMLDivElement>(null);
  const width = useWidth(box);
  // The zoomed x range lives in a ref so that dragging does not rebuild the chart; only a
  // change of resolution level (a new fetch) does, and it keeps the range.
  const zoom = useRef<[number, number] | null>(null);
  const [fraction, setFraction] = useState(1);
  const [zoomed, setZoomed] = useState(false);
  const [resetCount, setResetCount] = useState(0);
  const timer = useRef<number | undefined>(undefined);

  useEffect(() => {
    zoom.current = null;
    setFraction(1);
    setZoomed(false);
  }, [xMode]);
  useEffect(() => () => window.clearTimeout(timer.current), []);

  const maxPoints = chooseMaxPoints(width || 600, fraction, total);
  const history = useHistory(runId, metricKey, maxPoints, width > 0, running ? POLL_MS : false);
  const data = history.data;

  const series = useMemo(() => {
    if (!data) return null;
    const xs = xValues(data, xMode, origin);
    const raw = data.values.map((v) => (log && !(v > 0) ? Number.NaN : v));
    const hidden = log ? data.values.filter((v) => !(v > 0)).length : 0;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const x of xs) {
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    return { xs, raw, smooth: smoothing > 0 ? ema(raw, smoothing) : null, extent: [lo, hi] as [number, number], hidden };
  }, [data, xMode, origin, log, smoothing]);

  const option = useMemo<ChartOption | null>(() => {
    if (!series) return null;
    const few = series.xs.length <= 40;
    const pairs = (ys: number[]) => series.xs.map((x, i) => [x, Number.isFinite(ys[i]) ? ys[i] : null]);
    const range = zoom.current;
    const zoomAt = range ? { startValue: range[0], endValue: range[1] } : { start: 0, end: 100 };
    const xLabel =
      xMode === "relative"
        ? { formatter: (v: number) => formatSeconds(v), hideOverlap: true }
        : xMode === "step"
          ? { formatter: (v: number) => axisNumber(v), hideOverlap: true }
          : { hideOverlap: true };
    const xText = (x: number) => (xMode === "step" ? `step ${formatNumber(x)}` : xMode === "wall" ? `${formatTime(x)} UTC` : `+${formatSeconds(x)}`);
    return {
      animation: false,
      useUTC: true,
      grid: { left: 8, right: 16, top: 14, bottom: 46, containLabel: true },
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "line", snap: true },
        formatter: (params: unknown) => {
          const items = (Array.isArray(params) ? params : [params]) as { value: [number, number | null]; seriesName: string; color: string }[];
          if (!items.length) return "";
          const head = `<div class="run-tip-head">${xText(items[0].value[0])}</div>`;
          return (
            head +
            items
              .map((p) => `<div><span class="run-tip-dot" style="background:${p.color}"></span>${p.seriesName} <b>${p.value[1] === null ? "—" : formatNumber(p.value[1])}${unit ?? ""}</b></div>`)
              .join("")
          );
        },
      },
      xAxis: {
        type: xMode === "wall" ? "time" : "value",
        // steps and relative time start at 0 when the data starts near it (a downsampled
        // series' first point may be step 3)
        min: xMode === "wall" ? "dataMin" : ({ min, max }: { min: number; max: number }) => (min >= 0 && min <= 0.02 * max ? 0 : min),
        max: "dataMax",
        axisLabel: { color: "#6b7485", fontSize: 11, ...xLabel },
        axisLine: { lineStyle: { color: "#c9ced8" } },
        splitLine: { show: false },
      },
      yAxis: {
        type: log ? "log" : "value",
        scale: !yMax,
        min: yMax && !log ? 0 : undefined,
        max: yMax,
        axisLabel: { color: "#6b7485", fontSize: 11, formatter: (v: number) => axisNumber(v) },
        splitLine: { lineStyle: { color: "#eef0f4" } },
      },
      dataZoom: [
        { type: "inside", xAxisIndex: 0, ...zoomAt },
        {
          type: "slider",
          xAxisIndex: 0,
          height: 16,
          bottom: 6,
          showDetail: false,
          brushSelect: false,
          borderColor: "#dfe3ea",
          fillerColor: "rgba(36,99,235,0.12)",
          dataBackground: { lineStyle: { color: "#b9c2d1" }, areaStyle: { color: "#eef1f7" } },
          ...zoomAt,
        },
      ],
      series: [
        {
          name: series.smooth ? "raw" : metricKey,
          type: "line",
          data: pairs(series.raw),
          showSymbol: few,
          symbolSize: 5,
          connectNulls: false,
          color: COLOR,
          lineStyle: { width: series.smooth ? 1 : 1.6, opacity: series.smooth ? 0.22 : 1 },
          itemStyle: { opacity: series.smooth ? 0.3 : 1 },
          emphasis: { disabled: true },
          z: 1,
        },
        ...(series.smooth
          ? [
              {
                name: "smoothed",
                type: "line",
                data: pairs(series.smooth),
                showSymbol: false,
                color: COLOR,
                lineStyle: { width: 1.8 },
                emphasis: { disabled: true },
                z: 2,
              },
            ]
          : []),
      ],
    };
    // resetCount rebuilds the chart without the zoom; zoom itself is read from the ref
  }, [series, xMode, log, yMax, unit, metricKey, resetCount]);

  const events = useMemo<ChartEvents>(
    () => ({
      datazoom: (params: unknown) => {
        if (!series) return;
        const p = params as { start?: number; end?: number; batch?: { start?: number; end?: number }[] };
        const z = p.batch?.[0] ?? p;
        if (z.start === undefined || z.end === undefined) return;
        const whole = z.start <= 0 && z.end >= 100;
        zoom.current = whole ? null : percentToRange(series.extent, z.start, z.end);
        setZoomed(!whole);
        const next = rangeFraction(series.extent, zoom.current);
        window.clearTimeout(timer.current);
        timer.current = window.setTimeout(() => setFraction(next), 350);
      },
    }),
    [series],
  );

  const resetZoom = useCallback(() => {
    zoom.current = null;
    setZoomed(false);
    setFraction(1);
    setResetCount((n) => n + 1);
  }, []);

  return (
    <div className="run-chart panel" data-testid="metric-chart" data-metric={metricKey}>
      <div className="run-chart-head">
        <span className="run-chart-title" title={metricKey}>
          {props.title ?? metricKey}
        </span>
        <span className="spacer" />
        {data && (
          <span className="muted small" data-testid="chart-points" title={data.downsampled ? "downsampled on the server: each bucket keeps its lowest and highest point" : "every point"}>
            {data.downsampled
              ? `${formatNumber(data.values.length)} of ${formatNumber(data.total_points)} pts`
              : `${formatNumber(data.total_points)} pts`}
            {history.isFetching && " · loading"}
          </span>
        )}
        {zoomed && (
          <button type="button" className="run-chip-button" onClick={resetZoom} title="Show the whole series">
            reset zoom
          </button>
        )}
        <button type="button" className={`run-chip-button${log ? " on" : ""}`} aria-pressed={log} onClick={onToggleLog} title="Logarithmic y axis">
          log
        </button>
      </div>
      <div ref={box} className="run-chart-body">
        {history.error ? (
          <ErrorMessage error={history.error} what={metricKey} />
        ) : option ? (
          <>
            <Chart option={option} events={events} height={CHART_HEIGHT} testId={`chart-${metricKey}`} />
            {series && series.hidden > 0 && <div className="run-chart-note">{series.hidden} values ≤ 0 not drawn on the log scale</div>}
          </>
        ) : (
          <div className="run-chart-placeholder" style={{ height: CHART_HEIGHT }}>
            <span className="muted">Loading…</span>
          </div>
        )}
      </div>
    </div>
  );
}
