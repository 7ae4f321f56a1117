import { describe, expect, it } from "vitest";
import {
  type AliasMove,
  type Instance,
  type Prediction,
  type ServedModel,
  compactInputs,
  compactValue,
  deployments,
  describeVersion,
  diffHref,
  errorShare,
  explicitRange,
  formatLatency,
  formatRate,
  moveBefore,
  observe,
  parsePredictionId,
  rangeOf,
  rateOf,
  replicaKey,
  serverStatus,
  since,
  summarize,
  trafficShares,
} from "./logic";

const model = (name: string, over: Partial<ServedModel> = {}): ServedModel => ({
  name,
  uri: `models:/${name}@champion`,
  versions: [{ alias: "champion", version: 1, state: "serving", error: "" }],
  traffic: { champion: 100 },
  shadow: [],
  frozen: false,
  requests: 0,
  errors: 0,
  rows: 0,
  latency_p50_ms: null,
  latency_p99_ms: null,
  ...over,
});

const instance = (id: string, models: ServedModel[], over: Partial<Instance> = {}): Instance => ({
  id,
  address: `host-${id}:8080`,
  started_by: "ana",
  started_at: "2026-01-01T00:00:00Z",
  heartbeat_at: "2026-01-01T00:10:00Z",
  stopped_at: null,
  live: true,
  state: {
    address: `host-${id}:8080`,
    hostname: `host-${id}`,
    pid: 1,
    models,
    predictions_accepted: 0,
    predictions_logged: 0,
    predictions_dropped: 0,
    stopped: false,
  },
  ...over,
});

const prediction = (id: string, over: Partial<Prediction> = {}): Prediction => ({
  prediction_id: id,
  at: "2026-01-01T00:00:00Z",
  model: "m",
  version: 1,
  alias: "champion",
  shadow: false,
  latency_ms: 1,
  inputs: {},
  features: null,
  output: 0,
  ...over,
});

describe("servers and deployments", () => {
  it("says whether a server is live, stopped or went silent", () => {
    expect(serverStatus(instance("a", []))).toBe("live");
    expect(serverStatus(instance("a", [], { live: false, stopped_at: "2026-01-01T00:10:00Z" }))).toBe("stopped");
    expect(serverStatus(instance("a", [], { live: false }))).toBe("lost");
  });

  it("groups models across servers, live ones first, counting live servers only", () => {
    const old = instance("old", [model("fraud", { requests: 1000, errors: 50 })], { live: false, stopped_at: "2026-01-01T00:05:00Z", heartbeat_at: "2026-01-01T00:05:00Z" });
    const a = instance("a", [model("fraud", { requests: 10, errors: 1, rows: 12 }), model("churn", { requests: 3 })], { heartbeat_at: "2026-01-01T00:09:00Z" });
    const b = instance("b", [model("fraud", { requests: 20, rows: 20, frozen: true })]);
    const gone = instance("gone", [model("aaa-stopped", { requests: 7 })], { live: false, stopped_at: "2026-01-01T00:01:00Z" });
    const found = deployments([old, a, b, gone]);
    expect(found.map((d) => d.name)).toEqual(["churn", "fraud", "aaa-stopped"]);
    const fraud = found[1];
    expect(fraud.replicas.map((r) => r.instance.id)).toEqual(["b", "a", "old"]);
    expect(fraud).toMatchObject({ live: 2, requests: 30, errors: 1, rows: 32, frozen: true });
    // a model no live server serves shows the counts its servers last reported
    expect(found[2]).toMatchObject({ live: 0, requests: 7 });
  });

  it("gives the error share of requests", () => {
    expect(errorShare(0, 0)).toBe("");
    expect(errorShare(200, 0)).toBe("0%");
    expect(errorShare(200, 5)).toBe("2.5%");
    expect(errorShare(10_000, 1)).toBe("<0.1%");
  });

  it("splits traffic in percent, largest first", () => {
    expect(trafficShares({ challenger: 10, champion: 90 })).toEqual([
      { alias: "champion", weight: 90, percent: 90 },
      { alias: "challenger", weight: 10, percent: 10 },
    ]);
    expect(trafficShares({ a: 1, b: 2 }).map((s) => Math.round(s.percent))).toEqual([67, 33]);
    expect(trafficShares({ a: 0 })).toEqual([]);
    expect(trafficShares(undefined)).toEqual([]);
  });

  it("says what a served version is doing", () => {
    expect(describeVersion({ alias: "champion", version: 2, state: "serving", error: "" })).toBe("v2 serving");
    expect(describeVersion({ alias: "champion", version: null, state: "loading", error: "" })).toBe("loading");
    expect(describeVersion({ alias: "champion", version: 1, state: "loading", error: "" })).toBe("v1 answers while the new version loads");
    expect(describeVersion({ alias: "champion", version: 1, state: "failed", error: "boom" })).toBe("v1 still answers: the new version failed to load");
    expect(describeVersion({ alias: "champion", version: null, state: "failed", error: "boom" })).toBe("failed to load");
  });
});

