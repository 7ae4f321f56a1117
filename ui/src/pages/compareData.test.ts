import { describe, expect, it } from "vitest";
import {
  type CompareRun,
  MISSING,
  axisFor,
  chooseColumn,
  columnValue,
  commonestMetric,
  comparableParams,
  curvePoints,
  diffRows,
  extent,
  isNumericColumn,
  parallelData,
  parseColumn,
  parseRunIds,
  readCompareView,
  runLabels,
  unionKeys,
  varyingParams,
  writeCompareView,
} from "./compareData";

const metric = (last: number) => ({ last });
const runs: CompareRun[] = [
  { id: "r1aaaaaa", name: "a", params: { lr: "0.1", opt: "adam", depth: "4", same: "x" }, metrics: { auc: metric(0.9), loss: metric(0.2) } },
  { id: "r2bbbbbb", name: "b", params: { lr: "0.001", opt: "sgd", depth: "8", same: "x" }, metrics: { auc: metric(0.8) } },
  { id: "r3cccccc", name: "b", params: { lr: "0.01", depth: "6", same: "x" }, metrics: { auc: metric(0.85), loss: metric(0.3) } },
];

describe("run ids and labels", () => {
  it("reads ids from the URL: split on commas or spaces, blanks and repeats dropped", () => {
    expect(parseRunIds("a,b, c,,a")).toEqual(["a", "b", "c"]);
    expect(parseRunIds("")).toEqual([]);
    expect(parseRunIds(null)).toEqual([]);
  });

  it("tells runs with the same name apart by the end of their id", () => {
    expect(runLabels(runs)).toEqual(["a", "b (bbbbbb)", "b (cccccc)"]);
  });

  it("lists the union of keys", () => {
    expect(unionKeys(runs, "params")).toEqual(["depth", "lr", "opt", "same"]);
    expect(unionKeys(runs, "metrics")).toEqual(["auc", "loss"]);
  });
});

describe("curve points", () => {
  const history = { steps: [0, 10, 20], timestamps: [1000, 3000, 6000], values: [1, 0, 0.5] };
  it("by step, wall time or seconds since the run's start", () => {
    expect(curvePoints(history, "step", 0, false)).toEqual([
      [0, 1],
      [10, 0],
      [20, 0.5],
    ]);
    expect(curvePoints(history, "wall", 0, false).map((p) => p[0])).toEqual([1000, 3000, 6000]);
    expect(curvePoints(history, "relative", 0, false, 0).map((p) => p[0])).toEqual([1, 3, 6]);
  });

  it("leaves gaps where a log axis cannot show a value", () => {
    expect(curvePoints(history, "step", 0, true)).toEqual([
      [0, 1],
      [10, null],
      [20, 0.5],
    ]);
  });

  it("smooths with a debiased EMA (a constant stays itself)", () => {
    const flat = { steps: [0, 1, 2, 3], timestamps: [0, 1, 2, 3], values: [5, 5, 5, 5] };
    for (const [, y] of curvePoints(flat, "step", 0.9, false)) expect(y).toBeCloseTo(5, 10);
    const noisy = { steps: [0, 1, 2, 3], timestamps: [0, 1, 2, 3], values: [0, 10, 0, 10] };
    const ys = curvePoints(noisy, "step", 0.6, false).map((p) => p[1] as number);
    expect(Math.max(...ys) - Math.min(...ys)).toBeLessThan(10);
  });
});

describe("diff rows", () => {
  it("marks the params whose values differ, a missing value included", () => {
    const rows = diffRows(runs, "params");
    expect(rows.map((r) => [r.key, r.differs])).toEqual([
      ["depth", true],
      ["lr", true],
      ["opt", true],
      ["same", false],
    ]);
    expect(rows.find((r) => r.key === "opt")?.values).toEqual(["adam", "sgd", undefined]);
    expect(varyingParams(runs)).toEqual(["depth", "lr", "opt"]);
  });

  it("compares metrics by their last value", () => {
    const rows = diffRows(runs, "metrics");
    expect(rows[0]).toEqual({ key: "auc", values: [0.9, 0.8, 0.85], differs: true });
    expect(rows[1].values).toEqual([0.2, undefined, 0.3]);
    expect(diffRows([runs[0], runs[0]], "metrics").every((r) => !r.differs)).toBe(true);
  });
});

