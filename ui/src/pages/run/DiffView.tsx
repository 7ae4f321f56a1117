// A parsed git diff: a summary of the files, then each file with its hunks coloured.
import { useState } from "react";
import type { DiffFile, ParsedDiff } from "./diff";

const MAX_LINES = 2000;

function FileDiff({ file, open: initiallyOpen }: { file: DiffFile; open: boolean }) {
  const [open, setOpen] = useState(initiallyOpen);
  const [all, setAll] = useState(false);
  const lines = all ? file.lines : file.lines.slice(0, MAX_LINES);
  return (
    <div className="run-diff-file" data-testid="diff-file" id={`diff-${file.path}`}>
      <button type="button" className="run-diff-file-head" onClick={() => setOpen(!open)} aria-expanded={open}>
        <span className="run-diff-caret">{open ? "▾" : "▸"}</span>
        <span className="mono run-diff-path">
          {file.status === "renamed" ? `${file.oldPath} → ${file.path}` : file.path}
        </span>
        {file.status !== "modified" && <span className={`run-badge diff-${file.status}`}>{file.status}</span>}
        <span className="spacer" />
        <span className="run-diff-count add">+{file.additions}</span>
        <span className="run-diff-count del">−{file.deletions}</span>
      </button>
      {open && (
        <div className="run-diff-body">
          {file.status === "binary" && file.lines.length === 0 ? (
            <div className="muted small run-diff-note">binary file changed</div>
          ) : (
            <table className="run-diff-table">
              <tbody>
                {lines.map((line, i) => (
                  <tr key={i} className={`run-diff-row-${line.kind}`}>
                    <td className="run-diff-no">{line.kind === "hunk" ? "…" : (line.oldNo ?? "")}</td>
                    <td className="run-diff-no">{line.kind === "hunk" ? "…" : (line.newNo ?? "")}</td>
                    <td className="run-diff-text">
                      <span className={line.kind === "hunk" ? "diff-hunk" : line.kind === "add" ? "diff-add" : line.kind === "del" ? "diff-del" : undefined}>
                        {line.text || " "}
                      </span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {!all && file.lines.length > MAX_LINES && (
            <button type="button" className="run-more" onClick={() => setAll(true)}>
              Show all {file.lines.length.toLocaleString("en-US")} lines
            </button>
          )}
        </div>
      )}
    </div>
  );
}

export function DiffView({ diff }: { diff: ParsedDiff }) {
  const additions = diff.files.reduce((s, f) => s + f.additions, 0);
  const deletions = diff.files.reduce((s, f) => s + f.deletions, 0);
  return (
    <div className="run-diff" data-testid="diff">
      <div className="run-diff-summary">
        <strong>{diff.files.length}</strong> {diff.files.length === 1 ? "file" : "files"} changed
        <span className="run-diff-count add">+{additions}</span>
        <span className="run-diff-count del">−{deletions}</span>
        {diff.untracked.length > 0 && <span className="muted">· {diff.untracked.length} untracked</span>}
      </div>
      {diff.files.map((file, i) => (
        <FileDiff key={`${file.path}-${i}`} file={file} open={diff.files.length <= 12 || i < 6} />
      ))}
      {diff.untracked.length > 0 && (
        <div className="run-diff-file">
          <div className="run-diff-file-head static">
            <span className="mono">Untracked files</span>
            <span className="muted small">not in the diff: git does not track them yet</span>
          </div>
          <ul className="run-untracked mono">
            {diff.untracked.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
