// Pipeline runs, newest first: filters (project, pipeline, status) in the URL, cursor paging.
import { keepPreviousData, useInfiniteQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { useSearchParams } from "react-router";
import { type ApiError, type Schemas, getJson } from "../api/client";
import { useGet } from "../api/hooks";
import { ErrorMessage, Loading } from "../components/ErrorMessage";
import { PageHeader } from "../components/PageHeader";
import { isLive } from "./pipeline/logic";
import { PipelineRunsTable } from "./pipeline/PipelineRunsTable";
import { useNow } from "./pipeline/useNow";
import "./pipeline/pipeline.css";

const STATUSES = ["running", "succeeded", "failed", "cancelled"] as const;
const PAGE = 50;

type Page = Schemas["PipelineRunPage"];

export default function PipelineRuns() {
  const [params, setParams] = useSearchParams();
  const project = params.get("project") ?? "";
  const pipeline = params.get("pipeline") ?? "";
  const status = params.get("status") ?? "";
  const filters = { project, pipeline, status };

  const set = (key: string, value: string) =>
    setParams(
      (old) => {
        const next = new URLSearchParams(old);
        if (value) next.set(key, value);
        else next.delete(key);
        return next;
      },
      { replace: true },
    );

  const projects = useGet<Schemas["Page_Project_"]>("/projects", { limit: 1000 }, { staleTime: 60_000 });
  const runs = useInfiniteQuery<Page, ApiError>({
    queryKey: ["/pipelines/runs", "infinite", filters],
    queryFn: ({ pageParam, signal }) =>
      getJson<Page>("/pipelines/runs", { ...filters, limit: PAGE, cursor: pageParam as string | undefined }, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    placeholderData: keepPreviousData,
    // while anything shown is running, keep the list fresh
    refetchInterval: (query) => (query.state.data?.pages.some((p) => p.items.some((r) => isLive(r.status))) ? 3000 : false),
  });

  const items = useMemo(() => runs.data?.pages.flatMap((p) => p.items) ?? [], [runs.data]);
  const anyLive = items.some((r) => isLive(r.status));
  const now = useNow(anyLive);
  const pipelineNames = useMemo(() => [...new Set(items.map((r) => r.pipeline))].sort(), [items]);
  const filtered = Boolean(project || pipeline || status);

  return (
    <div>
      <PageHeader title="Pipeline runs" />
      <div className="pl-filters" data-testid="pipeline-filters">
        <label>
          Project
          <select value={project} onChange={(e) => set("project", e.target.value)} data-testid="filter-project">
            <option value="">all projects</option>
            {project && !projects.data?.items.some((p) => p.name === project) && <option value={project}>{project}</option>}
            {projects.data?.items.map((p) => (
              <option key={p.id} value={p.name}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Pipeline
          <input
            list="pipeline-names"
            placeholder="any pipeline"
            defaultValue={pipeline}
            key={pipeline}
            onKeyDown={(e) => {
              if (e.key === "Enter") set("pipeline", e.currentTarget.value.trim());
            }}
            onBlur={(e) => set("pipeline", e.currentTarget.value.trim())}
            data-testid="filter-pipeline"
          />
          <datalist id="pipeline-names">
            {pipelineNames.map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
        </label>
        {filtered && <button onClick={() => setParams({}, { replace: true })}>Clear filters</button>}
        <span className="pl-count">
          {runs.data && `${items.length}${runs.hasNextPage ? "+" : ""} pipeline run${items.length === 1 ? "" : "s"}`}
          {runs.isFetching && runs.data ? " · refreshing…" : ""}
        </span>
      </div>
      <nav className="pl-status-tabs" data-testid="status-tabs">
        {["", ...STATUSES].map((s) => (
          <button key={s || "all"} className={status === s ? "active" : ""} onClick={() => set("status", s)} data-status={s || "all"}>
            {s ? <span className={`dot seg-${s}`} /> : null}
            {s || "all"}
            <StatusCount project={project} pipeline={pipeline} status={s} />
          </button>
        ))}
      </nav>
      {runs.error ? (
        <ErrorMessage error={runs.error} what="pipeline runs could not be listed" />
      ) : runs.isPending ? (
        <Loading what="pipeline runs" />
      ) : (
        <div className="panel" style={{ padding: 0, overflow: "hidden" }}>
          <PipelineRunsTable
            runs={items}
            now={now}
            showProject={!project}
            empty={filtered ? "No pipeline run matches these filters." : "No pipeline has run yet. Run one with dy.run(pipeline, project=...)."}
          />
          {runs.hasNextPage && (
            <div className="pl-more">
              <button onClick={() => runs.fetchNextPage()} disabled={runs.isFetchingNextPage} data-testid="load-more">
                {runs.isFetchingNextPage ? "Loading…" : "Load more"}
              </button>
            </div>
          )}
        </div>
      )}
    </div>
  );
}

/** How many pipeline runs have `status` (with the other filters); nothing on servers without counts. */
function StatusCount({ project, pipeline, status }: { project: string; pipeline: string; status: string }) {
  const count = useGet<{ total?: number | null }>(
    "/pipelines/runs",
    { project, pipeline, status, limit: 1, count: true },
    { retry: false, refetchInterval: status === "running" ? 5000 : 15_000 },
  );
  const total = count.data?.total;
  return typeof total === "number" ? <span className="n">{total.toLocaleString("en-US")}</span> : null;
}
