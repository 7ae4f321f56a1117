import { describe, expect, it } from "vitest";
import {
  type Alert,
  type ColumnResult,
  type Monitor,
  type WindowResult,
  breaks,
  checksOf,
  driftColor,
  driftSeverity,
  driftTitle,
  formatCoverage,
  heatmap,
  monitorAlerts,
  onAlertText,
  performanceSeries,
  periodOf,
  predictionLogLink,
  qualityRows,
  windowKey,
} from "./logic";

const column = (name: string, statistic: number, drifted = false, extra: Partial<ColumnResult> = {}): ColumnResult => ({
  column: name,
  kind: "numeric",
  method: "wasserstein",
  statistic,
  threshold: 0.1,
  p_value: null,
  drifted,
  ...extra,
});

function window(version: number, hour: number, drift: ColumnResult[], extra: Partial<WindowResult> = {}): WindowResult {
  const start = `2026-12-07T${String(hour).padStart(2, "0")}:00:00Z`;
  return {
    id: `${version}-${hour}`,
    monitor: "default",
    model: "m",
    version,
    start,
    end: `2026-12-07T${String(hour + 1).padStart(2, "0")}:00:00Z`,
    rows: 1200,
    drift,
    drifted: drift.filter((c) => c.drifted).map((c) => c.column),
    quality: [],
    performance: { labelled: 0, coverage: 0, realised: {}, estimated: {}, error: "" },
    computed_at: start,
    ...extra,
  };
}

describe("periods", () => {
  it("defaults to the last 24 h", () => {
    expect(periodOf(null).id).toBe("24h");
    expect(periodOf("nonsense").id).toBe("24h");
    expect(periodOf("30d").ms).toBe(30 * 86_400_000);
  });
});

describe("drift colours", () => {
  it("divides a distance by its threshold and turns a p-value around", () => {
    expect(driftSeverity(column("a", 0.05))).toBeCloseTo(0.5);
    expect(driftSeverity(column("a", 0.3, true))).toBeCloseTo(3);
    expect(driftSeverity(column("a", 2.1, false, { method: "ks", threshold: 0.05, p_value: 0.5 }))).toBeCloseTo(0.1);
    expect(driftSeverity(column("a", 9, true, { method: "ks", threshold: 0.05, p_value: 0.01 }))).toBeCloseTo(5);
    expect(driftSeverity(column("a", 9, true, { method: "chi2", threshold: 0.05, p_value: 0 }))).toBe(Number.POSITIVE_INFINITY);
  });

  it("goes from green to amber below the threshold and red past it, darker further away", () => {
    expect(driftColor(0, false).background).toBe("rgb(227, 246, 235)");
    expect(driftColor(1, false).background).toBe("rgb(253, 224, 160)");
    expect(driftColor(5, false).background).toBe("rgb(253, 224, 160)"); // not drifted: never red
    expect(driftColor(1, true).background).toBe("rgb(245, 165, 165)");
    expect(driftColor(3, true)).toEqual({ background: "rgb(190, 30, 40)", color: "#ffffff" });
    expect(driftColor(Number.POSITIVE_INFINITY, true).background).toBe("rgb(190, 30, 40)");
    const mid = driftColor(2, true);
    expect(mid.background).not.toBe(driftColor(1, true).background);
    expect(mid.background).not.toBe(driftColor(3, true).background);
  });

  it("says method, statistic, threshold and p-value in a cell's title", () => {
    const title = driftTitle(column("amount", 0.31234, true), window(2, 11, []));
    expect(title).toContain("amount (numeric) · v2");
    expect(title).toContain("method wasserstein: statistic 0.3123, threshold 0.1");
    expect(title).toContain("p-value —");
    expect(title).toContain("DRIFTED");
    expect(title).toContain("2026-12-07 11:00 – 2026-12-07 12:00 UTC");
  });
});

describe("the heatmap", () => {
  it("has one column per window start and one row group per version, newest version first", () => {
    const windows = [
      window(1, 8, [column("amount", 0.02), column("channel", 0.01)]),
      window(1, 9, [column("amount", 0.03), column("channel", 0.01)]),
      window(2, 9, [column("amount", 0.04), column("channel", 0.02)]),
      window(2, 10, [column("amount", 0.9, true), column("channel", 0.02)]),
    ];
    const map = heatmap(windows);
    expect(map.times.map((t) => new Date(t).getUTCHours())).toEqual([8, 9, 10]);
    expect(map.groups.map((g) => g.version)).toEqual([2, 1]);
    const [v2, v1] = map.groups;
    expect(v2.columns).toEqual(["amount", "channel"]);
    expect(v2.drifted).toBe(1);
    expect(v1.drifted).toBe(0);
    const amount = v2.cells.get("amount") ?? [];
    expect(amount[0]).toBeUndefined(); // v2 served nothing at 8:00
    expect(amount[1]?.column?.drifted).toBe(false);
    expect(amount[2]?.column?.drifted).toBe(true);
    expect(v1.cells.get("channel")?.[2]).toBeUndefined();
  });

  it("keeps a window whose columns were not compared, as a cell without a result", () => {
    const map = heatmap([window(1, 8, [column("amount", 0.02)]), window(1, 9, [], { rows: 12 })]);
    const cell = map.groups[0].cells.get("amount")?.[1];
    expect(cell?.window.rows).toBe(12);
    expect(cell?.column).toBeNull();
  });

  it("keys a window by version and start, whatever the time's spelling", () => {
    expect(windowKey({ version: 2, start: "2026-12-07T11:00:00+00:00" })).toBe("2@2026-12-07T11:00:00.000Z");
    expect(windowKey({ version: 2, start: "2026-12-07T11:00:00" })).toBe("2@2026-12-07T11:00:00.000Z");
  });
});