describe("defaults", () => {
  it("the metric most runs have comes first", () => {
    expect(commonestMetric(runs)).toBe("auc");
    expect(commonestMetric([{ id: "x", name: "x", metrics: { b: metric(1) } }, { id: "y", name: "y", metrics: { a: metric(1), b: metric(2) } }])).toBe("b");
    expect(commonestMetric([{ id: "x", name: "x" }])).toBeUndefined();
  });

  it("params worth an axis differ and are shared by two runs at least", () => {
    const lonely: CompareRun[] = [
      { id: "a", name: "a", params: { lr: "1", only_a: "x", same: "s" } },
      { id: "b", name: "b", params: { lr: "2", same: "s" } },
      { id: "c", name: "c", params: { lr: "3", only_c: "y", same: "s" } },
    ];
    expect(comparableParams(lonely)).toEqual(["lr"]);
    expect(comparableParams([lonely[0], { id: "d", name: "d" }])).toEqual(["lr", "only_a", "same"]);
  });
});

describe("parallel coordinates of mixed-type params", () => {
  it("numbers become value axes (log over decades), text becomes sorted categories", () => {
    expect(axisFor(runs, { kind: "params", key: "depth" }).type).toBe("value");
    expect(axisFor(runs, { kind: "params", key: "lr" }).type).toBe("log");
    expect(axisFor(runs, { kind: "params", key: "opt" })).toEqual({
      name: "opt",
      column: { kind: "params", key: "opt" },
      type: "category",
      categories: ["adam", "sgd", MISSING],
    });
    expect(axisFor(runs, { kind: "metrics", key: "auc" }).type).toBe("value");
  });

  it("a param with one text value among numbers is categorical", () => {
    const mixed: CompareRun[] = [...runs, { id: "r4", name: "d", params: { depth: "auto" } }];
    expect(isNumericColumn(mixed, { kind: "params", key: "depth" })).toBe(false);
    expect(axisFor(mixed, { kind: "params", key: "depth" }).categories).toEqual(["4", "6", "8", "auto"]);
  });

  it("gives one line per run, the metric last, nulls where a number is missing", () => {
    const { axes, lines } = parallelData(runs, ["opt", "depth"], "loss");
    expect(axes.map((a) => a.name)).toEqual(["opt", "depth", "loss"]);
    expect(lines).toEqual([
      ["adam", 4, 0.2],
      ["sgd", 8, null],
      [MISSING, 6, 0.3],
    ]);
  });
});

describe("columns of the scatter", () => {
  it("parses and reads columns", () => {
    expect(parseColumn("params.opt.lr")).toEqual({ kind: "params", key: "opt.lr" });
    expect(parseColumn("tags.x")).toBeNull();
    expect(parseColumn("nothing")).toBeNull();
    expect(columnValue(runs[0], { kind: "metrics", key: "auc" })).toBe(0.9);
    expect(columnValue(runs[2], { kind: "params", key: "opt" })).toBeUndefined();
  });

  it("finds the extent of numbers", () => {
    expect(extent([3, "x", null, 1, undefined, 2])).toEqual([1, 3]);
    expect(extent(["x"])).toBeNull();
  });
});

describe("the view in the URL", () => {
  it("reads defaults, clamps smoothing, and writes back only what differs", () => {
    const view = readCompareView(new URLSearchParams("runs=a,b&smooth=7&x=bogus"));
    expect(view).toEqual({ metric: "", x: "step", log: false, smooth: 0.99, color: "", sx: "", sy: "", onlyDiff: false });
    const written = writeCompareView(new URLSearchParams("runs=a,b&metric=old"), { ...view, smooth: 0, metric: "" });
    expect(written.toString()).toBe("runs=a%2Cb");
  });

  it("round-trips every choice", () => {
    const view = { metric: "val/loss", x: "relative" as const, log: true, smooth: 0.6, color: "auc", sx: "params.lr", sy: "metrics.auc", onlyDiff: true };
    expect(readCompareView(writeCompareView(new URLSearchParams("runs=a"), view))).toEqual(view);
  });

  it("keeps a chosen column only if the runs have it", () => {
    const columns = [
      { kind: "metrics" as const, key: "auc" },
      { kind: "params" as const, key: "lr" },
    ];
    expect(chooseColumn("params.lr", columns, columns[0])).toEqual(columns[1]);
    expect(chooseColumn("params.gone", columns, columns[0])).toEqual(columns[0]);
    expect(chooseColumn("", columns, undefined)).toBeUndefined();
  });
});
