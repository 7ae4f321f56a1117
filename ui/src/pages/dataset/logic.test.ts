import { describe, expect, it } from "vitest";
import {
  type ColumnStats,
  columnKind,
  columnSeries,
  describeRule,
  diffTable,
  formatEdge,
  guessKey,
  isSkewed,
  lineageGraph,
  lineageHref,
  noChartReason,
  percent,
  producersAndConsumers,
  shiftReasons,
  short,
  shiftTable,
  summaryRows,
} from "./logic";

const stats = (over: Partial<ColumnStats>): ColumnStats => ({ name: "c", type: "int64", count: 10, nulls: 0, nans: 0, infinities: 0, ...over });

describe("columnKind", () => {
  it("reads Arrow type names", () => {
    expect(["int64", "uint8", "double", "float", "decimal128(10, 2)"].map(columnKind)).toEqual(Array(5).fill("numeric"));
    expect(["timestamp[us]", "timestamp[ns, tz=UTC]", "date32", "date32[day]"].map(columnKind)).toEqual(Array(4).fill("temporal"));
    expect(columnKind("bool")).toBe("boolean");
    expect(columnKind("string")).toBe("string");
    expect(columnKind("large_string")).toBe("string");
    expect(columnKind("list<item: int64>")).toBe("other");
    expect(columnKind("binary")).toBe("other");
  });
});

describe("percent", () => {
  it("rounds for reading and keeps tiny shares visible", () => {
    expect(percent(1, 4)).toBe("25%");
    expect(percent(1, 30)).toBe("3.3%");
    expect(percent(1, 100000)).toBe("<0.1%");
    expect(percent(998, 1000)).toBe("99.8%");
    expect(percent(99999, 100000)).toBe(">99.9%");
    expect(percent(0, 5)).toBe("0%");
    expect(percent(3, 0)).toBe("");
  });
});

describe("columnSeries", () => {
  it("turns a numeric histogram into bars labelled by their lower edge", () => {
    const s = columnSeries(stats({ type: "double", histogram: { edges: [0, 0.5, 1, 1.5], counts: [3, 5, 2] } }));
    expect(s?.kind).toBe("histogram");
    expect(s?.labels).toEqual(["0", "0.5", "1"]);
    expect(s?.counts).toEqual([3, 5, 2]);
    expect(s?.tips[0]).toBe("0 – 0.5 (excl.): 3 (30%)");
    expect(s?.tips[2]).toBe("1 – 1.5: 2 (20%)");
  });

  it("labels a single-value histogram by that value", () => {
    const s = columnSeries(stats({ type: "int64", histogram: { edges: [7, 7], counts: [10] } }));
    expect(s?.labels).toEqual(["7"]);
    expect(s?.tips).toEqual(["7: 10 (100%)"]);
  });

  it("labels temporal histograms (epoch seconds) as dates", () => {
    const day = 86400;
    const t0 = Date.UTC(2025, 0, 1) / 1000;
    const s = columnSeries(stats({ type: "timestamp[us]", histogram: { edges: [t0, t0 + 2 * day, t0 + 4 * day], counts: [1, 2] } }));
    expect(s?.labels).toEqual(["2025-01-01", "2025-01-03"]);
  });

  it("ignores a malformed histogram and falls back to top values with the rest counted", () => {
    const s = columnSeries(
      stats({
        type: "string",
        count: 100,
        histogram: { edges: [0, 1], counts: [1, 2] },
        top: [
          { value: "US", count: 50 },
          { value: "", count: 20 },
          { value: true, count: 10 },
        ],
      }),
    );
    expect(s?.kind).toBe("top");
    expect(s?.labels).toEqual(["US", "(empty)", "true"]);
    expect(s?.other).toBe(20);
    expect(s?.tips[0]).toBe("US: 50 (50%)");
  });

  it("has nothing to draw without histogram or top values", () => {
    expect(columnSeries(stats({ type: "string", top: [] }))).toBeNull();
  });
});

describe("short", () => {
  it("keeps 4 significant digits", () => {
    expect(short(70.12005880000693)).toBe("70.12");
    expect(short(138.15141464024367)).toBe("138.2");
    expect(short(5.045888322012735)).toBe("5.046");
    expect(short(1234.5678)).toBe("1,235");
    expect(short(200000)).toBe("200,000");
    expect(short(0.000012345)).toBe("1.23e-5");
  });
});

