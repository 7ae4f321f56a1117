import { describe, expect, it } from "vitest";
import { type PipelineRun, type RunIO, chooseDirection, expandPipelines, ioHref, pipelineIds, reduceUnlabelled, stepRunIds } from "./pipelineLineage";

const io = (run_id: string, direction: "input" | "output", kind: string, ref: string, label: string): RunIO => ({ run_id, direction, kind, ref, label, created_at: "" });

const step = (node: string, run_id: string | null, status = "succeeded", kind: "step" | "load" | "map" = "step") => ({
  node,
  kind,
  step: node,
  status,
  run_id,
  position: 0,
  attempts: 1,
  error: "",
  items_total: 0,
  items_status: "",
});

const pipeline = {
  id: "pipe",
  project: "fraud",
  pipeline: "fraud_training",
  status: "succeeded",
  graph: [
    { id: "load-transactions", kind: "load", step: null, upstream: [], ref: "transactions@1" },
    { id: "featurize", kind: "step", step: "featurize", upstream: ["load-transactions"] },
    { id: "train", kind: "step", step: "train", upstream: ["featurize"] },
    { id: "register", kind: "step", step: "register", upstream: ["train", "featurize"] },
    { id: "score", kind: "step", step: "score", upstream: ["register"] },
  ],
  steps: [step("load-transactions", null, "succeeded", "load"), step("featurize", "f"), step("train", "t"), step("register", "r"), step("score", "s", "cached")],
} as unknown as PipelineRun;

describe("pipeline lineage", () => {
  it("finds the pipelines around runs", () => {
    expect(
      pipelineIds([
        { id: "pipe", parent_id: null, tags: { "dockyard.pipeline": "fraud_training" } },
        { id: "r", parent_id: "pipe2", tags: { "dockyard.pipeline.step": "register" } },
        { id: "x", parent_id: "y", tags: {} },
      ]),
    ).toEqual(["pipe", "pipe2"]);
    expect(stepRunIds(pipeline)).toEqual(["f", "t", "r", "s"]);
  });

  it("links what runs read and wrote to their pages", () => {
    expect(ioHref("dataset_version", "x", "fraud/transactions@1")).toBe("/datasets/fraud/transactions?version=1&tab=lineage");
    expect(ioHref("model_version", "x", "fraud-detector/v2")).toBe("/models/fraud-detector?version=2&tab=lineage");
    expect(ioHref("other", "x", "y")).toBeUndefined();
  });

  it("expands a pipeline run into its steps and joins loads and outputs", () => {
    const base = {
      nodes: [
        { id: "dataset_version:d1", label: "fraud/transactions@1", detail: "this version", tone: "dataset" },
        { id: "run:pipe", label: "fraud_training", detail: "run", tone: "run", href: "/runs/pipe" },
        { id: "run:f", label: "featurize", detail: "run", tone: "run", href: "/runs/f" },
      ],
      edges: [
        { from: "dataset_version:d1", to: "run:pipe", label: "read" },
        { from: "dataset_version:d1", to: "run:f", label: "read" },
      ],
    };
    const graph = expandPipelines(base, [pipeline], {
      r: [io("r", "output", "model_version", "m1", "fraud-detector/v1")],
      s: [io("s", "input", "model_version", "m1", "fraud-detector/v1"), io("s", "output", "dataset_version", "d2", "fraud/fraud_scores@1")],
    });
    const byId = Object.fromEntries(graph.nodes.map((n) => [n.id, n]));
    expect(Object.keys(byId).sort()).toEqual(
      ["dataset_version:d1", "dataset_version:d2", "model_version:m1", "run:f", "run:pipe", "run:r", "run:s", "run:t"].sort(),
    );
    expect(byId["run:pipe"]).toMatchObject({ detail: "pipeline run · succeeded", href: "/pipelines/pipe" });
    expect(byId["run:t"]).toMatchObject({ label: "train", detail: "step of fraud_training", href: "/runs/t", tone: "run" });
    expect(byId["run:s"]).toMatchObject({ detail: "step of fraud_training · cached", tone: "cached" });
    expect(byId["model_version:m1"]).toMatchObject({ tone: "model", href: "/models/fraud-detector?version=1&tab=lineage" });
    const edges = graph.edges.map((e) => `${e.from} -${e.label ?? ""}-> ${e.to}`).sort();
    expect(edges).toEqual(
      [
        "dataset_version:d1 -read-> run:pipe",
        "dataset_version:d1 -read-> run:f", // the load edge merged into the recorded read
        "run:f --> run:t", // featurize → register goes: featurize → train → register says it
        "run:t --> run:r",
        // register → score goes too: register wrote the model score read
        "run:r -wrote-> model_version:m1",
        "model_version:m1 -read-> run:s",
        "run:s -wrote-> dataset_version:d2",
      ].sort(),
    );
  });

  it("adds a dataset node for a load it has not seen, keeps a node's own words, drops step edges", () => {
    const base = {
      nodes: [
        { id: "run:r", label: "register", detail: "source run · finished", tone: "run", href: "/runs/r" },
        { id: "run:pipe", label: "fraud_training", detail: "pipeline run", tone: "run" },
      ],
      edges: [{ from: "run:pipe", to: "run:r", label: "step" }],
    };
    const graph = expandPipelines(base, [pipeline], {});
    const byId = Object.fromEntries(graph.nodes.map((n) => [n.id, n]));
    expect(byId["load:pipe:load-transactions"]).toMatchObject({ label: "fraud/transactions@1", tone: "dataset", href: "/datasets/fraud/transactions?version=1&tab=lineage" });
    expect(byId["run:r"]).toMatchObject({ label: "register", detail: "source run · finished" });
    expect(graph.edges.some((e) => e.from === "run:pipe" && e.to === "run:r")).toBe(false);
  });
});

describe("reduceUnlabelled", () => {
  it("drops unlabelled edges another path implies and keeps labelled ones", () => {
    const edges = [
      { from: "a", to: "b" },
      { from: "b", to: "c" },
      { from: "a", to: "c" },
      { from: "a", to: "d", label: "read" },
      { from: "d", to: "c" },
      { from: "x", to: "c", label: "read" },
      { from: "x", to: "y" },
      { from: "y", to: "c" },
    ];
    expect(reduceUnlabelled(edges).map((e) => `${e.from}${e.to}`)).toEqual(["ab", "bc", "ad", "dc", "xc", "xy", "yc"]);
  });

  it("keeps one of two parallel paths when both are unlabelled hand-overs", () => {
    const edges = [
      { from: "a", to: "b" },
      { from: "b", to: "c" },
      { from: "a", to: "c" },
    ];
    expect(reduceUnlabelled(edges)).toHaveLength(2);
  });
});

describe("chooseDirection", () => {
  it("goes left to right when it fits, else top to bottom if narrower", () => {
    expect(chooseDirection({ LR: 900, TB: 400 }, 1200)).toBe("LR");
    expect(chooseDirection({ LR: 2000, TB: 400 }, 1200)).toBe("TB");
    expect(chooseDirection({ LR: 2000, TB: 2400 }, 1200)).toBe("LR");
  });
});
