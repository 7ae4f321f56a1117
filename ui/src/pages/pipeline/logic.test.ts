import { describe, expect, it } from "vitest";
import {
  errorHeadline,
  fanoutSummary,
  hasTraceback,
  itemCounts,
  loadRef,
  neighbours,
  pipelineGraph,
  prettyInline,
  runDuration,
  stepCounts,
  stepDetail,
  stepDuration,
  stepsOf,
  stepTone,
  timelineBars,
  type PipelineRun,
  type StepRecord,
} from "./logic";

const T0 = Date.parse("2026-11-28T05:00:00Z");
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

function step(node: string, extra: Partial<StepRecord> = {}): StepRecord {
  return { node, position: 0, kind: "step", step: node, status: "succeeded", attempts: 1, error: "", items_status: "", items_total: 0, ...extra };
}

function run(steps: StepRecord[], graph: Record<string, unknown>[], extra: Partial<PipelineRun> = {}): PipelineRun {
  return {
    id: "r1",
    project: "p",
    pipeline: "flow",
    import_path: null,
    status: "succeeded",
    params: {},
    graph,
    executor: "process",
    resumed_from: null,
    cancel_requested: false,
    error: "",
    created_by: "me",
    started_at: at(0),
    ended_at: at(60),
    steps,
    ...extra,
  };
}

const GRAPH = [
  { id: "load-tx", kind: "load", step: null, upstream: [], ref: "tx@1" },
  { id: "prep", kind: "step", step: "prep", upstream: ["load-tx"], ref: null },
  { id: "score", kind: "map", step: "score", upstream: ["prep", "prep"], ref: null },
  { id: "report", kind: "step", step: "report", upstream: ["score", "prep"], ref: null },
];

describe("fan-out", () => {
  it("counts items by status, items not reported yet are pending", () => {
    expect(itemCounts("sscF.r", 8)).toEqual({ total: 8, pending: 3, running: 1, succeeded: 2, cached: 1, failed: 1 });
    expect(itemCounts("")).toEqual({ total: 0, pending: 0, running: 0, succeeded: 0, cached: 0, failed: 0 });
  });
  it("summarises as people read it", () => {
    const s = "s".repeat(809) + "c".repeat(3) + "F".repeat(3) + ".".repeat(185);
    expect(fanoutSummary(s, 1000)).toBe("812/1000 done, 3 cached, 3 failed");
    expect(fanoutSummary("ssrr", 4)).toBe("2/4 done, 2 running");
    expect(fanoutSummary("", 0)).toBe("no items");
  });
});

describe("durations", () => {
  it("uses the measured time of a finished step and the wall time of a running one", () => {
    expect(stepDuration(step("a", { started_at: at(0), ended_at: at(3), duration_ms: 1867 }))).toBe(1867);
    expect(stepDuration(step("a", { status: "running", started_at: at(0), duration_ms: null }), T0 + 12_000)).toBe(12_000);
    expect(stepDuration(step("a", { status: "pending" }))).toBeNull();
    expect(stepDuration(step("a", { started_at: at(0), ended_at: at(2), duration_ms: null }))).toBe(2000);
  });
  it("of a run: to its end, or to now while it runs", () => {
    expect(runDuration({ started_at: at(0), ended_at: at(90), status: "succeeded" })).toBe(90_000);
    expect(runDuration({ started_at: at(0), ended_at: null, status: "running" }, T0 + 5000)).toBe(5000);
    expect(runDuration({ started_at: "nonsense", ended_at: null, status: "running" })).toBeNull();
  });
});

