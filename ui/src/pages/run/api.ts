// What the run page reads from the REST API: the run, its children, artifacts, histories.
import { useQuery } from "@tanstack/react-query";
import { ApiError, type QueryValue, type Schemas, buildUrl, errorOf, getJson, getToken, seg, sendJson } from "../../api/client";
import { useGet, useGetKeep } from "../../api/hooks";
import type { ArtifactFile } from "./artifacts";

type ApiRun = Schemas["Run"];
export type MetricSummary = Schemas["MetricSummary"];
/** A run with its (optional in the schema) params, tags and metrics always there. */
export type Run = Omit<ApiRun, "params" | "tags" | "metrics"> & {
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, MetricSummary>;
};

export function normalizeRun(run: ApiRun): Run {
  return { ...run, params: run.params ?? {}, tags: run.tags ?? {}, metrics: run.metrics ?? {} };
}
export type Artifact = Schemas["Artifact"];
export type RunIO = Schemas["RunIO"];
export type MetricHistory = Schemas["MetricHistory"];

/** GET /runs/{id}/artifacts/table (being added to the API; typed here until it lands). */
export interface TablePreview {
  path: string;
  columns: { name: string; type: string }[];
  rows: unknown[][];
  total_rows: number | null;
  truncated: boolean;
}

/** dockyard/environment.json as the SDK writes it (src/dockyard/sdk/capture.py). */
export interface EnvironmentRecord {
  python?: string;
  executable?: string;
  platform?: string;
  host?: string;
  cpu_count?: number;
  cpu?: string;
  memory_bytes?: number;
  gpus?: { name?: string; memory_mib?: string; driver?: string }[];
  entry_point?: string;
  command?: string[];
  cwd?: string;
  packages?: string[];
  [key: string]: unknown;
}

/** How often a running run (and its log) is re-read. */
export const POLL_MS = 5000;

export const runPath = (id: string) => `/runs/${seg(id)}`;

export function useRun(id: string) {
  return useQuery<ApiRun, ApiError, Run>({
    queryKey: [runPath(id), {}],
    queryFn: ({ signal }) => getJson<ApiRun>(runPath(id), {}, signal),
    select: normalizeRun,
    refetchInterval: (query) => (query.state.data?.status === "running" ? POLL_MS : false),
    retry: (count, error) => error.status !== 404 && count < 2,
  });
}

export function useArtifacts(id: string, running: boolean) {
  return useGet<Artifact[]>(`${runPath(id)}/artifacts`, {}, { refetchInterval: running ? POLL_MS : false });
}

export function useChildren(id: string) {
  return useQuery<Schemas["RunPage"], ApiError>({
    queryKey: ["run-children", id],
    queryFn: ({ signal }) =>
      sendJson<Schemas["RunPage"]>(
        "POST",
        "/runs/search",
        { query: `parent_id = '${id.replace(/'/g, "''")}'`, order_by: "start_time ASC", limit: 200 },
        signal,
      ),
  });
}

export function useHistory(id: string, key: string, maxPoints: number, enabled = true, refresh: number | false = false) {
  return useGetKeep<MetricHistory>(`${runPath(id)}/metric-history`, { key, max_points: maxPoints }, {
    enabled,
    staleTime: refresh ? 0 : 60_000,
    refetchInterval: refresh,
  });
}

export const contentUrl = (id: string, path: string) => buildUrl(`${runPath(id)}/artifacts/content`, { path });

export interface Head {
  bytes: Uint8Array;
  /** The file is longer than what was read. */
  truncated: boolean;
}

/**
 * The first `maxBytes` of an artifact, reading the response as a stream and stopping there
 * (the API serves whole files, so a huge log is not downloaded to show its beginning).
 */
export async function fetchHead(id: string, path: string, maxBytes: number, signal?: AbortSignal): Promise<Head> {
  const response = await fetchContent(id, path, signal);
  const reader = response.body?.getReader();
  if (!reader) {
    const all = new Uint8Array(await response.arrayBuffer());
    return { bytes: all.slice(0, maxBytes), truncated: all.length > maxBytes };
  }
  const chunks: Uint8Array[] = [];
  let read = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    read += value.length;
    if (read > maxBytes) {
      truncated = true;
      await reader.cancel();
      break;
    }
  }
  const bytes = new Uint8Array(Math.min(read, maxBytes));
  let at = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, Math.min(chunk.length, bytes.length - at));
    bytes.set(part, at);
    at += part.length;
    if (at >= bytes.length) break;
  }
  return { bytes, truncated };
}

/** The last `maxBytes` of an artifact (logs: the end is what matters); reads the whole stream. */
export async function fetchTail(id: string, path: string, maxBytes: number, signal?: AbortSignal): Promise<Head> {
  const response = await fetchContent(id, path, signal);
  const all = new Uint8Array(await response.arrayBuffer());
  return all.length > maxBytes ? { bytes: all.slice(all.length - maxBytes), truncated: true } : { bytes: all, truncated: false };
}

async function fetchContent(id: string, path: string, signal?: AbortSignal): Promise<Response> {
  const token = getToken();
  let response: Response;
  try {
    response = await fetch(contentUrl(id, path), { headers: token ? { Authorization: `Bearer ${token}` } : {}, signal });
  } catch (exc) {
    if ((exc as Error).name === "AbortError") throw exc;
    throw new ApiError(0, "unavailable", `the dockyard server could not be reached (${(exc as Error).message})`);
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export function decodeText(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
}

/** An artifact's text (first `maxBytes`), cached per run, path and digest. */
export function useArtifactText(id: string, artifact: ArtifactFile | null | undefined, maxBytes = 200 * 1024, refresh: number | false = false) {
  return useQuery<{ text: string; truncated: boolean }, ApiError>({
    queryKey: ["artifact-text", id, artifact?.path, artifact?.digest, maxBytes],
    queryFn: async ({ signal }) => {
      const head = await fetchHead(id, artifact!.path, maxBytes, signal);
      return { text: decodeText(head.bytes), truncated: head.truncated };
    },
    enabled: Boolean(artifact),
    staleTime: Infinity,
    refetchInterval: refresh,
  });
}

export function useArtifactJson<T>(id: string, artifact: ArtifactFile | null | undefined) {
  return useQuery<T, ApiError>({
    queryKey: ["artifact-json", id, artifact?.path, artifact?.digest],
    queryFn: async ({ signal }) => {
      const head = await fetchHead(id, artifact!.path, 20 * 1024 * 1024, signal);
      return JSON.parse(decodeText(head.bytes)) as T;
    },
    enabled: Boolean(artifact),
    staleTime: Infinity,
  });
}

export function getTable(id: string, path: string, limit: number, signal?: AbortSignal) {
  return getJson<TablePreview>(`${runPath(id)}/artifacts/table`, { path, limit } as Record<string, QueryValue>, signal);
}