describe("request rates between heartbeats", () => {
  const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds)).toISOString();
  const beat = (seconds: number, requests: number, errors = 0) => [instance("a", [model("fraud", { requests, errors })], { heartbeat_at: at(seconds) })];
  const key = replicaKey("a", "fraud");

  it("needs two heartbeats, then counts per second over the samples kept", () => {
    let history = observe({}, beat(0, 100));
    expect(rateOf(history[key])).toBeNull();
    history = observe(history, beat(0, 100)); // the same heartbeat seen again
    expect(history[key]).toHaveLength(1);
    history = observe(history, beat(5, 150, 5));
    expect(rateOf(history[key])).toEqual({ requests: 10, errors: 1 });
    history = observe(history, beat(10, 150, 5));
    expect(rateOf(history[key])).toEqual({ requests: 5, errors: 0.5 });
  });

  it("keeps the last samples only, starts over when counters restart, forgets gone servers", () => {
    let history = {};
    for (let i = 0; i <= 6; i++) history = observe(history, beat(i * 5, i * 10), 3);
    expect(rateOf((history as Record<string, never[]>)[key])).toEqual({ requests: 2, errors: 0 });
    history = observe(history, beat(40, 3));
    expect(rateOf((history as Record<string, never[]>)[key])).toBeNull();
    expect(observe(history, [])).toEqual({});
  });

  it("formats rates and latencies", () => {
    expect(formatRate(null)).toBe("");
    expect(formatRate(0)).toBe("0/s");
    expect(formatRate(0.0234)).toBe("0.023/s");
    expect(formatRate(2.345)).toBe("2.3/s");
    expect(formatRate(1234.5)).toBe("1,235/s");
    expect(formatLatency(undefined)).toBe("");
    expect(formatLatency(0.4567)).toBe("0.46 ms");
    expect(formatLatency(3.21)).toBe("3.2 ms");
    expect(formatLatency(35.4)).toBe("35 ms");
    expect(formatLatency(1400)).toBe("1.40 s");
  });
});

