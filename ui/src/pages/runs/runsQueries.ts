// The runs table's requests: pages by offset and the count, each cached by React Query under
// a key made of what it depends on (a sort change reuses the count; a scroll reuses pages).
import type { QueryClient } from "@tanstack/react-query";
import { sendJson, type Schemas } from "../../api/client";
import { PAGE_SIZE, scopedQuery } from "../runsTable";

export type Run = Schemas["Run"];
type RunPage = Schemas["RunPage"];

/** What one table shows: scope, query and sort. */
export interface Search {
  project: string;
  experiment: string;
  q: string;
  order: string;
  children: boolean;
}

const PAGE_STALE_MS = 30_000;
/** Pages out of view are dropped after this (100k runs are 1,000 pages). */
const PAGE_GC_MS = 60_000;

function body(search: Search, extra: Record<string, unknown>) {
  return {
    query: scopedQuery(search.q, search.children),
    order_by: search.order,
    projects: search.project ? [search.project] : [],
    experiments: search.experiment ? [search.experiment] : [],
    ...extra,
  };
}

const scopeOf = (s: Search) => [s.project, s.experiment, s.q.trim(), s.children] as const;

export const pageKey = (search: Search, page: number) => ["runs-page", ...scopeOf(search), search.order, page] as const;

export const countKey = (search: Search) => ["runs-count", ...scopeOf(search)] as const;

/** A stable text for a search (to notice that it changed). */
export const searchId = (search: Search): string => JSON.stringify([...scopeOf(search), search.order]);

export function pageQuery(search: Search, page: number) {
  return {
    queryKey: pageKey(search, page),
    queryFn: ({ signal }: { signal: AbortSignal }) =>
      sendJson<RunPage>("POST", "/runs/search", body(search, { limit: PAGE_SIZE, offset: page * PAGE_SIZE }), signal),
    staleTime: PAGE_STALE_MS,
    gcTime: PAGE_GC_MS,
  };
}

/** The number of matches: one row asked for, with count (independent of the sort). */
export function countQuery(search: Search) {
  return {
    queryKey: countKey(search),
    queryFn: async ({ signal }: { signal: AbortSignal }) => {
      const page = await sendJson<RunPage>("POST", "/runs/search", body(search, { limit: 1, count: true, order_by: "" }), signal);
      return page.total ?? page.items.length;
    },
    staleTime: PAGE_STALE_MS,
    gcTime: PAGE_GC_MS,
  };
}

export const cachedPage = (client: QueryClient, search: Search, page: number): RunPage | undefined =>
  client.getQueryData<RunPage>(pageKey(search, page));
