// The runs table's logic without React: its URL state, columns, sort clauses, the page math
// of the virtual table and the mapping of search errors back to what the user typed.

export type KeyKind = "metrics" | "params" | "tags";

/** A param, metric or tag column chosen by the user. */
export interface KeyColumn {
  kind: KeyKind;
  key: string;
}

/** The fixed columns, each with the attribute the server sorts it by. */
export const BASE_COLUMNS = [
  { id: "name", label: "Name", sort: "name", width: 240 },
  { id: "status", label: "Status", sort: "status", width: 92 },
  { id: "experiment", label: "Experiment", sort: "experiment", width: 130 },
  { id: "user", label: "User", sort: "user", width: 100 },
  { id: "start_time", label: "Started (UTC)", sort: "start_time", width: 172 },
  { id: "duration", label: "Duration", sort: "duration", width: 100 },
] as const;

export const SELECT_COLUMN_WIDTH = 36;
export const DEFAULT_ORDER = "start_time DESC";
/** Rows fetched per request: a screenful or three, small enough to answer fast. */
export const PAGE_SIZE = 100;

const KINDS: readonly KeyKind[] = ["metrics", "params", "tags"];
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** What the URL holds: scope, query, sort and columns, so a view can be shared. */
export interface RunsView {
  project: string;
  experiment: string;
  q: string;
  order: string;
  /** null: the defaults (a few metrics and params of the scope) */
  cols: KeyColumn[] | null;
  children: boolean;
}

export function readView(params: URLSearchParams): RunsView {
  const cols = params.get("cols");
  return {
    project: params.get("project") ?? "",
    experiment: params.get("experiment") ?? "",
    q: params.get("q") ?? "",
    order: params.get("order") || DEFAULT_ORDER,
    cols: cols === null ? null : parseColumns(cols),
    children: params.get("children") === "1",
  };
}

/** The URL search params of a view (defaults left out, so URLs stay short). */
export function writeView(view: RunsView): URLSearchParams {
  const params = new URLSearchParams();
  if (view.project) params.set("project", view.project);
  if (view.experiment) params.set("experiment", view.experiment);
  if (view.q) params.set("q", view.q);
  if (view.order && view.order !== DEFAULT_ORDER) params.set("order", view.order);
  if (view.cols !== null) params.set("cols", formatColumns(view.cols));
  if (view.children) params.set("children", "1");
  return params;
}

/** "metrics.auc,params.opt.lr" -> columns (keys may hold dots, never commas). */
export function parseColumns(text: string): KeyColumn[] {
  const columns: KeyColumn[] = [];
  const seen = new Set<string>();
  for (const part of text.split(",")) {
    const dot = part.indexOf(".");
    if (dot < 0) continue;
    const kind = part.slice(0, dot) as KeyKind;
    const key = part.slice(dot + 1);
    if (!KINDS.includes(kind) || !key || seen.has(part)) continue;
    seen.add(part);
    columns.push({ kind, key });
  }
  return columns;
}

export const columnId = (column: KeyColumn): string => `${column.kind}.${column.key}`;

export const formatColumns = (columns: KeyColumn[]): string => columns.map(columnId).join(",");

/** A few metrics, then a few params of the scope: the columns before the user picks. */
export function defaultColumns(keys: { metrics: string[]; params: string[] }, each = 3): KeyColumn[] {
  return [
    ...keys.metrics.slice(0, each).map((key) => ({ kind: "metrics" as const, key })),
    ...keys.params.slice(0, each).map((key) => ({ kind: "params" as const, key })),
  ];
}

/** Pixels for a key column: its header (kind, key, sort arrow) unclipped, within limits. */
export const keyColumnWidth = (column: KeyColumn): number => Math.round(Math.max(110, Math.min(260, 96 + 7.2 * column.key.length)));

/** The metric and param keys of some runs (the first page, before the scope's keys arrive). */
export function keysOfRuns(runs: { params?: Record<string, string>; metrics?: Record<string, unknown> }[]): { metrics: string[]; params: string[] } {
  const metrics = new Set<string>();
  const params = new Set<string>();
  for (const run of runs) {
    for (const key of Object.keys(run.metrics ?? {})) metrics.add(key);
    for (const key of Object.keys(run.params ?? {})) params.add(key);
  }
  return { metrics: [...metrics].sort(), params: [...params].sort() };
}