describe("graph", () => {
  const r = run(
    [
      step("load-tx", { kind: "load", step: "tx@1", position: 0 }),
      step("prep", { position: 1, status: "cached", cached_from: "old" }),
      step("score", { position: 2, kind: "map", status: "running", items_total: 10, items_status: "sssFrr....", started_at: at(5) }),
    ],
    GRAPH,
    { status: "running", ended_at: null },
  );

  it("has a node per graph entry, missing records pending, and edges from upstream (no duplicates)", () => {
    const g = pipelineGraph(r, T0 + 35_000);
    expect(g.nodes.map((n) => [n.id, n.tone])).toEqual([
      ["load-tx", "dataset"],
      ["prep", "cached"],
      ["score", "running"],
      ["report", "pending"],
    ]);
    expect(g.nodes[0].label).toContain("tx@1");
    expect(g.nodes[1].detail).toBe("cache hit");
    expect(g.nodes[2].detail).toBe("3/10 done, 2 running, 1 failed · 30.0 s");
    expect(g.nodes[3].detail).toBe("pending");
    expect(g.edges).toEqual([
      { from: "load-tx", to: "prep" },
      { from: "prep", to: "score" },
      { from: "score", to: "report" },
      { from: "prep", to: "report" },
    ]);
  });

  it("keeps records the graph does not name and survives an empty run", () => {
    const extra = run([step("orphan", { position: 9 })], []);
    expect(pipelineGraph(extra).nodes.map((n) => n.id)).toEqual(["orphan"]);
    expect(pipelineGraph(run([], [])).nodes).toEqual([]);
    expect(stepsOf({ graph: [{ kind: "step" }, { id: 3 }], steps: [] })).toEqual([]);
  });

  it("counts steps by status, dataset loads apart", () => {
    expect(stepCounts(r)).toEqual({ total: 3, loads: 1, succeeded: 0, cached: 1, failed: 0, running: 1, pending: 1, skipped: 0, cancelled: 0 });
  });

  it("finds neighbours", () => {
    expect(neighbours(r, "prep")).toEqual({ upstream: ["load-tx"], downstream: ["score", "report"] });
    expect(neighbours(r, "nope")).toEqual({ upstream: [], downstream: [] });
  });
});

describe("details and tones", () => {
  it("say what happened in a few words", () => {
    expect(stepDetail(step("a", { status: "failed", attempts: 3 }))).toBe("failed after 3 attempts");
    expect(stepDetail(step("a", { status: "succeeded", duration_ms: 4806 }))).toBe("4.81 s");
    expect(stepDetail(step("a", { status: "succeeded", duration_ms: 500, attempts: 2 }))).toBe("500 ms · 2 attempts");
    expect(stepDetail(step("a", { status: "skipped" }))).toBe("skipped");
    expect(stepDetail(step("m", { kind: "map", status: "cached", items_total: 4, items_status: "cccc" }))).toBe("cache hit · 4/4 done, 4 cached");
    expect(stepTone(step("l", { kind: "load", status: "failed" }))).toBe("failed");
  });
});

describe("errors", () => {
  const traceback =
    "\nThe above exception was the direct cause of the following exception:\n\nTraceback (most recent call last):\n  File \"x.py\", line 3, in f\n    raise RuntimeError('boom')\nRuntimeError: CUDA out of memory (simulated)\n";
  it("finds the exception line of a traceback", () => {
    expect(errorHeadline(traceback)).toBe("RuntimeError: CUDA out of memory (simulated)");
    expect(errorHeadline(`attempt 1 failed, retrying: ${traceback}`)).toBe("RuntimeError: CUDA out of memory (simulated)");
    expect(errorHeadline(`step train failed: ${traceback}`)).toBe("step train failed: RuntimeError: CUDA out of memory (simulated)");
    expect(errorHeadline("skipped: process failed")).toBe("skipped: process failed");
    expect(errorHeadline("")).toBe("");
    expect(hasTraceback(traceback)).toBe(true);
    expect(hasTraceback("one line")).toBe(false);
  });
});

describe("timeline", () => {
  it("places started steps relative to the run's start; running bars end now", () => {
    const r = run(
      [
        step("a", { started_at: at(1), ended_at: at(4) }),
        step("b", { status: "running", started_at: at(4), ended_at: null }),
        step("c", { status: "pending" }),
      ],
      [],
    );
    expect(timelineBars(r, T0 + 10_000)).toEqual([
      { node: "a", label: "a", status: "succeeded", start: 1000, end: 4000, running: false },
      { node: "b", label: "b", status: "running", start: 4000, end: 10_000, running: true },
    ]);
  });
});

describe("inline values", () => {
  it("pretty-prints JSON", () => {
    expect(prettyInline('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyInline("not json")).toBe("not json");
    expect(prettyInline(null)).toBe("");
    expect(prettyInline("[1,2,\"a\",null]")).toBe('[1, 2, "a", null]');
    expect(prettyInline('[{"a":1}]')).toBe('[\n  {\n    "a": 1\n  }\n]');
  });
  it("reads a load node's dataset reference", () => {
    expect(loadRef("transactions@3")).toEqual({ dataset: "transactions", version: "3" });
    expect(loadRef("transactions@latest")).toEqual({ dataset: "transactions", version: "latest" });
    expect(loadRef("transactions")).toEqual({ dataset: "transactions", version: "latest" });
    expect(loadRef(null)).toBeNull();
  });
});
