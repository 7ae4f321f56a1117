// The Metrics and System tabs: a chart per metric, grouped by prefix, with shared controls
// (filter, x axis, smoothing) kept in the URL.
import { useMemo } from "react";
import { useSearchParams } from "react-router";
import { formatNumber, parseTime } from "../../format";
import type { Run } from "./api";
import { MetricChart, WhenVisible } from "./MetricChart";
import { X_MODES, type XMode, parseXMode } from "./points";

export const SYSTEM_PREFIX = "system/";
export const isSystemMetric = (key: string) => key.startsWith(SYSTEM_PREFIX);

/** URL state of a metrics view: ?q= (filter) &x= (axis) &smooth= (0-0.99) &log=a,b; the
 * System tab's keys start with "s" (sq, sx...) so that each tab keeps its own. */
export function chartParam(system: boolean, name: "q" | "x" | "smooth" | "log"): string {
  return system ? `s${name}` : name;
}

function useChartParams(system: boolean, defaultX: XMode, defaultSmooth: number) {
  const key = (name: "q" | "x" | "smooth" | "log") => chartParam(system, name);
  const [params, setParams] = useSearchParams();
  const set = (name: string, value: string | null) =>
    setParams(
      (old) => {
        const next = new URLSearchParams(old);
        if (value === null || value === "") next.delete(name);
        else next.set(name, value);
        return next;
      },
      { replace: true },
    );
  const smoothRaw = params.get(key("smooth"));
  const smooth = smoothRaw === null ? defaultSmooth : Math.min(0.99, Math.max(0, Number(smoothRaw) || 0));
  const log = new Set((params.get(key("log")) ?? "").split(",").filter(Boolean));
  return {
    filter: params.get(key("q")) ?? "",
    setFilter: (v: string) => set(key("q"), v),
    xMode: parseXMode(params.get(key("x")), defaultX),
    setXMode: (v: XMode) => set(key("x"), v === defaultX ? null : v),
    smooth,
    setSmooth: (v: number) => set(key("smooth"), v === defaultSmooth ? null : String(v)),
    log,
    toggleLog: (metric: string) => {
      const next = new Set(log);
      if (next.has(metric)) next.delete(metric);
      else next.add(metric);
      set(key("log"), [...next].join(","));
    },
  };
}

function Toolbar({
  state,
  modes,
  count,
  shown,
  placeholder,
}: {
  state: ReturnType<typeof useChartParams>;
  modes: [XMode, string][];
  count: number;
  shown: number;
  placeholder: string;
}) {
  return (
    <div className="run-toolbar panel" data-testid="metrics-toolbar">
      <input
        className="run-filter"
        type="search"
        placeholder={placeholder}
        value={state.filter}
        onChange={(e) => state.setFilter(e.target.value)}
        data-testid="metric-filter"
      />
      <span className="muted small">{shown === count ? `${count} ${count === 1 ? "chart" : "charts"}` : `${shown} of ${count} charts`}</span>
      <span className="spacer" />
      <div className="run-control">
        <span>X axis</span>
        <div className="run-segmented" role="group" aria-label="x axis">
          {modes.map(([mode, label]) => (
            <button key={mode} type="button" className={state.xMode === mode ? "on" : ""} aria-pressed={state.xMode === mode} onClick={() => state.setXMode(mode)}>
              {label}
            </button>
          ))}
        </div>
      </div>
      <label className="run-control" title="Exponential moving average; the raw values stay drawn faintly">
        <span>Smoothing</span>
        <input
          type="range"
          min={0}
          max={0.99}
          step={0.01}
          value={state.smooth}
          onChange={(e) => state.setSmooth(Number(e.target.value))}
          data-testid="smoothing"
        />
        <span className="run-smooth-value mono">{state.smooth.toFixed(2)}</span>
      </label>
    </div>
  );
}

/** "train/loss" -> "train"; metrics without a prefix go together. */
function groupOf(key: string, system: boolean): string {
  const rest = system ? key.slice(SYSTEM_PREFIX.length) : key;
  const cut = rest.indexOf("/");
  return cut > 0 ? rest.slice(0, cut) : "";
}

const matchesFilter = (filter: string, key: string): boolean => {
  const terms = filter.toLowerCase().split(/\s+/).filter(Boolean);
  return terms.every((t) => key.toLowerCase().includes(t));
};

const SYSTEM_TITLES: [RegExp, (m: RegExpExecArray) => string, string, number | undefined][] = [
  [/^system\/cpu_percent$/, () => "CPU utilisation", "%", 100],
  [/^system\/memory_percent$/, () => "System memory used", "%", 100],
  [/^system\/process_rss_mib$/, () => "Process memory (RSS)", " MiB", undefined],
  [/^system\/gpu(\d+)_percent$/, (m) => `GPU ${m[1]} utilisation`, "%", 100],
  [/^system\/gpu(\d+)_memory_percent$/, (m) => `GPU ${m[1]} memory used`, "%", 100],
];

