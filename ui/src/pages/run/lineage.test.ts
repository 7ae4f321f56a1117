import { describe, expect, it } from "vitest";
import { lineageGraph, withNeighbours } from "./lineage";

const run = { id: "r1", name: "evaluate", status: "finished" };

describe("lineageGraph", () => {
  it("puts inputs before the run and outputs after it, with links", () => {
    const g = lineageGraph(run, [
      { direction: "input", kind: "dataset_version", ref: "d1", label: "fraud/transactions@1" },
      { direction: "input", kind: "model_version", ref: "m1", label: "fraud-detector/v1" },
      { direction: "output", kind: "dataset_version", ref: "d2", label: "fraud/fraud_scores@4" },
    ]);
    expect(g.nodes.map((n) => [n.id, n.label, n.detail, n.tone, n.href])).toEqual([
      ["run:r1", "evaluate", "this run · finished", "finished", undefined],
      ["dataset_version:d1", "transactions", "dataset · fraud · v1", "dataset", "/datasets/fraud/transactions?version=1"],
      ["model_version:m1", "fraud-detector", "model · v1", "model", "/models/fraud-detector?version=1"],
      ["dataset_version:d2", "fraud_scores", "dataset · fraud · v4", "dataset", "/datasets/fraud/fraud_scores?version=4"],
    ]);
    expect(g.edges).toEqual([
      { from: "dataset_version:d1", to: "run:r1", label: "read" },
      { from: "model_version:m1", to: "run:r1", label: "loaded" },
      { from: "run:r1", to: "dataset_version:d2", label: "wrote" },
    ]);
  });

  it("draws an entity once however often it was recorded, and keeps unknown kinds", () => {
    const g = lineageGraph(run, [
      { direction: "output", kind: "model_version", ref: "m1", label: "fraud-detector/v2" },
      { direction: "output", kind: "model_version", ref: "m1", label: "fraud-detector/v2" },
      { direction: "input", kind: "feature_view", ref: "f", label: "user_features" },
    ]);
    expect(g.nodes).toHaveLength(3);
    expect(g.edges).toHaveLength(2);
    expect(g.nodes[2]).toMatchObject({ label: "user_features", detail: "feature view", href: undefined });
    expect(g.edges[0].label).toBe("registered");
  });

  it("is just the run without inputs or outputs", () => {
    expect(lineageGraph(run, [])).toEqual({ nodes: [expect.objectContaining({ id: "run:r1" })], edges: [] });
  });
});

describe("withNeighbours", () => {
  const base = lineageGraph(run, [
    { direction: "input", kind: "dataset_version", ref: "d1", label: "fraud/transactions@1" },
    { direction: "output", kind: "model_version", ref: "m1", label: "fraud-detector/v1" },
  ]);

  it("adds the runs that wrote inputs and read outputs, linked, without this run", () => {
    const g = withNeighbours(base, "r1", [
      { entity: "dataset_version:d1", side: "upstream", runs: [{ id: "w", name: "ingest", status: "finished" }] },
      { entity: "model_version:m1", side: "downstream", runs: [{ id: "r1", name: "evaluate" }, { id: "s", name: "score" }] },
    ]);
    expect(g.nodes.slice(3).map((n) => [n.id, n.label, n.href])).toEqual([
      ["run:w", "ingest", "/runs/w"],
      ["run:s", "score", "/runs/s"],
    ]);
    expect(g.edges.slice(2)).toEqual([
      { from: "run:w", to: "dataset_version:d1", label: "wrote" },
      { from: "model_version:m1", to: "run:s", label: "read by" },
    ]);
  });

  it("sums up runs beyond the limit and ignores unknown entities", () => {
    const many = Array.from({ length: 8 }, (_, i) => ({ id: `x${i}`, name: `x${i}` }));
    const g = withNeighbours(base, "r1", [
      { entity: "model_version:m1", side: "downstream", runs: many },
      { entity: "dataset_version:nope", side: "upstream", runs: many },
    ]);
    expect(g.nodes.filter((n) => n.id.startsWith("run:x"))).toHaveLength(5);
    expect(g.nodes.at(-1)?.label).toBe("3 more runs");
  });

  it("does not draw an edge twice when a run is on both sides", () => {
    const g = withNeighbours(base, "r1", [
      { entity: "dataset_version:d1", side: "upstream", runs: [{ id: "p", name: "pipeline" }] },
      { entity: "dataset_version:d1", side: "downstream", runs: [{ id: "p", name: "pipeline" }] },
    ]);
    expect(g.edges.filter((e) => e.from === "run:p" || e.to === "run:p")).toHaveLength(1);
  });
});
