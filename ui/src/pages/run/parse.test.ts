import { describe, expect, it } from "vitest";
import { lineageRef, parseDelimited, parsePackage, stripAnsi, terminalText } from "./parse";

describe("parseDelimited", () => {
  it("reads a header and rows with quoted fields", () => {
    const out = parseDelimited('id,name,note\n1,"Smith, J","said ""hi"""\n2,Lee,\n');
    expect(out.header).toEqual(["id", "name", "note"]);
    expect(out.rows).toEqual([
      ["1", "Smith, J", 'said "hi"'],
      ["2", "Lee", ""],
    ]);
    expect(out.more).toBe(false);
  });

  it("reads TSV and CRLF, and a last line without a newline", () => {
    const out = parseDelimited("a\tb\r\n1\t2\r\n3\t4", "\t");
    expect(out.rows).toEqual([
      ["1", "2"],
      ["3", "4"],
    ]);
  });

  it("stops at the limit and says there is more", () => {
    const text = `x\n${Array.from({ length: 50 }, (_, i) => i).join("\n")}\n`;
    const out = parseDelimited(text, ",", 10);
    expect(out.rows).toHaveLength(10);
    expect(out.more).toBe(true);
  });

  it("drops a line cut off by a truncated download", () => {
    const out = parseDelimited("a,b\n1,2\n3,", ",", 100, true);
    expect(out.rows).toEqual([["1", "2"]]);
    expect(out.more).toBe(true);
  });

  it("handles empty text", () => {
    expect(parseDelimited("")).toEqual({ header: [], rows: [], more: false });
  });
});

describe("parsePackage", () => {
  it("splits name and version", () => {
    expect(parsePackage("numpy==2.1.0")).toEqual({ name: "numpy", version: "2.1.0" });
    expect(parsePackage("Flask==3.1.3")).toEqual({ name: "Flask", version: "3.1.3" });
    expect(parsePackage("mypkg @ file:///x")).toEqual({ name: "mypkg", version: "file:///x" });
    expect(parsePackage("bare")).toEqual({ name: "bare", version: "" });
  });
});

describe("log text", () => {
  it("removes ANSI codes", () => {
    expect(stripAnsi("\u001b[31merror\u001b[0m done")).toBe("error done");
  });

  it("keeps the last state of carriage-return progress bars", () => {
    expect(terminalText("start\n 10%\r 50%\r100%\nend")).toBe("start\n100%\nend");
    expect(terminalText("a\r\nb")).toBe("a\nb");
  });
});

describe("lineageRef", () => {
  it("links dataset versions", () => {
    expect(lineageRef("dataset_version", "fraud/transactions@3")).toEqual({
      kind: "dataset",
      project: "fraud",
      name: "transactions",
      version: 3,
      href: "/datasets/fraud/transactions?version=3",
    });
  });

  it("links model versions", () => {
    expect(lineageRef("model_version", "fraud-detector/v12")).toEqual({
      kind: "model",
      name: "fraud-detector",
      version: 12,
      href: "/models/fraud-detector?version=12",
    });
  });

  it("leaves unknown kinds unlinked", () => {
    expect(lineageRef("feature_view", "x")).toEqual({ kind: "other", href: null });
  });
});
