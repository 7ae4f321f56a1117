// What the projects overview and the project page ask the server, as React Query hooks.
// Counts come from cheap queries only (a count with one row, list lengths), never from listing
// every run: a project may hold 100k runs.
import { useQuery } from "@tanstack/react-query";
import { ApiError, type Schemas, getJson, sendJson, seg } from "../../api/client";
import { useGet } from "../../api/hooks";

export type Project = Schemas["Project"];
/** An experiment; run_count and last_run_at are absent on servers older than the listing with counts. */
export type Experiment = Omit<Schemas["Experiment"], "run_count" | "last_run_at"> & { run_count?: number | null; last_run_at?: string | null };
export type Run = Schemas["Run"];
export type RunPage = Omit<Schemas["RunPage"], "total"> & { total?: number | null };
export type Dataset = Schemas["Dataset"];
export type RegisteredModel = Schemas["RegisteredModel"];
export type ModelPage = Schemas["ModelPage"];
export type PipelineRunPage = Omit<Schemas["PipelineRunPage"], "total"> & { total?: number | null };
export type Schedule = Schemas["Schedule"];

const MINUTE = 60_000;

export interface RunSearchBody {
  query?: string;
  order_by?: string;
  projects?: string[];
  experiments?: string[];
  limit?: number;
  count?: boolean;
}

/** POST /runs/search as a query (cached by its body). */
export function useRunSearch(body: RunSearchBody, options: { enabled?: boolean; refetchInterval?: number | false } = {}) {
  return useQuery<RunPage, ApiError>({
    queryKey: ["/runs/search", body],
    queryFn: ({ signal }) => sendJson<RunPage>("POST", "/runs/search", body, signal),
    enabled: options.enabled ?? true,
    refetchInterval: options.refetchInterval,
  });
}

export const useProjects = () => useGet<Schemas["Page_Project_"]>("/projects", { limit: 1000 }, { staleTime: MINUTE });
export const useProject = (name: string) => useGet<Project>(`/projects/${seg(name)}`);
export const useExperiments = (project: string, enabled = true) =>
  useGet<Experiment[]>(`/projects/${seg(project)}/experiments`, {}, { enabled });
export const useDatasets = (project: string, enabled = true) => useGet<Dataset[]>(`/projects/${seg(project)}/datasets`, {}, { enabled });
export const useModels = (project: string | null, enabled = true) =>
  useGet<ModelPage>("/models", { project, limit: 1000 }, { enabled });
/** Latest pipeline runs with their total; a server without `count` is asked again without it. */
export function usePipelineRuns(project: string | null, limit: number, enabled = true) {
  return useQuery<PipelineRunPage, ApiError>({
    queryKey: ["/pipelines/runs", { project, limit, count: true }],
    queryFn: async ({ signal }) => {
      try {
        return await getJson<PipelineRunPage>("/pipelines/runs", { project, limit, count: true }, signal);
      } catch (error) {
        if (error instanceof ApiError && error.status === 422 && error.message.includes("count")) {
          return await getJson<PipelineRunPage>("/pipelines/runs", { project, limit }, signal);
        }
        throw error;
      }
    },
    enabled,
    refetchInterval: (q) => (q.state.data?.items.some((r) => r.status === "running") ? 5000 : false),
  });
}
export const useFeatureViews = (project: string, enabled = true) =>
  useGet<Schemas["FeatureViewInfo"][]>(`/projects/${seg(project)}/features/views`, {}, { enabled });
export const useSchedules = (project: string, enabled = true) =>
  useGet<Schedule[]>("/pipelines/schedules", { project, limit: 1000 }, { enabled });