describe("the prediction log", () => {
  it("turns a range into a start time, an unknown one into the last hour", () => {
    const now = Date.UTC(2026, 0, 2, 12, 0, 0);
    expect(since("24h", now)).toBe("2026-01-01T12:00:00.000Z");
    expect(since("7d", now)).toBe("2025-12-26T12:00:00.000Z");
    expect(since("nonsense", now)).toBe("2026-01-02T11:00:00.000Z");
    expect(rangeOf(null).id).toBe("1h");
  });

  it("writes values and inputs in one short line", () => {
    expect(compactValue(0.123456789)).toBe("0.123457");
    expect(compactValue(12345)).toBe("12345");
    expect(compactValue("fraud")).toBe("fraud");
    expect(compactValue(null)).toBe("null");
    expect(compactValue([0.25, 0.7500000001])).toBe("[0.25,0.75]");
    expect(compactValue({ label: "x" })).toBe('{"label":"x"}');
    expect(compactValue("a".repeat(100), 10)).toBe(`${"a".repeat(9)}…`);
    expect(compactInputs({ amount: 12.5, quantity: 2 })).toBe("amount=12.5 · quantity=2");
    expect(compactInputs({})).toBe("");
    const many = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`feature_${i}`, i * 1.5]));
    const line = compactInputs(many, 60);
    expect(line.length).toBeLessThanOrEqual(70);
    expect(line).toMatch(/^feature_0=0 · feature_1=1.5 · .* · \+\d+ more$/);
  });

  it("summarizes what is shown", () => {
    const found = summarize([
      prediction("3", { version: 2, latency_ms: 3 }),
      prediction("2", { version: 1, latency_ms: 1, shadow: true }),
      prediction("1", { version: 2, latency_ms: 2 }),
      prediction("0", { version: 2, latency_ms: 100 }),
    ]);
    expect(found).toEqual({ count: 4, versions: [[2, 3], [1, 1]], shadow: 1, p50: 2, p99: 100 });
    expect(summarize([])).toEqual({ count: 0, versions: [], shadow: 0, p50: null, p99: null });
  });

  it("finds a prediction id in what was pasted", () => {
    const id = "01a24f21616578088dc8abc60ae2fb13";
    expect(parsePredictionId(id)).toBe(id);
    expect(parsePredictionId(`  ${id.toUpperCase()}\n`)).toBe(id);
    expect(parsePredictionId(`http://localhost:8000/predictions/${id}?x=1`)).toBe(id);
    expect(parsePredictionId(`prediction ${id} of fraud v2`)).toBe(id);
    expect(parsePredictionId(id.slice(1))).toBeNull();
    expect(parsePredictionId(`${id}0`)).toBeNull();
    expect(parsePredictionId("")).toBeNull();
  });
});

describe("a prediction's trace", () => {
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

  it("links the diff of the run that captured the code", () => {
    expect(diffHref({ run_id: "r1", diff_artifact: "dockyard/git.diff" })).toBe("/runs/r1?tab=artifacts&path=dockyard%2Fgit.diff");
    expect(diffHref({ run_id: "r1", diff_artifact: null })).toBeNull();
    expect(diffHref({ run_id: null, diff_artifact: "dockyard/git.diff" })).toBeNull();
  });

  it("finds the alias move that put the answering version in place before the prediction", () => {
    const history = [
      move({ to_version: 3, from_version: 2, at: "2026-01-03T00:00:00Z" }),
      move({ alias: "challenger", to_version: 1, at: "2026-01-02T12:00:00Z" }),
      move({ to_version: 2, from_version: 1, at: "2026-01-02T00:00:00Z", reason: "better auc" }),
      move({ to_version: 1, from_version: null, at: "2026-01-01T00:00:00Z" }),
    ];
    expect(moveBefore(history, "champion", 2, "2026-01-02T18:00:00Z")?.reason).toBe("better auc");
    expect(moveBefore(history, "champion", 1, "2026-01-01T06:00:00Z")?.from_version).toBeNull();
    // the history says another version was in place: no move explains this answer
    expect(moveBefore(history, "champion", 1, "2026-01-02T18:00:00Z")).toBeNull();
    expect(moveBefore(history, "staging", 1, "2026-01-02T18:00:00Z")).toBeNull();
  });
});

describe("a time range from the URL", () => {
  it("takes since and until (a monitoring window, until left out) and says which", () => {
    expect(explicitRange("2026-12-07T11:00:00+00:00", "2026-12-07T12:00:00Z")).toEqual({
      since: "2026-12-07T11:00:00.000Z",
      until: "2026-12-07T11:59:59.999999Z",
      label: "window 2026-12-07 11:00 – 2026-12-07 12:00 UTC",
    });
  });

  it("ignores a missing, unreadable or backwards range", () => {
    expect(explicitRange(null, "2026-12-07T12:00:00Z")).toBeNull();
    expect(explicitRange("2026-12-07T11:00:00Z", "soon")).toBeNull();
    expect(explicitRange("2026-12-07T12:00:00Z", "2026-12-07T11:00:00Z")).toBeNull();
  });
});
