import { describe, expect, it } from "vitest";
import {
  type AliasMove,
  type ModelLineage,
  type Run,
  describeGate,
  describeMove,
  describeTraffic,
  entityHref,
  modelLineageGraph,
  moveStatus,
  orderHistory,
  pickMetrics,
  signatureSummary,
  trafficArms,
  versionMetrics,
} from "./logic";

const move = (over: Partial<AliasMove>): AliasMove => ({
  model: "m",
  alias: "champion",
  from_version: 1,
  to_version: 2,
  action: "set",
  actor: "ana",
  reason: "",
  rolled_back: false,
  at: "2026-01-01T00:00:00Z",
  ...over,
});

const metric = (last: number) => ({ last, min: last, max: last, step: 0, count: 1, timestamp: 0 });

const run = (id: string, over: Partial<Run> = {}): Run => ({
  id,
  project: "p",
  experiment: "e",
  parent_id: null,
  name: id,
  status: "finished",
  user: "u",
  note: "",
  start_time: "2026-01-01T00:00:00Z",
  end_time: null,
  heartbeat_at: "2026-01-01T00:00:00Z",
  deleted: false,
  ...over,
});

describe("describeGate", () => {
  it("says a gate as the server does", () => {
    expect(describeGate({ metric: "auc", op: ">=", threshold: 0.8, dataset: "transactions", not_worse_than_current: true })).toBe(
      "auc >= 0.8, over dataset transactions, auc not worse than the current version",
    );
    expect(describeGate({ metric: "loss", op: "<", threshold: null, not_worse_than_current: true })).toBe("loss not worse than the current version");
    expect(describeGate({ metric: "auc", op: ">", threshold: 0.9, dataset: "d", min_dataset_version: 3, not_worse_than_current: false })).toBe(
      "auc > 0.9, over dataset d v3 or newer",
    );
  });
});

describe("alias history", () => {
  it("orders moves newest first, keeping the server's order for equal times", () => {
    const moves = [
      move({ to_version: 1, at: "2026-01-01T00:00:00Z" }),
      move({ to_version: 3, at: "2026-03-01T00:00:00" }),
      move({ to_version: 2, at: "2026-02-01T00:00:00Z" }),
      move({ to_version: 4, at: "2026-02-01T00:00:00Z" }),
    ];
    expect(orderHistory(moves).map((m) => m.to_version)).toEqual([3, 2, 4, 1]);
  });

  it("says what each move did", () => {
    expect(describeMove(move({ from_version: null, to_version: 1 }))).toBe("set to v1");
    expect(describeMove(move({}))).toBe("moved v1 → v2");
    expect(describeMove(move({ action: "override" }))).toBe("forced v1 → v2 despite failed gates");
    expect(describeMove(move({ action: "rollback", from_version: 3, to_version: 2 }))).toBe("rolled back v3 → v2");
    expect(describeMove(move({ action: "remove", to_version: null }))).toBe("removed (was v1)");
  });

  it("gives each move a status", () => {
    expect(moveStatus(move({ gate: { passed: true, checks: [] } }))).toBe("passed");
    expect(moveStatus(move({ gate: { passed: false, checks: [] }, action: "override" }))).toBe("failed");
    expect(moveStatus(move({ action: "rollback" }))).toBe("cancelled");
    expect(moveStatus(move({}))).toBe("done");
  });
});

