import { describe, expect, it } from "vitest";
import { type ArtifactFile, ancestors, buildTree, findNode, previewKind, visibleRows } from "./artifacts";

const f = (path: string, size = 10, media_type = "application/octet-stream"): ArtifactFile => ({ path, size, media_type, digest: "d" });

const FILES = [
  f("notes.txt", 5),
  f("model/model.json", 100),
  f("model/model.skops", 1000),
  f("model/extra/vocab.txt", 7),
  f("dockyard/output.log", 20),
  f("a.csv", 3),
  f("reports/2024/q1/summary.html", 50),
];

describe("buildTree", () => {
  const root = buildTree(FILES);

  it("puts folders first, then files, each by name", () => {
    expect(root.children.map((c) => c.name)).toEqual(["dockyard", "model", "reports", "a.csv", "notes.txt"]);
  });

  it("sums sizes and counts files per folder", () => {
    expect(root.size).toBe(1185);
    expect(root.files).toBe(7);
    const model = root.children[1];
    expect([model.size, model.files]).toEqual([1107, 3]);
  });

  it("marks folders holding a model.json as models", () => {
    expect(root.children.find((c) => c.name === "model")?.model).toBe(true);
    expect(root.children.find((c) => c.name === "dockyard")?.model).toBe(false);
  });

  it("nests deep paths and finds nodes", () => {
    expect(findNode(root, "reports/2024/q1/summary.html")?.size).toBe(50);
    expect(findNode(root, "reports/2024/")?.kind).toBe("folder");
    expect(findNode(root, "nope.txt")).toBeNull();
    expect(findNode(root, "nope/x.txt")).toBeNull();
    expect(findNode(root, "")).toBe(root);
  });

  it("handles no files", () => {
    expect(buildTree([]).children).toEqual([]);
  });
});

describe("tree rows", () => {
  const root = buildTree(FILES);

  it("shows the children of expanded folders only", () => {
    const rows = visibleRows(root, new Set(["model/"]));
    expect(rows.map((r) => `${r.depth}:${r.node.name}`)).toEqual([
      "0:dockyard",
      "0:model",
      "1:extra",
      "1:model.json",
      "1:model.skops",
      "0:reports",
      "0:a.csv",
      "0:notes.txt",
    ]);
  });

  it("a filter opens every folder with a match and hides the rest", () => {
    const rows = visibleRows(root, new Set(), "summary");
    expect(rows.map((r) => r.node.name)).toEqual(["reports", "2024", "q1", "summary.html"]);
  });

  it("lists a path's ancestors", () => {
    expect(ancestors("a/b/c.txt")).toEqual(["a/", "a/b/"]);
    expect(ancestors("a/b/")).toEqual(["a/", "a/b/"]);
    expect(ancestors("c.txt")).toEqual([]);
  });
});

describe("previewKind", () => {
  it("goes by extension", () => {
    expect(previewKind("x/notes.txt")).toBe("text");
    expect(previewKind("dockyard/output.log", "application/octet-stream")).toBe("text");
    expect(previewKind("config.json")).toBe("json");
    expect(previewKind("roc.PNG")).toBe("image");
    expect(previewKind("p.parquet")).toBe("table");
    expect(previewKind("s.csv")).toBe("table");
    expect(previewKind("s.tsv")).toBe("table");
    expect(previewKind("s.csv.gz", "application/gzip")).toBe("table");
    expect(previewKind("s.tar.gz", "application/gzip")).toBe("binary");
    expect(previewKind("r.html")).toBe("html");
    expect(previewKind("dockyard/git.diff")).toBe("diff");
  });

  it("falls back to the media type, then to a download", () => {
    expect(previewKind("README", "text/plain")).toBe("text");
    expect(previewKind("pic", "image/jpeg")).toBe("image");
    expect(previewKind("data", "application/vnd.apache.parquet")).toBe("table");
    expect(previewKind("weights.bin", "application/octet-stream")).toBe("binary");
    expect(previewKind("model.skops")).toBe("binary");
  });
});
