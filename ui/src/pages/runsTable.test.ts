import { describe, expect, it } from "vitest";
import {
  DEFAULT_ORDER,
  defaultColumns,
  fieldOf,
  filterKeys,
  formatColumns,
  idsBetween,
  keyColumnWidth,
  keysOfRuns,
  locate,
  nextOrder,
  pagesFor,
  parseColumns,
  parseOrder,
  provisionalTotal,
  readView,
  scopedQuery,
  toggleColumn,
  userQueryError,
  writeView,
} from "./runsTable";

describe("the runs view in the URL", () => {
  it("reads defaults from an empty URL and writes them back as nothing", () => {
    const view = readView(new URLSearchParams(""));
    expect(view).toEqual({ project: "", experiment: "", q: "", order: DEFAULT_ORDER, cols: null, children: false });
    expect(writeView(view).toString()).toBe("");
  });

  it("round-trips scope, query, sort and columns", () => {
    const params = new URLSearchParams();
    params.set("project", "fraud");
    params.set("experiment", "baseline");
    params.set("q", "metrics.auc > 0.9 AND params.`opt.lr` < 0.1");
    params.set("order", "metrics.auc DESC");
    params.set("cols", "metrics.auc,params.opt.lr,tags.team");
    params.set("children", "1");
    const view = readView(params);
    expect(view.cols).toEqual([
      { kind: "metrics", key: "auc" },
      { kind: "params", key: "opt.lr" },
      { kind: "tags", key: "team" },
    ]);
    expect(readView(writeView(view))).toEqual(view);
  });

  it("an empty cols is no columns, not the defaults", () => {
    expect(readView(new URLSearchParams("cols=")).cols).toEqual([]);
  });
});

describe("columns", () => {
  it("parses keys with dots, drops unknown kinds and repeats", () => {
    expect(parseColumns("metrics.a.b,bogus.x,params.,metrics.a.b,tags.t")).toEqual([
      { kind: "metrics", key: "a.b" },
      { kind: "tags", key: "t" },
    ]);
    expect(formatColumns(parseColumns("metrics.auc,params.lr"))).toBe("metrics.auc,params.lr");
  });

  it("defaults to a few metrics then a few params", () => {
    const cols = defaultColumns({ metrics: ["acc", "auc", "f1", "loss"], params: ["lr"] });
    expect(formatColumns(cols)).toBe("metrics.acc,metrics.auc,metrics.f1,params.lr");
  });

  it("sizes key columns to their header, within limits", () => {
    expect(keyColumnWidth({ kind: "metrics", key: "f1" })).toBe(110);
    expect(keyColumnWidth({ kind: "metrics", key: "accuracy" })).toBe(154);
    expect(keyColumnWidth({ kind: "params", key: "x".repeat(200) })).toBe(260);
  });

  it("finds the keys of loaded runs", () => {
    const runs: { params?: Record<string, string>; metrics?: Record<string, number> }[] = [
      { params: { lr: "1", depth: "2" }, metrics: { loss: 1 } },
      { params: { opt: "adam" } },
      {},
    ];
    expect(keysOfRuns(runs)).toEqual({ metrics: ["loss"], params: ["depth", "lr", "opt"] });
  });

  it("toggles a column on and off, keeping the order", () => {
    const cols = parseColumns("metrics.auc,params.lr");
    expect(formatColumns(toggleColumn(cols, { kind: "tags", key: "team" }))).toBe("metrics.auc,params.lr,tags.team");
    expect(formatColumns(toggleColumn(cols, { kind: "metrics", key: "auc" }))).toBe("params.lr");
  });

  it("finds keys by every word typed", () => {
    const keys = ["train/loss", "val/loss", "val/auc", "lr"];
    expect(filterKeys(keys, "")).toEqual(keys);
    expect(filterKeys(keys, "LOSS")).toEqual(["train/loss", "val/loss"]);
    expect(filterKeys(keys, "val loss")).toEqual(["val/loss"]);
  });

  it("names columns in the search language, quoting keys that need it", () => {
    expect(fieldOf({ kind: "metrics", key: "auc" })).toBe("metrics.auc");
    expect(fieldOf({ kind: "params", key: "opt.lr" })).toBe("params.`opt.lr`");
    expect(fieldOf({ kind: "metrics", key: "train/loss" })).toBe("metrics.`train/loss`");
    expect(fieldOf({ kind: "tags", key: "my-tag" })).toBe("tags.my-tag");
  });
});