describe("traffic and freezes", () => {
  const traffic = {
    weights: { champion: 90, challenger: 10 },
    shadow: ["challenger2"],
    sticky: "card_hash",
    reason: "canary",
    set_by: "ana",
    set_at: "2026-01-01T00:00:00Z",
  };
  const freeze = { reason: "labels broken", by: "ops", at: "2026-01-02T00:00:00Z" };

  it("says a split as the server does", () => {
    expect(describeTraffic(traffic)).toBe("champion 90% · challenger 10% · shadow challenger2 · sticky by card_hash");
    expect(describeTraffic({ ...traffic, weights: { champion: 100 }, shadow: [], sticky: null })).toBe("champion 100%");
  });

  it("lists the arms in order, shadows last, with the versions their aliases point at", () => {
    expect(trafficArms(traffic, { champion: 3, challenger: 4 })).toEqual([
      { alias: "champion", weight: 90, shadow: false, version: 3 },
      { alias: "challenger", weight: 10, shadow: false, version: 4 },
      { alias: "challenger2", weight: 0, shadow: true, version: null },
    ]);
  });

  it("says what a model-wide event did", () => {
    const event = (over: Partial<AliasMove>) => move({ alias: "", from_version: null, to_version: null, ...over });
    expect(describeMove(event({ action: "traffic", detail: traffic }))).toBe("traffic set: champion 90% · challenger 10% · shadow challenger2 · sticky by card_hash");
    expect(describeMove(event({ action: "traffic", detail: null }))).toBe("traffic split cleared");
    expect(describeMove(event({ action: "freeze", detail: freeze }))).toBe("frozen: no alias moves");
    expect(describeMove(event({ action: "unfreeze", detail: freeze }))).toBe("unfrozen (frozen by ops)");
    expect(moveStatus(event({ action: "freeze", detail: freeze }))).toBe("failed");
    expect(moveStatus(event({ action: "unfreeze", detail: freeze }))).toBe("done");
  });
});

describe("metrics", () => {
  it("picks preferred metrics first, then plain names before dotted ones", () => {
    const metrics = { "recall.a": metric(1), loss: metric(0.2), auc: metric(0.9), acc: metric(0.8) };
    expect(pickMetrics(metrics, ["auc"], 3)).toEqual([
      ["auc", 0.9],
      ["acc", 0.8],
      ["loss", 0.2],
    ]);
    expect(pickMetrics(undefined)).toEqual([]);
  });

  const lineage = (source: Run | null, evaluations: Run[]): ModelLineage =>
    ({ version: {} as ModelLineage["version"], run: source, inputs: [], evaluations, code: {}, environment: {} }) as ModelLineage;

  it("takes the gates' metrics from the newest evaluation that logged them, then the source run's", () => {
    const source = run("train", { metrics: { loss: metric(0.1), "system/cpu_percent": metric(3) } });
    expect(versionMetrics(lineage(source, []), ["auc"]).map((m) => [m.name, m.value, m.from])).toEqual([["loss", 0.1, "source"]]);
    const old = run("evaluate-old", { start_time: "2025-01-01T00:00:00Z", metrics: { auc: metric(0.7) } });
    const evaluate = run("evaluate", { metrics: { auc: metric(0.88), rows: metric(3) } });
    const score = run("score", { start_time: "2026-02-01T00:00:00Z", metrics: { scored: metric(5) } });
    const picked = versionMetrics(lineage(source, [old, score, evaluate]), ["auc"]);
    expect(picked.map((m) => [m.name, m.value, m.from, m.run.id])).toEqual([
      ["auc", 0.88, "evaluation", "evaluate"],
      ["loss", 0.1, "source", "train"],
      ["scored", 5, "evaluation", "score"],
    ]);
    expect(versionMetrics(lineage(run("register"), []))).toEqual([]);
    expect(versionMetrics(undefined)).toEqual([]);
  });

  it("leaves out system metrics", () => {
    expect(pickMetrics({ "system/cpu_percent": metric(1), acc: metric(0.5) })).toEqual([["acc", 0.5]]);
  });
});

describe("signatureSummary", () => {
  it("summarises inputs and outputs", () => {
    const col = (name: string, type: string) => ({ name, type, nullable: true });
    expect(signatureSummary({ inputs: [col("a", "float64"), col("b", "float64")], outputs: [col("prediction", "float64")] })).toBe(
      "2 inputs (float64) → prediction (float64)",
    );
    expect(signatureSummary({ inputs: [col("a", "float64"), col("b", "int64"), col("c", "int64")] })).toBe("3 inputs (1 float64, 2 int64)");
    expect(signatureSummary(null)).toBe("no signature");
  });
});

