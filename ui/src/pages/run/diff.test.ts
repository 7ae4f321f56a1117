import { describe, expect, it } from "vitest";
import { parseDiff } from "./diff";

const GIT = `diff --git a/src/app.py b/src/app.py
index 0b871fb..19da4b1 100644
--- a/src/app.py
+++ b/src/app.py
@@ -10,4 +10,5 @@ def main():
     a = 1
-    b = 2
+    b = 3
+    c = 4
     return a
@@ -40,2 +41,2 @@ class X:
-x
+y
 z
diff --git a/new.txt b/new.txt
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ b/new.txt
@@ -0,0 +1,2 @@
+hello
+world
\\ No newline at end of file
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
diff --git a/img.png b/img.png
index 1..2 100644
GIT binary patch
literal 10
zcmV

diff --git a/a name.py b/b name.py
similarity index 90%
rename from a name.py
rename to b name.py
# untracked: notes/todo.md
# untracked: scratch.py
`;

describe("parseDiff", () => {
  const parsed = parseDiff(GIT);

  it("splits files with their paths and status", () => {
    expect(parsed.files.map((f) => [f.path, f.status])).toEqual([
      ["src/app.py", "modified"],
      ["new.txt", "added"],
      ["old.txt", "deleted"],
      ["img.png", "binary"],
      ["b name.py", "renamed"],
    ]);
    expect(parsed.files[4].oldPath).toBe("a name.py");
  });

  it("counts additions and deletions", () => {
    const app = parsed.files[0];
    expect([app.additions, app.deletions]).toEqual([3, 2]);
    expect([parsed.files[1].additions, parsed.files[1].deletions]).toEqual([2, 0]);
    expect([parsed.files[2].additions, parsed.files[2].deletions]).toEqual([0, 1]);
  });

  it("keeps hunks and numbers lines", () => {
    const app = parsed.files[0];
    expect(app.lines.filter((l) => l.kind === "hunk")).toHaveLength(2);
    expect(app.lines[1]).toEqual({ kind: "ctx", text: "     a = 1", oldNo: 10, newNo: 10 });
    expect(app.lines[2]).toEqual({ kind: "del", text: "-    b = 2", oldNo: 11 });
    expect(app.lines[3]).toEqual({ kind: "add", text: "+    b = 3", newNo: 11 });
    expect(app.lines[4]).toEqual({ kind: "add", text: "+    c = 4", newNo: 12 });
    expect(app.lines[5]).toEqual({ kind: "ctx", text: "     return a", oldNo: 12, newNo: 13 });
  });

  it("does not mistake the ---/+++ headers for changed lines", () => {
    for (const f of parsed.files) {
      expect(f.lines.some((l) => l.text.startsWith("--- ") || l.text.startsWith("+++ "))).toBe(false);
    }
    expect(parsed.files[1].lines.at(-1)?.kind).toBe("meta");
  });

  it("collects untracked files", () => {
    expect(parsed.untracked).toEqual(["notes/todo.md", "scratch.py"]);
  });

  it("reads a plain patch without git headers", () => {
    const plain = parseDiff("--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n--- a/y.py\n+++ b/y.py\n@@ -1 +1 @@\n-c\n+d\n");
    expect(plain.files.map((f) => [f.path, f.additions, f.deletions])).toEqual([
      ["x.py", 1, 1],
      ["y.py", 1, 1],
    ]);
  });

  it("handles an empty diff and CRLF", () => {
    expect(parseDiff("")).toEqual({ files: [], untracked: [] });
    const crlf = parseDiff("diff --git a/x b/x\r\n--- a/x\r\n+++ b/x\r\n@@ -1 +1 @@\r\n-a\r\n+b\r\n");
    expect(crlf.files[0].lines.map((l) => l.text)).toEqual(["@@ -1 +1 @@", "-a", "+b"]);
  });
});
