// Artifacts: the run's files as a tree beside a preview of the selected one (?path=).
import type { UseQueryResult } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { useSearchParams } from "react-router";
import type { ApiError } from "../../api/client";
import { ErrorMessage, Loading } from "../../components/ErrorMessage";
import { formatBytes } from "../../format";
import type { Artifact, Run } from "./api";
import { ArtifactPreview, FolderPreview } from "./ArtifactPreview";
import { ancestors, buildTree, findNode, visibleRows } from "./artifacts";
import { FileIcon, FolderIcon, ModelIcon } from "./icons";

/** Rows drawn in the tree at most (a folder of thousands of files: filter to narrow it). */
const MAX_ROWS = 1500;

export function ArtifactsTab({ run, artifacts }: { run: Run; artifacts: UseQueryResult<Artifact[], ApiError> }) {
  const [params, setParams] = useSearchParams();
  const selected = params.get("path") ?? "";
  const [filter, setFilter] = useState("");
  const files = artifacts.data;
  const tree = useMemo(() => buildTree(files ?? []), [files]);
  const [expanded, setExpanded] = useState<Set<string>>(() => new Set(ancestors(selected)));

  // open the folders above the selected file (also when it comes from a shared URL)
  useEffect(() => {
    if (!selected) return;
    setExpanded((old) => {
      const wanted = ancestors(selected).filter((p) => !old.has(p));
      return wanted.length ? new Set([...old, ...wanted]) : old;
    });
  }, [selected]);

  // a run with few top-level folders: open them all at first
  useEffect(() => {
    if (!files || selected) return;
    const top = tree.children.filter((c) => c.kind === "folder");
    if (top.length > 0 && tree.files <= 40) setExpanded((old) => (old.size ? old : new Set(top.map((c) => c.path))));
  }, [files, tree, selected]);

  const select = (path: string) =>
    setParams(
      (old) => {
        const next = new URLSearchParams(old);
        next.set("tab", "artifacts");
        if (path) next.set("path", path);
        else next.delete("path");
        return next;
      },
      { replace: false },
    );

  if (artifacts.error) return <ErrorMessage error={artifacts.error} what="artifacts" />;
  if (!files) return <Loading what="artifacts" />;
  if (files.length === 0) {
    return (
      <div className="panel run-empty" data-testid="artifacts-empty">
        <h2>No artifacts</h2>
        <p className="muted">
          Files logged with <code>run.log_artifact("report.html")</code> or a model logged with <code>dy.log_model(...)</code> show here.
        </p>
      </div>
    );
  }

  const allRows = visibleRows(tree, expanded, filter);
  const rows = allRows.slice(0, MAX_ROWS);
  const node = selected ? findNode(tree, selected) : null;
  const toggle = (path: string) =>
    setExpanded((old) => {
      const next = new Set(old);
      if (next.has(path)) next.delete(path);
      else next.add(path);
      return next;
    });

  return (
    <div className="run-artifacts" data-testid="artifacts-tab">
      <aside className="run-tree panel">
        <div className="run-tree-head">
          <input className="run-filter" type="search" placeholder="Filter files" value={filter} onChange={(e) => setFilter(e.target.value)} />
        </div>
        <div className="run-tree-summary muted small">
          {files.length} files · {formatBytes(tree.size)}
        </div>
        <ul className="run-tree-list" role="tree" data-testid="artifact-tree">
          {rows.map(({ node: n, depth }) => {
            const open = filter !== "" || expanded.has(n.path);
            const isSelected = n.path === selected;
            return (
              <li
                key={n.path}
                role="treeitem"
                aria-selected={isSelected}
                aria-expanded={n.kind === "folder" ? open : undefined}
                className={`run-tree-row${isSelected ? " selected" : ""}${n.kind === "folder" ? " folder" : ""}`}
                style={{ paddingLeft: 8 + depth * 16 }}
                data-path={n.path}
                onClick={() => {
                  if (n.kind === "folder") {
                    if (n.model) {
                      select(n.path);
                      if (!open) toggle(n.path);
                    } else toggle(n.path);
                  } else select(n.path);
                }}
              >
                <span
                  className="run-tree-caret"
                  onClick={(e) => {
                    if (n.kind !== "folder") return;
                    e.stopPropagation();
                    toggle(n.path);
                  }}
                >
                  {n.kind === "folder" ? (open ? "▾" : "▸") : ""}
                </span>
                <span className="run-tree-icon">{n.kind === "file" ? <FileIcon path={n.path} /> : n.model ? <ModelIcon /> : <FolderIcon open={open} />}</span>
                <span className="run-tree-name" title={n.path}>
                  {n.name}
                </span>
                {n.model && <span className="run-badge model">model</span>}
                <span className="run-tree-size">{n.kind === "folder" ? `${n.files}` : formatBytes(n.size)}</span>
              </li>
            );
          })}
          {rows.length === 0 && <li className="muted small run-tree-row">No file matches “{filter}”.</li>}
          {allRows.length > MAX_ROWS && (
            <li className="muted small run-tree-row">
              {(allRows.length - MAX_ROWS).toLocaleString("en-US")} more: filter to find them
            </li>
          )}
        </ul>
      </aside>
      <section className="run-preview panel" data-testid="artifact-preview">
        {!selected ? (
          <FolderPreview run={run} node={tree} onSelect={select} />
        ) : !node ? (
          <ErrorMessage error={new Error(`This run has no artifact ${selected}.`)} what="not found" />
        ) : node.kind === "folder" ? (
          <FolderPreview run={run} node={node} onSelect={select} />
        ) : (
          <ArtifactPreview run={run} artifact={node.file!} />
        )}
      </section>
    </div>
  );
}
