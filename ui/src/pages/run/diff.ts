// A git diff (as the SDK stores it in dockyard/git.diff) split into files and hunks.

export type LineKind = "add" | "del" | "ctx" | "hunk" | "meta";

export interface DiffLine {
  kind: LineKind;
  text: string;
  /** Line numbers in the old and new file (context and changed lines only). */
  oldNo?: number;
  newNo?: number;
}

export interface DiffFile {
  /** The path after the change (before it, for a deleted file). */
  path: string;
  oldPath: string;
  status: "modified" | "added" | "deleted" | "renamed" | "binary";
  additions: number;
  deletions: number;
  lines: DiffLine[];
}

export interface ParsedDiff {
  files: DiffFile[];
  /** Files git does not track yet (the SDK appends them as "# untracked: PATH"). */
  untracked: string[];
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

function stripPrefix(path: string): string {
  const p = path.trim().replace(/^"(.*)"$/, "$1");
  return p.startsWith("a/") || p.startsWith("b/") ? p.slice(2) : p;
}

/** Paths from a "diff --git a/X b/Y" header (X and Y may contain spaces but not " b/"). */
function headerPaths(line: string): [string, string] {
  const rest = line.slice("diff --git ".length);
  const split = rest.indexOf(" b/");
  if (split < 0) return [stripPrefix(rest), stripPrefix(rest)];
  return [stripPrefix(rest.slice(0, split)), stripPrefix(rest.slice(split + 1))];
}

/** Files, hunks and +/- lines of a unified diff; tolerant of anything it does not know. */
export function parseDiff(text: string): ParsedDiff {
  const files: DiffFile[] = [];
  const untracked: string[] = [];
  let file: DiffFile | null = null;
  let oldNo = 0;
  let newNo = 0;
  let inHunk = false;
  // lines of the current hunk still to come, from its header (a hunk ends when both are 0)
  let oldLeft = 0;
  let newLeft = 0;

  const start = (oldPath: string, path: string): DiffFile => {
    const made: DiffFile = { path, oldPath, status: "modified", additions: 0, deletions: 0, lines: [] };
    files.push(made);
    inHunk = false;
    return made;
  };

  const lines = text.split("\n");
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  for (const raw of lines) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.startsWith("# untracked: ")) {
      untracked.push(line.slice("# untracked: ".length));
      inHunk = false;
      continue;
    }
    if (line.startsWith("diff --git ")) {
      const [a, b] = headerPaths(line);
      file = start(a, b);
      continue;
    }
    if (!inHunk && line.startsWith("--- ") && (file === null || file.lines.some((l) => l.kind === "hunk"))) {
      // a plain patch without "diff --git" headers, or the next file of one
      file = start(stripPrefix(line.slice(4)), stripPrefix(line.slice(4)));
    }
    if (file === null) continue;
    const hunk = HUNK.exec(line);
    if (hunk) {
      oldNo = Number(hunk[1]);
      newNo = Number(hunk[3]);
      oldLeft = hunk[2] === undefined ? 1 : Number(hunk[2]);
      newLeft = hunk[4] === undefined ? 1 : Number(hunk[4]);
      inHunk = true;
      file.lines.push({ kind: "hunk", text: line });
      continue;
    }
    if (line.startsWith("\\") && file.lines.length > 0) {
      file.lines.push({ kind: "meta", text: line });
      continue;
    }
    if (inHunk) {
      if (line.startsWith("+") && newLeft > 0) {
        file.additions += 1;
        newLeft -= 1;
        file.lines.push({ kind: "add", text: line, newNo: newNo++ });
      } else if (line.startsWith("-") && oldLeft > 0) {
        file.deletions += 1;
        oldLeft -= 1;
        file.lines.push({ kind: "del", text: line, oldNo: oldNo++ });
      } else if ((line.startsWith(" ") || line === "") && oldLeft > 0 && newLeft > 0) {
        oldLeft -= 1;
        newLeft -= 1;
        file.lines.push({ kind: "ctx", text: line, oldNo: oldNo++, newNo: newNo++ });
      } else {
        inHunk = false;
      }
      if (inHunk) {
        if (oldLeft <= 0 && newLeft <= 0) inHunk = false;
        continue;
      }
    }
    // headers between "diff --git" and the first hunk
    if (line.startsWith("new file mode")) file.status = "added";
    else if (line.startsWith("deleted file mode")) file.status = "deleted";
    else if (line.startsWith("rename from ")) {
      file.oldPath = line.slice("rename from ".length);
      file.status = "renamed";
    } else if (line.startsWith("rename to ")) {
      file.path = line.slice("rename to ".length);
      file.status = "renamed";
    } else if (line.startsWith("Binary files") || line === "GIT binary patch") file.status = "binary";
    else if (line.startsWith("--- ")) {
      const p = line.slice(4);
      if (p !== "/dev/null") file.oldPath = stripPrefix(p);
    } else if (line.startsWith("+++ ")) {
      const p = line.slice(4);
      if (p !== "/dev/null") file.path = stripPrefix(p);
      else file.path = file.oldPath;
    }
  }
  for (const f of files) {
    if (f.status === "binary") f.lines = f.lines.filter((l) => l.kind !== "meta");
  }
  return { files, untracked };
}