describe("isSkewed", () => {
  it("spots long tails that a linear scale would hide", () => {
    expect(isSkewed([190000, 800, 120, 30, 9, 2, 0, 1])).toBe(true);
    expect(isSkewed([10, 40, 90, 60, 20])).toBe(false);
    expect(isSkewed([1000, 0, 0, 1])).toBe(false); // too few bars to tell
  });
});

describe("formatEdge", () => {
  it("rounds to the precision the bin width needs", () => {
    expect(formatEdge(423.6845, 423.6)).toBe("424");
    expect(formatEdge(0.123456, 0.05)).toBe("0.123");
    expect(formatEdge(12345.678, 1000)).toBe("12,346");
    expect(formatEdge(2.5e7, 1e6)).toBe("2.50e+7");
  });
});

describe("summaryRows and noChartReason", () => {
  it("gives numeric columns their moments and quantiles", () => {
    const rows = summaryRows(stats({ type: "double", count: 90, nulls: 10, distinct: 80, min: 0.5, max: 9, mean: 4.25, std: 1.5, quantiles: { p05: 1, p50: 4, p95: 8 } }), 100);
    expect(Object.fromEntries(rows)).toMatchObject({ count: "90", nulls: "10 (10%)", distinct: "≈ 80", min: "0.5", max: "9", mean: "4.25", std: "1.5", median: "4", "p5 – p95": "1 – 8" });
  });

  it("gives strings their range and says why unique columns have no chart", () => {
    const s = stats({ type: "string", count: 1000, distinct: 1000, min: "a", max: "z" });
    expect(Object.fromEntries(summaryRows(s, 1000))).toMatchObject({ min: "a", max: "z" });
    expect(noChartReason(s, 1000)).toContain("no value repeats");
    expect(noChartReason(stats({ count: 0, nulls: 5 }), 5)).toBe("every value is null");
  });
});

describe("describeRule", () => {
  it("says each kind of rule in words", () => {
    expect(describeRule({ check: "range", column: "amount", min: 0 })).toBe("amount ≥ 0");
    expect(describeRule({ check: "range", column: "amount", min: 0, max: 10 })).toBe("0 ≤ amount ≤ 10");
    expect(describeRule({ check: "not_null", column: "id" })).toBe("id is never null");
    expect(describeRule({ check: "unique", columns: ["a", "b"] })).toBe("unique (a, b)");
    expect(describeRule({ check: "allowed_values", column: "c", values: ["a", "b", 1, 2, 3, 4, 5] })).toBe("c in {a, b, 1, 2, 3, 4, … (7)}");
    expect(describeRule({ check: "row_count", min: 1000 })).toBe("rows ≥ 1,000");
    expect(describeRule({ check: "freshness", column: "ts", max_age: "2d" })).toBe("newest ts at most 2d old");
    expect(describeRule({ check: "sql", expression: "a > b" })).toBe("a > b");
    expect(describeRule({ check: "column", column: "a", type: "int64" })).toBe("column a exists with type int64");
  });
});

describe("diffTable", () => {
  it("lists added, removed and changed rows with the key first", () => {
    const table = diffTable({
      key: ["id"],
      added: 1,
      removed: 1,
      changed: 1,
      unchanged: 5,
      examples: {
        added: [{ amount: 3, id: 10, channel: "web" }],
        removed: [{ id: 1, amount: 2 }],
        changed: [{ key: { id: 2 }, changes: { amount: { base: 1, target: 1.1 } } }],
      },
    });
    expect(table.columns).toEqual(["id", "amount", "channel"]);
    expect(table.rows.map((r) => r.kind)).toEqual(["added", "removed", "changed"]);
    expect(table.rows[2].cells.amount).toEqual({ value: 1.1, before: 1, changed: true });
    expect(table.rows[2].cells.id).toEqual({ value: 2 });
  });

  it("copes with no examples", () => {
    expect(diffTable({ key: ["id"], added: 0, removed: 0, changed: 0, unchanged: 0 })).toEqual({ columns: ["id"], rows: [] });
  });
});

