// Logs: the run's printed output (dockyard/output.log), re-read every few seconds while the
// run is running, optionally following its end.
import { useQuery, type UseQueryResult } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState } from "react";
import { Link } from "react-router";
import type { ApiError } from "../../api/client";
import { ErrorMessage, Loading } from "../../components/ErrorMessage";
import { formatBytes, formatTime } from "../../format";
import { type Artifact, POLL_MS, type Run, decodeText, fetchTail } from "./api";
import { DownloadLink } from "./ArtifactPreview";
import { StepHint } from "./CodeTab";
import { terminalText } from "./parse";

export const LOG_PATH = "dockyard/output.log";
const TAIL_BYTES = 2 * 1024 * 1024;
const HIGHLIGHT_LINES = 20_000;
const BAD = /\b(error|exception|traceback|fatal|failed)\b/i;
const WARN = /\bwarn(ing)?\b/i;

/** The last lines of a failed run's output, where the reason usually is. */
export function FailureTail({ run, artifacts }: { run: Run; artifacts: UseQueryResult<Artifact[], ApiError> }) {
  const file = artifacts.data?.find((a) => a.path === LOG_PATH);
  const log = useQuery<string, ApiError>({
    queryKey: ["run-log-tail", run.id, file?.digest],
    queryFn: async ({ signal }) => terminalText(decodeText((await fetchTail(run.id, LOG_PATH, 64 * 1024, signal)).bytes)),
    enabled: Boolean(file),
    staleTime: Infinity,
  });
  const lines = (log.data ?? "").replace(/\n+$/, "").split("\n").slice(-TAIL_LINES);
  return (
    <section className="panel run-failure" data-testid="run-failure">
      <h2>
        The run {run.status === "killed" ? "was killed" : "failed"}
        {run.end_time ? <span className="muted small">at {formatTime(run.end_time)} UTC</span> : null}
      </h2>
      {!file ? (
        <p className="muted">It recorded no output to tell why.</p>
      ) : log.error ? (
        <ErrorMessage error={log.error} what="the log" />
      ) : log.data === undefined ? (
        <Loading what="the end of its output" />
      ) : (
        <>
          <p className="muted small">
            {lines.length === 1 ? "The last line" : `The last ${lines.length} lines`} of its output — <Link to="?tab=logs">see the whole log</Link>
          </p>
          <pre className="run-text">
            <LogText text={lines.join("\n")} />
          </pre>
        </>
      )}
    </section>
  );
}

const TAIL_LINES = 15;

function LogText({ text }: { text: string }) {
  const lines = useMemo(() => text.split("\n"), [text]);
  if (lines.length > HIGHLIGHT_LINES) return <>{text}</>;
  return (
    <>
      {lines.map((line, i) => (
        <span key={i} className={BAD.test(line) ? "log-bad" : WARN.test(line) ? "log-warn" : undefined}>
          {line}
          {i < lines.length - 1 ? "\n" : ""}
        </span>
      ))}
    </>
  );
}

export function LogsTab({ run, artifacts }: { run: Run; artifacts: UseQueryResult<Artifact[], ApiError> }) {
  const running = run.status === "running";
  const file = artifacts.data?.find((a) => a.path === LOG_PATH);
  const log = useQuery<{ text: string; truncated: boolean; at: number }, ApiError>({
    queryKey: ["run-log", run.id, file?.digest],
    queryFn: async ({ signal }) => {
      const tail = await fetchTail(run.id, LOG_PATH, TAIL_BYTES, signal);
      return { text: terminalText(decodeText(tail.bytes)), truncated: tail.truncated, at: Date.now() };
    },
    enabled: Boolean(file),
    staleTime: running ? 0 : Infinity,
    refetchInterval: running ? POLL_MS : false,
    placeholderData: (previous) => previous,
  });
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLPreElement>(null);

  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [follow, log.data?.text]);

  if (artifacts.error) return <ErrorMessage error={artifacts.error} what="artifacts" />;
  if (artifacts.isPending) return <Loading what="artifacts" />;
  if (!file) {
    return (
      <div className="panel run-empty" data-testid="logs-empty">
        <h2>{running ? "Waiting for output…" : "No output recorded"}</h2>
        <p className="muted">
          {running
            ? "What the run prints shows here; this page checks again every 5 seconds."
            : "Runs started with dy.start_run keep what they print to stdout and stderr (dy.Capture(output=True), the default)."}
        </p>
        {!running && <StepHint run={run} what="output" tab="logs" has={(_, files) => files.some((f) => f.path === LOG_PATH)} />}
      </div>
    );
  }
  const lines = log.data ? log.data.text.split("\n").length : 0;
  return (
    <div className="panel run-logs" data-testid="logs-tab">
      <div className="run-panel-head">
        <h2>Output</h2>
        <span className="muted small">
          {formatBytes(file.size)}
          {log.data && ` · ${lines.toLocaleString("en-US")} lines`}
          {running && log.data && ` · refreshed ${formatTime(log.data.at).slice(11)} UTC`}
        </span>
        {running && <span className="run-live" title="refreshing every 5 s" data-testid="logs-live" />}
        <span className="spacer" />
        <label className="run-control">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} data-testid="follow-tail" />
          <span>Follow the end</span>
        </label>
        <DownloadLink runId={run.id} path={LOG_PATH}>output.log</DownloadLink>
      </div>
      {log.data?.truncated && <div className="run-truncated">Showing the last {formatBytes(TAIL_BYTES)} of the log.</div>}
      {log.error ? (
        <ErrorMessage error={log.error} what="the log" />
      ) : !log.data ? (
        <Loading what="the log" />
      ) : log.data.text.trim() === "" ? (
        <p className="muted">The run printed nothing.</p>
      ) : (
        <pre className="run-text run-log" ref={box} data-testid="log-text" onWheel={(e) => { if (e.deltaY < 0 && follow) setFollow(false); }}>
          <LogText text={log.data.text} />
        </pre>
      )}
    </div>
  );
}