function systemLabel(key: string): { title: string; unit: string; yMax?: number } {
  for (const [pattern, title, unit, yMax] of SYSTEM_TITLES) {
    const m = pattern.exec(key);
    if (m) return { title: title(m), unit, yMax };
  }
  return { title: key.slice(SYSTEM_PREFIX.length), unit: key.endsWith("_percent") ? "%" : "", yMax: key.endsWith("_percent") ? 100 : undefined };
}

function MetricGrid({ run, system }: { run: Run; system: boolean }) {
  const state = useChartParams(system, system ? "wall" : "step", system ? 0 : 0.6);
  const keys = useMemo(
    () =>
      Object.keys(run.metrics)
        .filter((k) => isSystemMetric(k) === system)
        .sort((a, b) => a.localeCompare(b)),
    [run.metrics, system],
  );
  const series = keys.filter((k) => run.metrics[k].count > 1);
  const scalars = keys.filter((k) => run.metrics[k].count <= 1 && matchesFilter(state.filter, k));
  const shown = series.filter((k) => matchesFilter(state.filter, k));
  const groups = useMemo(() => {
    const out = new Map<string, string[]>();
    for (const key of shown) {
      const g = groupOf(key, system);
      out.set(g, [...(out.get(g) ?? []), key]);
    }
    const sorted = [...out.entries()].sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)));
    // sections help with many charts; with a few they only leave holes in the grid
    return shown.length > 8 && sorted.length > 1 ? sorted : [["", shown] as [string, string[]]];
  }, [shown, system]);
  const origin = parseTime(run.start_time);
  const running = run.status === "running";

  if (keys.length === 0) {
    return (
      <div className="panel run-empty" data-testid={system ? "system-empty" : "metrics-empty"}>
        {system ? (
          <>
            <h2>No system metrics</h2>
            <p className="muted">
              CPU, memory and GPU use are sampled every 10 s while a run started with <code>dy.start_run</code> is active
              (unless <code>Capture(system_metrics=False)</code>). This run has none: it was shorter than a sample, ran as a
              pipeline step, or capture was off.
            </p>
          </>
        ) : (
          <>
            <h2>No metrics</h2>
            <p className="muted">
              Log some with <code>run.log_metrics({"{"}"loss": 0.3{"}"}, step=step)</code>.
            </p>
          </>
        )}
      </div>
    );
  }

  return (
    <div data-testid={system ? "system-tab" : "metrics-tab"}>
      <Toolbar
        state={state}
        modes={system ? X_MODES.filter(([m]) => m !== "step") : X_MODES}
        count={series.length}
        shown={shown.length}
        placeholder={system ? "Filter system metrics" : "Filter metrics (e.g. loss val)"}
      />
      {scalars.length > 0 && (
        <section className="panel" data-testid="metric-scalars">
          <h2>Single values</h2>
          <div className="run-scalars">
            {scalars.map((k) => (
              <div className="run-scalar" key={k}>
                <div className="label mono" title={k}>
                  {k}
                </div>
                <div className="value">{formatNumber(run.metrics[k].last)}</div>
              </div>
            ))}
          </div>
        </section>
      )}
      {shown.length === 0 && series.length > 0 && <p className="muted">No chart matches “{state.filter}”.</p>}
      {groups.map(([group, members]) => (
        <section key={group || "-"} className="run-chart-group">
          {groups.length > 1 && (
            <h3 className="run-group-title">
              {group || (system ? "system" : "general")} <span className="muted small">{members.length}</span>
            </h3>
          )}
          <div className="run-chart-grid">
            {members.map((key) => {
              const label = system ? systemLabel(key) : null;
              return (
                <WhenVisible key={key} height={300}>
                  <MetricChart
                    runId={run.id}
                    metricKey={key}
                    title={label ? (
                      <>
                        {label.title} <span className="muted small mono">{key}</span>
                      </>
                    ) : undefined}
                    total={run.metrics[key].count}
                    xMode={state.xMode}
                    smoothing={state.smooth}
                    log={state.log.has(key)}
                    onToggleLog={() => state.toggleLog(key)}
                    origin={origin}
                    running={running}
                    yMax={label?.yMax}
                    unit={label?.unit}
                  />
                </WhenVisible>
              );
            })}
          </div>
        </section>
      ))}
    </div>
  );
}

export function MetricsTab({ run }: { run: Run }) {
  return <MetricGrid run={run} system={false} />;
}

export function SystemTab({ run }: { run: Run }) {
  return <MetricGrid run={run} system={true} />;
}