describe("performance series", () => {
  const perf = (labelled: number, coverage: number, realised: number | null, estimated: number | null) => ({
    performance: { labelled, coverage, realised: { auc: realised }, estimated: { auc: estimated }, error: "" },
  });
  const config = { metric: "auc" as const, min: 0.7, max: null, threshold: 0.5, task: "classification" as const, min_labels: 30, estimate: true };

  it("puts realised and estimated values with coverage per window, oldest first, and the bound", () => {
    const s = performanceSeries(
      [window(2, 10, [], perf(600, 0.5, 0.83, 0.81)), window(1, 8, [], perf(1200, 1, 0.81, null)), window(2, 11, [], perf(0, 0, null, 0.82))],
      config,
    );
    expect(s.metric).toBe("auc");
    expect(s.bound).toEqual({ kind: "min", value: 0.7 });
    expect(s.versions).toEqual([1, 2]);
    expect(s.points.map((p) => [p.version, p.realised, p.estimated, p.coverage])).toEqual([
      [1, 0.81, null, 1],
      [2, 0.83, 0.81, 0.5],
      [2, null, 0.82, 0],
    ]);
  });

  it("shows no realised value for a window without labels, and reads a max bound", () => {
    const s = performanceSeries([window(1, 8, [], perf(0, 0, 0.5, 0.6))], { ...config, metric: "auc", min: null, max: 0.9 });
    expect(s.points[0].realised).toBeNull();
    expect(s.points[0].estimated).toBe(0.6);
    expect(s.bound).toEqual({ kind: "max", value: 0.9 });
    expect(performanceSeries([], { ...config, min: null }).bound).toBeNull();
  });

  it("says when a value breaks the bound, and coverage in percent", () => {
    expect(breaks(0.65, { kind: "min", value: 0.7 })).toBe(true);
    expect(breaks(0.75, { kind: "min", value: 0.7 })).toBe(false);
    expect(breaks(4, { kind: "max", value: 3 })).toBe(true);
    expect(breaks(null, { kind: "min", value: 0.7 })).toBe(false);
    expect([formatCoverage(0), formatCoverage(0.004), formatCoverage(0.5), formatCoverage(1)]).toEqual(["0%", "<1%", "50%", "100%"]);
  });
});

describe("monitors, quality and alerts", () => {
  const monitor = (config: Partial<Monitor["config"]>): Monitor =>
    ({ name: "default", config: { drift: null, quality: null, performance: null, on_alert: [], cooldown: "1h", backfill: "1d", ...config } }) as unknown as Monitor;

  it("says what a monitor checks and what an alert does", () => {
    const m = monitor({
      drift: { method: "auto", min_drifted: 1, min_rows: 100 } as Monitor["config"]["drift"],
      quality: { rules: true, new_categories: true, max_null_increase: 0.1 },
      performance: { metric: "auc", min: 0.8, max: null, threshold: 0.5, task: "classification", min_labels: 30, estimate: true },
      on_alert: [{ kind: "webhook", url: "http://hooks.local/x" }, { kind: "freeze", rules: ["drift"] }],
    });
    expect(checksOf(m)).toBe("drift, quality, performance (auc ≥ 0.8)");
    expect(onAlertText(m)).toEqual(["POST to http://hooks.local/x", "freeze the model (on drift)"]);
    expect(checksOf(monitor({}))).toBe("nothing");
    expect(onAlertText(monitor({}))).toEqual(["records the alert"]);
  });

  it("lists quality problems newest window first", () => {
    const problem = (c: string) => ({ column: c, check: "nulls", message: `${c} has nulls`, count: 3 });
    const rows = qualityRows([window(1, 8, [], { quality: [problem("a")] }), window(1, 10, [], { quality: [problem("b"), problem("c")] })]);
    expect(rows.map((r) => r.column)).toEqual(["b", "c", "a"]);
  });

  it("keeps one monitor's alerts, newest first", () => {
    const alert = (id: string, monitorName: string, at: string) => ({ id, monitor: monitorName, raised_at: at }) as Alert;
    const found = monitorAlerts([alert("1", "default", "2026-12-07T10:00:00Z"), alert("2", "other", "2026-12-07T12:00:00Z"), alert("3", "default", "2026-12-07T11:00:00Z")], "default");
    expect(found.map((a) => a.id)).toEqual(["3", "1"]);
  });

  it("links a window to the prediction log over its time range and version", () => {
    const href = predictionLogLink("my model", { version: 2, start: "2026-12-07T11:00:00+00:00", end: "2026-12-07T12:00:00+00:00" });
    const url = new URL(href, "http://x");
    expect(url.pathname).toBe("/models/my%20model/predictions");
    expect(url.searchParams.get("since")).toBe("2026-12-07T11:00:00.000Z");
    expect(url.searchParams.get("until")).toBe("2026-12-07T12:00:00.000Z");
    expect(url.searchParams.get("version")).toBe("2");
  });
});
