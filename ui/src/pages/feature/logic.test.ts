import { describe, expect, it } from "vitest";
import {
  asViewDefinition,
  datasetVersionHref,
  describeFeature,
  featureKind,
  featureValues,
  formatValue,
  freshness,
  lookupRows,
  parseDatasetRef,
  parseKeyValues,
} from "./logic";

// a definition as GET /projects/{p}/features/views/{v} returns it (canonical JSON)
const stored = {
  name: "card_activity",
  entities: [{ name: "card", keys: ["card_hash"] }],
  source: "transactions",
  timestamp: "ts",
  ttl: "30d",
  bucket: null,
  lateness: "2h",
  features: [
    { kind: "aggregate", name: "amount_sum_24h", column: "amount", fn: "sum", window: "24h", available_at: null },
    { kind: "aggregate", name: "frauds_known", column: "is_fraud", fn: "sum", window: "90d", available_at: "label_available_at" },
    { kind: "aggregate", name: "transactions_all", column: "transaction_id", fn: "count", window: null, available_at: null },
    { kind: "field", name: "last_amount", column: "amount" },
    { kind: "on_demand", name: "amount_vs_mean", inputs: ["amount", "card_activity:amount_mean_7d"], function: "fraud.features:amount_vs_mean", source_sha256: "ab" },
  ],
};

describe("asViewDefinition", () => {
  it("reads a stored definition", () => {
    const view = asViewDefinition(stored);
    expect(view.entities).toEqual([{ name: "card", keys: ["card_hash"] }]);
    expect(view.features.map((f) => f.kind)).toEqual(["aggregate", "aggregate", "aggregate", "field", "on_demand"]);
    expect([view.ttl, view.bucket, view.lateness]).toEqual(["30d", null, "2h"]);
  });

  it("survives a definition with missing or unknown parts", () => {
    const view = asViewDefinition({ name: "v", features: [{ kind: "embedding", name: "e" }, null] });
    expect(view.entities).toEqual([]);
    expect(view.source).toBe("");
    expect(view.features.map((f) => f.kind)).toEqual(["unknown", "unknown"]);
    expect(describeFeature(view.features[0])).toBe("a embedding this page does not know how to describe");
  });
});

describe("describeFeature", () => {
  const [sum24h, gated, countAll, last, onDemand] = asViewDefinition(stored).features;

  it("says what an aggregate computes over which window", () => {
    expect(describeFeature(sum24h, "30d")).toBe("sum of amount over 24h");
    expect(describeFeature(countAll)).toBe("count of transaction_id over all history");
  });

  it("names the time after which a gated event counts", () => {
    expect(describeFeature(gated)).toBe("sum of is_fraud over 90d, once label_available_at has passed");
  });

  it("says when a latest value expires", () => {
    expect(describeFeature(last, "30d")).toBe("latest value of amount, null once older than 30d");
    expect(describeFeature(last, null)).toBe("latest value of amount");
    const lastAggregate = asViewDefinition({ features: [{ kind: "aggregate", name: "x", column: "c", fn: "last", window: "7d" }] }).features[0];
    expect(describeFeature(lastAggregate, "1d")).toBe("latest value of c over 7d, null once older than 1d");
  });

  it("names the owner's function and inputs of an on-demand feature", () => {
    expect(describeFeature(onDemand)).toBe("computed by its owner's function fraud.features:amount_vs_mean from amount, card_activity:amount_mean_7d");
    const anonymous = asViewDefinition({ features: [{ kind: "on_demand", name: "x", inputs: ["a"] }] }).features[0];
    expect(describeFeature(anonymous)).toBe("computed by its owner's function from a");
  });

  it("words every aggregation function", () => {
    const words = ["count", "sum", "mean", "min", "max", "last", "distinct_count"].map((fn) =>
      describeFeature(asViewDefinition({ features: [{ kind: "aggregate", name: "x", column: "c", fn, window: "1h" }] }).features[0]),
    );
    expect(words).toEqual([
      "count of c over 1h",
      "sum of c over 1h",
      "mean of c over 1h",
      "minimum of c over 1h",
      "maximum of c over 1h",
      "latest value of c over 1h",
      "number of distinct values of c over 1h",
    ]);
  });
});

describe("featureKind and featureValues", () => {
  it("name the kind and the values of each feature", () => {
    const features = asViewDefinition(stored).features;
    expect(features.map(featureKind)).toEqual(["aggregate", "aggregate", "aggregate", "field", "on-demand"]);
    expect(features.map(featureValues)).toEqual(["float", "float", "integer", "as column amount", "what fraud.features:amount_vs_mean returns"]);
  });
});

describe("freshness", () => {
  const now = Date.parse("2026-03-01T12:00:00Z");
  const materialization = { view_version: 2, source_version: 1, events: 10, finished_by: "me", finished_at: "2026-03-01T11:00:00Z" };

  it("says how old the newest online event is and how many are online", () => {
    const online = { events: 1203, newest_event_at: "2026-03-01T11:55:00Z", accepts_from: "2026-03-01T09:55:00Z", parts: 2 };
    expect(freshness({ online, materialization }, now)).toBe("newest event 5 min ago (2026-03-01 11:55:00) · 1,203 events online");
    expect(freshness({ online: { ...online, events: 1, newest_event_at: null } }, now)).toBe("1 event online");
  });

  it("says when a view was never materialized", () => {
    expect(freshness({ online: null, materialization: null }, now)).toBe("not materialized");
    expect(freshness({}, now)).toBe("not materialized");
    expect(freshness({ online: null, materialization }, now)).toBe("materialized, nothing online");
  });
});

describe("dataset references", () => {
  it("parses project/name@version", () => {
    expect(parseDatasetRef("fraud/card_labels@1")).toEqual({ project: "fraud", dataset: "card_labels", version: "1" });
    expect(parseDatasetRef("a table in memory")).toBeNull();
    expect(parseDatasetRef("fraud/x@latest")).toBeNull();
  });

  it("links a dataset version's page", () => {
    expect(datasetVersionHref("fraud", "card training", 2)).toBe("/datasets/fraud/card%20training?version=2");
  });
});

describe("parseKeyValues", () => {
  it("splits on commas and lines, trims and drops empties", () => {
    expect(parseKeyValues(" a1, b2\n\nc3 ,", "string")).toEqual(["a1", "b2", "c3"]);
    expect(parseKeyValues("")).toEqual([]);
  });

  it("sends numbers for a numeric key column and leaves other text alone", () => {
    expect(parseKeyValues("1, 2.5, x", "int64")).toEqual([1, 2.5, "x"]);
    expect(parseKeyValues("007", "string")).toEqual(["007"]);
    expect(parseKeyValues("7", undefined)).toEqual(["7"]);
  });
});

describe("lookupRows and formatValue", () => {
  it("turns the columns of a lookup into one row per entity", () => {
    const values = { at: "2026-03-01T12:00:00Z", columns: { card_hash: ["a", "b"], amount_sum_24h: [12.5, null], transactions_all: [3, 0] } };
    expect(lookupRows(values)).toEqual({
      columns: ["card_hash", "amount_sum_24h", "transactions_all"],
      rows: [
        ["a", 12.5, 3],
        ["b", null, 0],
      ],
    });
    expect(lookupRows({ at: "", columns: {} })).toEqual({ columns: [], rows: [] });
  });

  it("formats values", () => {
    expect([null, undefined, 1234.5, true, "x"].map(formatValue)).toEqual(["null", "null", "1234.5", "true", "x"]);
  });
});
