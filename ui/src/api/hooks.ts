// React Query over the REST API: one cache for every page, keyed by path and query.
import { keepPreviousData, useQuery, type UseQueryOptions } from "@tanstack/react-query";
import { ApiError, getJson, type QueryValue } from "./client";

type Options<T> = Omit<UseQueryOptions<T, ApiError>, "queryKey" | "queryFn">;

/** GET `path` with `query`; `null` path means "not yet" (the query waits). */
export function useGet<T>(path: string | null, query: Record<string, QueryValue> = {}, options: Options<T> = {}) {
  return useQuery<T, ApiError>({
    queryKey: [path, query],
    queryFn: ({ signal }) => getJson<T>(path as string, query, signal),
    enabled: path !== null && (options.enabled ?? true),
    ...options,
  });
}

/** Like useGet, but keeps showing the previous answer while the next one loads (tables, charts). */
export function useGetKeep<T>(path: string | null, query: Record<string, QueryValue> = {}, options: Options<T> = {}) {
  return useGet<T>(path, query, { placeholderData: keepPreviousData, ...options });
}
