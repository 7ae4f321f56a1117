import { Link, useNavigate } from "react-router";
import { seg } from "../../api/client";
import { StatusBadge } from "../../components/StatusBadge";
import { formatAgo, formatDuration, formatTime } from "../../format";
import { type PipelineRun, isLive, runDuration, stepCounts } from "./logic";
import { StepBar } from "./StepBar";
import "./pipeline.css";

/** Pipeline runs as a table: status, pipeline, project, started, duration, steps. */
export function PipelineRunsTable({
  runs,
  showProject = true,
  now = Date.now(),
  empty = "no pipeline runs",
}: {
  runs: PipelineRun[];
  showProject?: boolean;
  now?: number;
  empty?: string;
}) {
  const navigate = useNavigate();
  if (runs.length === 0) return <div className="pl-empty">{empty}</div>;
  return (
    <table className="data pl-table" data-testid="pipeline-runs">
      <thead>
        <tr>
          <th>Status</th>
          <th>Pipeline</th>
          {showProject && <th>Project</th>}
          <th>Started</th>
          <th className="num">Duration</th>
          <th>Steps</th>
          <th>By</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((run) => {
          const href = `/pipelines/${seg(run.id)}`;
          return (
            <tr
              key={run.id}
              className="pl-row"
              data-run={run.id}
              onClick={(event) => {
                if ((event.target as HTMLElement).closest("a")) return;
                navigate(href);
              }}
            >
              <td>
                {isLive(run.status) && <span className="live-dot" />}
                <StatusBadge status={run.cancel_requested && run.status === "running" ? "cancelling" : run.status} />
              </td>
              <td>
                <Link to={href} className="pl-name">
                  {run.pipeline}
                </Link>
                <div className="pl-id">{run.id.slice(0, 12)}</div>
              </td>
              {showProject && (
                <td>
                  <Link to={`/projects/${seg(run.project)}`}>{run.project}</Link>
                </td>
              )}
              <td title={formatTime(run.started_at)}>
                {formatAgo(run.started_at, now)}
                <div className="small muted">{formatTime(run.started_at)}</div>
              </td>
              <td className="num">{formatDuration(runDuration(run, now))}</td>
              <td>
                <StepBar counts={stepCounts(run)} />
              </td>
              <td className="muted">{run.created_by}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
