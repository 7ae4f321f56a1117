// Code: the git commit, branch, remote and dirty flag the SDK recorded, and the uncommitted diff.
import type { UseQueryResult } from "@tanstack/react-query";
import { useMemo } from "react";
import { Link } from "react-router";
import type { ApiError } from "../../api/client";
import { ErrorMessage, Loading } from "../../components/ErrorMessage";
import { KeyValue } from "../../components/KeyValue";
import type { Schemas } from "../../api/client";
import { useGet } from "../../api/hooks";
import { type Artifact, type Run, normalizeRun, runPath, useArtifactText } from "./api";
import { DownloadLink } from "./ArtifactPreview";
import { parseDiff } from "./diff";
import { DiffView } from "./DiffView";

export const DIFF_PATH = "dockyard/git.diff";

/** A browsable https URL of a commit on a known forge, from the remote's URL. */
export function commitUrl(remote: string, commit: string): string | null {
  let m = /^git@([^:]+):(.+?)(?:\.git)?$/.exec(remote.trim());
  let host: string;
  let repo: string;
  if (m) {
    host = m[1];
    repo = m[2];
  } else {
    m = /^(?:https?|ssh|git):\/\/(?:[^@/]+@)?([^/:]+)(?::\d+)?\/(.+?)(?:\.git)?\/?$/.exec(remote.trim());
    if (!m) return null;
    host = m[1];
    repo = m[2];
  }
  if (host.includes("github")) return `https://${host}/${repo}/commit/${commit}`;
  if (host.includes("gitlab")) return `https://${host}/${repo}/-/commit/${commit}`;
  if (host.includes("bitbucket")) return `https://${host}/${repo}/commits/${commit}`;
  return null;
}

/**
 * For a child run (a pipeline step, usually): a link to its parent's tab when the parent
 * recorded what this run lacks (`has` decides from the parent and its artifacts).
 */
export function StepHint({ run, what, tab, has }: { run: Run; what: string; tab: string; has: (parent: Run, files: Artifact[]) => boolean }) {
  const parentId = run.parent_id ?? null;
  const parent = useGet<Schemas["Run"]>(parentId ? runPath(parentId) : null, {}, { staleTime: 60_000, retry: false });
  const files = useGet<Artifact[]>(parentId ? `${runPath(parentId)}/artifacts` : null, {}, { staleTime: 60_000, retry: false });
  if (!parentId || !parent.data || !files.data) return null;
  const step = Boolean(run.tags["dockyard.pipeline.step"]);
  if (!has(normalizeRun(parent.data), files.data)) {
    return <p className="muted">{step ? `Its pipeline run recorded no ${what} either.` : `Its parent run recorded no ${what} either.`}</p>;
  }
  return (
    <p className="run-hint">
      {step ? "This run is a pipeline step: " : "This is a child run: "}
      its {what} was recorded on its {step ? "pipeline" : "parent"} run.{" "}
      <Link to={`/runs/${encodeURIComponent(parentId)}?tab=${tab}`} data-testid="parent-hint">
        Open the parent’s {what} →
      </Link>
    </p>
  );
}

function Diff({ run, artifact }: { run: Run; artifact: Artifact }) {
  const text = useArtifactText(run.id, artifact, 10 * 1024 * 1024);
  const diff = useMemo(() => (text.data ? parseDiff(text.data.text) : null), [text.data]);
  if (text.error) return <ErrorMessage error={text.error} what="the diff" />;
  if (!diff) return <Loading what="the diff" />;
  if (diff.files.length === 0 && diff.untracked.length === 0) return <p className="muted">The working tree had no uncommitted change.</p>;
  return <DiffView diff={diff} />;
}

export function CodeTab({ run, artifacts }: { run: Run; artifacts: UseQueryResult<Artifact[], ApiError> }) {
  const t = run.tags;
  const commit = t["dockyard.git.commit"];
  const branch = t["dockyard.git.branch"];
  const remote = t["dockyard.git.remote"];
  const dirty = t["dockyard.git.dirty"];
  const command = t["dockyard.command"];
  const diffFile = artifacts.data?.find((a) => a.path === DIFF_PATH);
  const link = commit && remote ? commitUrl(remote, commit) : null;

  if (!commit) {
    return (
      <div className="panel run-empty" data-testid="code-empty">
        <h2>No code recorded</h2>
        <p className="muted">
          The SDK records the git commit, branch, remote and uncommitted diff when a run starts inside a git repository
          (<code>dy.Capture(git=True)</code>, the default).
        </p>
        <StepHint run={run} what="code" tab="code" has={(parent) => Boolean(parent.tags["dockyard.git.commit"])} />
        {command && (
          <KeyValue rows={[["command", <code key="c">{command}</code>]]} />
        )}
      </div>
    );
  }

  return (
    <div data-testid="code-tab">
      <section className="panel">
        <h2>Source</h2>
        <KeyValue
          rows={[
            [
              "commit",
              <span key="commit" data-testid="git-commit">
                {link ? (
                  <a href={link} target="_blank" rel="noreferrer">
                    {commit}
                  </a>
                ) : (
                  commit
                )}
              </span>,
            ],
            ["branch", branch ?? "—"],
            ["remote", remote ?? <span className="muted">none</span>],
            [
              "working tree",
              dirty === "true" ? (
                <span className="status status-pending" data-testid="git-dirty">
                  uncommitted changes
                </span>
              ) : (
                <span className="status status-finished" data-testid="git-dirty">
                  clean
                </span>
              ),
            ],
            ...(command ? ([["command", <code key="c">{command}</code>]] as [string, React.ReactNode][]) : []),
          ]}
        />
      </section>
      <section className="panel">
        <div className="run-panel-head">
          <h2>Uncommitted changes</h2>
          <span className="spacer" />
          {diffFile && <DownloadLink runId={run.id} path={DIFF_PATH}>git.diff</DownloadLink>}
        </div>
        {artifacts.isPending ? (
          <Loading what="artifacts" />
        ) : diffFile ? (
          <Diff run={run} artifact={diffFile} />
        ) : (
          <p className="muted">{dirty === "true" ? "The diff was not stored." : "None: the run started from a clean checkout of this commit."}</p>
        )}
      </section>
    </div>
  );
}