describe("modelLineageGraph", () => {
  it("links entities to their pages", () => {
    expect(entityHref("dataset_version", "x", "fraud/transactions@1")).toBe("/datasets/fraud/transactions?version=1");
    expect(entityHref("model_version", "x", "fraud-detector/v2")).toBe("/models/fraud-detector?version=2&tab=lineage");
    expect(entityHref("run", "r1", "train")).toBe("/runs/r1");
  });

  const version = { id: "mv1", model: "fraud-detector", version: 1, flavor: "lightgbm", aliases: ["champion"] } as ModelLineage["version"];

  it("draws pipeline run → source run → version → evaluations, with the data they touched", () => {
    const source = run("register", { parent_id: "pipe" });
    const evaluate = run("evaluate");
    const score = run("score", { start_time: "2026-02-01T00:00:00Z" });
    const graph = modelLineageGraph({
      lineage: {
        version,
        run: source,
        inputs: [{ dataset: "features", project: "fraud", version: 2, digest: "d", rows: 10, status: "passed", version_id: "dv2" }],
        evaluations: [evaluate, score],
        code: {},
        environment: {},
      } as ModelLineage,
      parent: run("pipe", { name: "fraud_training" }),
      parentIo: [{ run_id: "pipe", direction: "input", kind: "dataset_version", ref: "dv1", label: "fraud/transactions@1", created_at: "" }],
      evaluationIo: {
        evaluate: [
          { run_id: "evaluate", direction: "input", kind: "model_version", ref: "mv1", label: "fraud-detector/v1", created_at: "" },
          { run_id: "evaluate", direction: "input", kind: "dataset_version", ref: "dv1", label: "fraud/transactions@1", created_at: "" },
        ],
        score: [{ run_id: "score", direction: "output", kind: "dataset_version", ref: "ds1", label: "fraud/fraud_scores@1", created_at: "" }],
      },
    });
    expect(graph.root).toBe("model_version:mv1");
    const ids = graph.nodes.map((n) => n.id).sort();
    expect(ids).toEqual(
      ["dataset_version:ds1", "dataset_version:dv1", "dataset_version:dv2", "model_version:mv1", "run:evaluate", "run:pipe", "run:register", "run:score"].sort(),
    );
    const edges = graph.edges.map((e) => `${e.from} -${e.label}-> ${e.to}`);
    expect(edges).toEqual(
      expect.arrayContaining([
        "run:register -registered-> model_version:mv1",
        "dataset_version:dv2 -read-> run:register",
        "run:pipe -step-> run:register",
        "dataset_version:dv1 -read-> run:pipe",
        "model_version:mv1 -loaded-> run:score",
        "dataset_version:dv1 -read-> run:evaluate",
        "run:score -wrote-> dataset_version:ds1",
      ]),
    );
    expect(edges).not.toContain("model_version:mv1 -read-> run:evaluate"); // the loaded edge says it already
    const root = graph.nodes.find((n) => n.id === graph.root);
    expect(root).toMatchObject({ label: "fraud-detector v1", tone: "model", detail: "model · lightgbm · @champion" });
    expect(graph.nodes.find((n) => n.id === "run:pipe")?.href).toBe("/runs/pipe");
  });

  it("summarises runs beyond the limit and copes with a version without a run", () => {
    const evaluations = Array.from({ length: 5 }, (_, i) => run(`e${i}`));
    const graph = modelLineageGraph({ lineage: { version, run: null, inputs: [], evaluations, code: {}, environment: {} } as ModelLineage, maxEvaluations: 2 });
    expect(graph.hidden).toBe(3);
    expect(graph.nodes.find((n) => n.id === "more-evaluations")?.label).toBe("+3 more runs");
    expect(graph.nodes).toHaveLength(4);
  });
});
