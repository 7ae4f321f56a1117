import { describe, expect, it } from "vitest";
import type { Experiment, RegisteredModel } from "./data";
import { aliasList, countText, cronHint, latest, recentModels, runsFromExperiments, scheduleTrigger, sortExperiments } from "./logic";

function exp(name: string, last: string | null, runs?: number, deleted = false): Experiment {
  return { id: name, project: "p", name, description: "", created_by: "me", created_at: "2026-01-01T00:00:00Z", deleted, last_run_at: last, run_count: runs };
}

function model(name: string, updated: string, aliases: Record<string, number | null> = {}): RegisteredModel {
  return { id: name, name, project: "p", description: "", created_by: "me", created_at: updated, updated_at: updated, aliases };
}

describe("project logic", () => {
  it("formats counts", () => {
    expect(countText(1234)).toBe("1,234");
    expect(countText(100, true)).toBe("100+");
    expect(countText(0)).toBe("0");
    expect(countText(undefined)).toBe("—");
  });

  it("finds the latest time", () => {
    expect(latest("2026-01-01T00:00:00Z", null, "2026-02-01T00:00:00Z", undefined)).toBe("2026-02-01T00:00:00Z");
    expect(latest(null, undefined)).toBeNull();
  });

  it("sorts experiments by last use and drops deleted ones", () => {
    const sorted = sortExperiments([exp("b", null), exp("old", "2026-01-01T00:00:00Z"), exp("a", null), exp("new", "2026-03-01T00:00:00Z"), exp("gone", "2027-01-01T00:00:00Z", 1, true)]);
    expect(sorted.map((e) => e.name)).toEqual(["new", "old", "a", "b"]);
  });

  it("sums run counts only when every experiment has one", () => {
    expect(runsFromExperiments([exp("a", null, 3), exp("b", null, 4), exp("c", null, 9, true)])).toBe(7);
    expect(runsFromExperiments([exp("a", null, 3), exp("b", null)])).toBeNull();
    expect(runsFromExperiments([])).toBe(0);
    expect(runsFromExperiments(undefined)).toBeNull();
  });

  it("lists recent models and their aliases", () => {
    const models = [model("a", "2026-01-01T00:00:00Z"), model("b", "2026-03-01T00:00:00Z", { prod: 2, champion: 1, gone: null }), model("c", "2026-02-01T00:00:00Z")];
    expect(recentModels(models, 2).map((m) => m.name)).toEqual(["b", "c"]);
    expect(aliasList(models[1])).toEqual([
      ["champion", 1],
      ["prod", 2],
    ]);
    expect(aliasList({})).toEqual([]);
  });

  it("describes schedule triggers", () => {
    expect(scheduleTrigger({ cron: "0 3 * * *", dataset: null, dataset_param: "data" })).toBe("cron 0 3 * * * (every day at 03:00 UTC)");
    expect(scheduleTrigger({ cron: null, dataset: "tx", dataset_param: "data" })).toBe("new version of tx → data");
    expect(cronHint("*/15 * * * *")).toBe(" (every 15 min)");
    expect(cronHint("@daily")).toBe(" (every day at 00:00 UTC)");
    expect(cronHint("0 3 * * 1")).toBe("");
    expect(cronHint("nonsense")).toBe("");
  });
});