describe("sorting", () => {
  it("parses an order clause", () => {
    expect(parseOrder("metrics.auc DESC")).toEqual({ field: "metrics.auc", descending: true });
    expect(parseOrder("name asc, start_time DESC")).toEqual({ field: "name", descending: false });
    expect(parseOrder("params.`a b` DESC")).toEqual({ field: "params.`a b`", descending: true });
    expect(parseOrder("")).toEqual({ field: "start_time", descending: true });
    expect(parseOrder("user")).toEqual({ field: "user", descending: false });
  });

  it("a click sorts a new column its natural way and flips the current one", () => {
    expect(nextOrder("start_time DESC", "metrics.auc", true)).toBe("metrics.auc DESC");
    expect(nextOrder("start_time DESC", "name", false)).toBe("name ASC");
    expect(nextOrder("metrics.auc DESC", "metrics.auc", true)).toBe("metrics.auc ASC");
    expect(nextOrder("metrics.auc ASC", "metrics.auc", true)).toBe("metrics.auc DESC");
    expect(nextOrder("", "start_time", true)).toBe("start_time ASC");
  });
});

describe("the query sent and its errors", () => {
  it("limits to top-level runs unless child runs are shown", () => {
    expect(scopedQuery("", false)).toBe("parent_id IS NULL");
    expect(scopedQuery("  a = 1 OR b = 2 ", false)).toBe("(a = 1 OR b = 2) AND parent_id IS NULL");
    expect(scopedQuery(" a = 1 ", true)).toBe("a = 1");
    expect(scopedQuery("", true)).toBe("");
  });

  it("maps an error position back to the text typed", () => {
    const q = "metrics.auc >> 3";
    const sent = scopedQuery(q, false);
    const message = `unknown operator '>>' at position 13: expected =, !=, <, <=, > or >=\n  ${sent}\n               ^`;
    expect(userQueryError(message, 13, q, false)).toEqual({
      message: "unknown operator '>>' at position 12: expected =, !=, <, <=, > or >=",
      position: 12,
    });
    expect(userQueryError("bad at position 12", 12, q, true).position).toBe(12);
    // leading spaces are trimmed before sending: the caret still lands under the typed text
    expect(userQueryError("x", 13, `  ${q}`, false).position).toBe(14);
    // an error in the part the page added (an unclosed parenthesis) points at the end
    expect(userQueryError("x", 40, "(a = 1", false).position).toBe(6);
  });
});

describe("the virtual table's pages", () => {
  it("lists the pages holding a range of rows", () => {
    expect(pagesFor(0, 30, 100_000, 100)).toEqual([0]);
    expect(pagesFor(90, 130, 100_000, 100)).toEqual([0, 1]);
    expect(pagesFor(49_990, 50_020, 100_000, 100)).toEqual([499, 500]);
    expect(pagesFor(99_990, 100_050, 100_000, 100)).toEqual([999]);
    expect(pagesFor(0, 10, 0, 100)).toEqual([]);
    expect(pagesFor(5, 4, 100, 100)).toEqual([]);
  });

  it("locates a row in its page", () => {
    expect(locate(0, 100)).toEqual({ page: 0, slot: 0 });
    expect(locate(12_345, 100)).toEqual({ page: 123, slot: 45 });
  });

  it("counts the rows the first page shows until the count arrives", () => {
    expect(provisionalTotal(undefined)).toBe(0);
    expect(provisionalTotal({ items: [1, 2, 3], next_cursor: null })).toBe(3);
    expect(provisionalTotal({ items: new Array(100).fill(0), next_cursor: "abc" })).toBe(101);
  });

  it("selects the loaded rows of a range, either way", () => {
    const ids: Record<number, string> = { 3: "c", 4: "d", 6: "f" };
    expect(idsBetween(6, 3, (i) => ids[i])).toEqual(["c", "d", "f"]);
    expect(idsBetween(3, 3, (i) => ids[i])).toEqual(["c"]);
  });
});