/** A column added if absent, removed if present. */
export function toggleColumn(columns: KeyColumn[], column: KeyColumn): KeyColumn[] {
  const id = columnId(column);
  return columns.some((c) => columnId(c) === id) ? columns.filter((c) => columnId(c) !== id) : [...columns, column];
}

/** Keys containing every word of `search` (case-insensitive). */
export function filterKeys(keys: string[], search: string): string[] {
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return keys;
  return keys.filter((key) => {
    const lower = key.toLowerCase();
    return words.every((word) => lower.includes(word));
  });
}

/** The search language's name for a column: `metrics.auc`, ``params.`opt.lr` ``. */
export function fieldOf(column: KeyColumn): string {
  return `${column.kind}.${IDENTIFIER.test(column.key) ? column.key : `\`${column.key}\``}`;
}

export interface Sort {
  field: string;
  descending: boolean;
}

/** "metrics.auc DESC" -> {field, descending}; only the first key of a clause counts. */
export function parseOrder(order: string): Sort {
  const first = (order.trim() || DEFAULT_ORDER).split(",")[0].trim();
  const match = /^(.*?)\s+(asc|desc)$/i.exec(first);
  if (!match) return { field: first, descending: false };
  return { field: match[1].trim(), descending: match[2].toLowerCase() === "desc" };
}

export const formatOrder = (sort: Sort): string => `${sort.field} ${sort.descending ? "DESC" : "ASC"}`;

/** The sort after a click on a column: flips the current column, else its natural direction
 * (numbers and times high first, words A to Z). */
export function nextOrder(current: string, field: string, numeric: boolean): string {
  const sort = parseOrder(current);
  if (sort.field === field) return formatOrder({ field, descending: !sort.descending });
  return formatOrder({ field, descending: numeric });
}

/** The query sent: the user's, limited to top-level runs unless child runs are shown. */
export function scopedQuery(q: string, children: boolean): string {
  const text = q.trim();
  if (children) return text;
  return text ? `(${text}) AND parent_id IS NULL` : "parent_id IS NULL";
}

/** An error in the query scopedQuery(q, children) sent, as the user should see it: the
 * message's first line (the rest repeats the query) and the position in the text they typed. */
export function userQueryError(message: string, position: number, q: string, children: boolean): { message: string; position: number } {
  const text = q.trim();
  const shift = children || !text ? 0 : 1; // the "(" scopedQuery put in front
  const lead = q.length - q.trimStart().length;
  const mapped = Math.max(0, Math.min(position - shift, text.length)) + lead;
  const first = message.split("\n")[0].replace(/at position \d+/, `at position ${mapped}`);
  return { message: first, position: mapped };
}

/** Pages (of `pageSize` rows) holding rows `first`..`last`, within `total` rows. */
export function pagesFor(first: number, last: number, total: number, pageSize = PAGE_SIZE): number[] {
  if (total <= 0 || last < first) return [];
  const from = Math.floor(Math.max(0, first) / pageSize);
  const to = Math.floor(Math.min(last, total - 1) / pageSize);
  const pages: number[] = [];
  for (let page = from; page <= to; page += 1) pages.push(page);
  return pages;
}

/** Where row `index` is: its page and its place in that page. */
export function locate(index: number, pageSize = PAGE_SIZE): { page: number; slot: number } {
  return { page: Math.floor(index / pageSize), slot: index % pageSize };
}

/** Rows to give the table before the count arrives: what the first page shows, and one
 * placeholder row more if it says there are more. */
export function provisionalTotal(firstPage: { items: unknown[]; next_cursor?: string | null } | undefined): number {
  if (!firstPage) return 0;
  return firstPage.items.length + (firstPage.next_cursor ? 1 : 0);
}

/** Ids of the loaded rows between two row indexes (both included), for a shift-click. */
export function idsBetween(a: number, b: number, idAt: (index: number) => string | undefined): string[] {
  const ids: string[] = [];
  for (let i = Math.min(a, b); i <= Math.max(a, b); i += 1) {
    const id = idAt(i);
    if (id !== undefined) ids.push(id);
  }
  return ids;
}
