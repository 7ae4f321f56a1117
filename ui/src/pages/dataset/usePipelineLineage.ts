// Fetches what expanding pipelines in a lineage graph needs: the runs (for their pipeline
// tags), the pipeline runs around them and what each step run read and wrote.
import { useQueries } from "@tanstack/react-query";
import { useMemo } from "react";
import { type Schemas, getJson, seg } from "../../api/client";
import { type PipelineRun, type RunIO, pipelineIds, stepRunIds } from "./pipelineLineage";

const MAX_RUNS = 25;
const MAX_STEPS = 60;

export function usePipelineLineage(runIds: readonly string[], enabled: boolean): { pipelines: PipelineRun[]; stepIo: Record<string, RunIO[]>; loading: boolean } {
  const ids = enabled ? [...new Set(runIds)].slice(0, MAX_RUNS) : [];
  const runs = useQueries({
    queries: ids.map((id) => ({
      queryKey: [`/runs/${seg(id)}`, {}],
      queryFn: ({ signal }: { signal: AbortSignal }) => getJson<Schemas["Run"]>(`/runs/${seg(id)}`, {}, signal),
      staleTime: 30_000,
    })),
  });
  const runsKey = runs.map((q) => `${q.dataUpdatedAt}/${q.errorUpdatedAt}`).join(",");
  const wanted = useMemo(
    () => pipelineIds(runs.flatMap((q) => (q.data ? [q.data] : []))),
    // runs is a new array every render; runsKey says when its answers changed
    [runsKey],
  );
  const pipelineQueries = useQueries({
    queries: wanted.map((id) => ({
      queryKey: [`/pipelines/runs/${seg(id)}`, {}],
      queryFn: ({ signal }: { signal: AbortSignal }) => getJson<PipelineRun>(`/pipelines/runs/${seg(id)}`, {}, signal),
      staleTime: 30_000,
    })),
  });
  const pipelines = pipelineQueries.flatMap((q) => (q.data ? [q.data] : []));
  const steps = [...new Set(pipelines.flatMap(stepRunIds))].slice(0, MAX_STEPS);
  const ios = useQueries({
    queries: steps.map((id) => ({
      queryKey: [`/runs/${seg(id)}/io`, {}],
      queryFn: ({ signal }: { signal: AbortSignal }) => getJson<RunIO[]>(`/runs/${seg(id)}/io`, {}, signal),
      staleTime: 30_000,
    })),
  });
  const pipelinesKey = pipelineQueries.map((q) => `${q.dataUpdatedAt}/${q.errorUpdatedAt}`).join(",");
  const iosKey = ios.map((q) => `${q.dataUpdatedAt}/${q.errorUpdatedAt}`).join(",");
  return useMemo(() => {
    const stepIo: Record<string, RunIO[]> = {};
    steps.forEach((id, i) => {
      const data = ios[i]?.data;
      if (data) stepIo[id] = data;
    });
    const loading = runs.some((q) => q.isPending) || pipelineQueries.some((q) => q.isPending) || ios.some((q) => q.isPending);
    return { pipelines, stepIo, loading };
  }, [runsKey, pipelinesKey, iosKey, enabled]);
}