describe("shiftTable", () => {
  const shift = (name: string, over: object = {}) => ({
    name,
    null_rate: [0, 0] as [number, number],
    distinct: [5, 5] as [number, number],
    mean: [1, 1] as [number, number],
    std: [1, 1] as [number, number],
    min: [0, 0] as [number, number],
    max: [2, 2] as [number, number],
    psi: 0.001,
    ...over,
  });

  it("marks added, removed, retyped and shifted columns, once each", () => {
    const rows = shiftTable(
      { added: [{ name: "new", type: "string", nullable: true }], removed: [{ name: "old", type: "int64", nullable: true }], changed: [{ name: "t", base: "int64", target: "double" }] },
      [shift("same"), shift("moved", { mean: [1, 2] }), shift("psi", { psi: 0.3 }), shift("t"), shift("new", { null_rate: [null, 0] }), shift("old")],
    );
    const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(rows).toHaveLength(6);
    expect(byName.same.level).toBe("same");
    expect(byName.moved).toMatchObject({ level: "changed", note: "mean +1.00σ" });
    expect(byName.psi).toMatchObject({ level: "changed", note: "major distribution shift" });
    expect(byName.t).toMatchObject({ level: "changed", note: "type int64 → double" });
    expect(byName.new).toMatchObject({ level: "added", note: "added (string)" });
    expect(byName.old.level).toBe("removed");
  });

  it("does not flag noise: small moves of approximate distinct counts, tiny mean moves", () => {
    expect(shiftReasons(shift("a", { distinct: [561, 560], mean: [1, 1.01] }))).toEqual([]);
    expect(shiftReasons(shift("a", { distinct: [100, 130] }))).toEqual(["distinct +30%"]);
    expect(shiftReasons(shift("a", { null_rate: [0.0215, 0.0204] }))).toEqual([]);
    expect(shiftReasons(shift("a", { null_rate: [0.01, 0.05] }))).toEqual(["null rate +4.0 pts"]);
    expect(shiftReasons(shift("a", { psi: 0.15, mean: [10, 8], std: [null, null] }))).toEqual(["moderate distribution shift", "mean moved"]);
  });
});

describe("guessKey", () => {
  it("picks a unique, non-null id-like column", () => {
    const s = [stats({ name: "amount", distinct: 100, count: 100 }), stats({ name: "order_id", distinct: 99, count: 100 })];
    expect(guessKey(s, 100)).toBe("order_id");
    expect(guessKey([stats({ name: "user_id", distinct: 10, count: 100 })], 100)).toBeNull();
    expect(guessKey([stats({ name: "id", distinct: 100, count: 90, nulls: 10 })], 100)).toBeNull();
  });
});

describe("lineage", () => {
  it("links every kind of entity to its page", () => {
    expect(lineageHref("run", "run:abc", "train")).toBe("/runs/abc");
    expect(lineageHref("dataset_version", "dataset_version:x", "fraud/transactions@3")).toBe("/datasets/fraud/transactions?version=3&tab=lineage");
    expect(lineageHref("model_version", "model_version:x", "fraud-detector/v2")).toBe("/models/fraud-detector?version=2");
    expect(lineageHref("feature_view", "feature_view:x", "whatever")).toBeUndefined();
  });

  const lineage = {
    root: "dataset_version:d1",
    nodes: [
      { kind: "dataset_version", id: "dataset_version:d1", label: "p/scores@1", missing: false },
      { kind: "run", id: "run:r1", label: "score", missing: false },
      { kind: "run", id: "run:r2", label: "report", missing: true },
      { kind: "model_version", id: "model_version:m1", label: "m/v4", missing: false },
    ],
    edges: [
      { source: "model_version:m1", target: "run:r1", relation: "read" as const },
      { source: "run:r1", target: "dataset_version:d1", relation: "wrote" as const },
      { source: "dataset_version:d1", target: "run:r2", relation: "read" as const },
    ],
  };

  it("draws nodes with tones, details and links, and edges with their relation", () => {
    const { nodes, edges } = lineageGraph(lineage);
    expect(nodes.map((n) => [n.tone, n.detail, n.href])).toEqual([
      ["dataset", "this version", "/datasets/p/scores?version=1&tab=lineage"],
      ["run", "run", "/runs/r1"],
      ["cancelled", "run · deleted", undefined],
      ["model", "model version", "/models/m?version=4"],
    ]);
    expect(edges[1]).toEqual({ from: "run:r1", to: "dataset_version:d1", label: "wrote" });
  });

  it("finds the runs that wrote and read the root", () => {
    const { wrote, read } = producersAndConsumers(lineage);
    expect(wrote.map((n) => n.label)).toEqual(["score"]);
    expect(read.map((n) => n.label)).toEqual(["report"]);
  });
});
