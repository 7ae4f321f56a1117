// The runs table: every run of a scope, searched, sorted and paged by the server, with the
// view (scope, query, sort, columns) in the URL so that it can be shared.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { ApiError, type Schemas, seg } from "../api/client";
import { useGet } from "../api/hooks";
import { Caret, ErrorMessage } from "../components/ErrorMessage";
import { PageHeader } from "../components/PageHeader";
import { formatNumber } from "../format";
import { RunsGrid } from "./runs/RunsGrid";
import { type Run, type Search, countQuery, pageQuery, searchId } from "./runs/runsQueries";
import {
  type KeyColumn,
  type KeyKind,
  type RunsView,
  columnId,
  defaultColumns,
  filterKeys,
  keysOfRuns,
  provisionalTotal,
  readView,
  scopedQuery,
  toggleColumn,
  userQueryError,
  writeView,
} from "./runsTable";
import "./Runs.css";

type RunKeys = Schemas["RunKeys"];
const NO_COLUMNS: KeyColumn[] = [];
/** Typing pauses this long before the filter applies by itself (Enter applies at once). */
const FILTER_DEBOUNCE_MS = 700;
/** Keys listed per kind in the column chooser before "refine the search". */
const CHOOSER_LIMIT = 200;

const searchOf = (view: RunsView): Search => ({
  project: view.project,
  experiment: view.experiment,
  q: view.q,
  order: view.order,
  children: view.children,
});

/** The default columns of a scope: a few metrics and params of the first runs it shows,
 * fixed then, so that sorting or filtering does not change them. */
function useDefaultColumns(scope: string, firstRuns: Run[] | undefined): KeyColumn[] {
  const [fixed, setFixed] = useState<{ scope: string; columns: KeyColumn[] } | null>(null);
  const candidate = useMemo(() => (firstRuns ? defaultColumns(keysOfRuns(firstRuns)) : null), [firstRuns]);
  useEffect(() => {
    if (candidate && fixed?.scope !== scope) setFixed({ scope, columns: candidate });
  }, [candidate, fixed, scope]);
  // a new scope keeps the last one's columns until its first runs arrive
  return fixed?.scope === scope ? fixed.columns : (candidate ?? fixed?.columns ?? NO_COLUMNS);
}

export default function Runs() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const client = useQueryClient();
  const view = useMemo(() => readView(params), [params]);
  const viewRef = useRef(view);
  viewRef.current = view;
  const update = useCallback(
    (change: Partial<RunsView>) => {
      const next = { ...viewRef.current, ...change };
      // Ask at once: the URL's change renders the page a few frames later.
      void client.prefetchQuery(pageQuery(searchOf(next), 0));
      void client.prefetchQuery(countQuery(searchOf(next)));
      setParams(writeView(next), { replace: true });
    },
    [client, setParams],
  );

  // The search the URL asks for; the table shows it once its first page arrives, and the last
  // good one meanwhile (or when the query is invalid).
  const wanted = useMemo(() => searchOf(view), [view]);
  const firstPage = useQuery(pageQuery(wanted, 0));
  const wantedCount = useQuery({ ...countQuery(wanted), enabled: !firstPage.isError });
  const [good, setGood] = useState<Search | null>(null);
  useEffect(() => {
    if (firstPage.isSuccess) setGood(wanted);
  }, [firstPage.isSuccess, wanted]);
  const shown = firstPage.isSuccess ? wanted : (good ?? wanted);
  const shownFirst = useQuery({ ...pageQuery(shown, 0), enabled: false });
  const total = useQuery({ ...countQuery(shown), enabled: false }).data;
  const rowCount = total ?? provisionalTotal(shownFirst.data);
  // Child runs (pipeline steps, nested runs) are hidden by default: when none of the shown
  // runs match, say how many child runs do instead of a bare "no runs match".
  const nothingShown = rowCount === 0 && Boolean(shownFirst.data);
  const hiddenChildren = useQuery({ ...countQuery({ ...shown, children: true }), enabled: nothingShown && !shown.children }).data;
  const countText =
    total !== undefined
      ? `${formatNumber(total)} run${total === 1 ? "" : "s"}`
      : firstPage.isError || wantedCount.isError
        ? "not counted: the search failed"
        : "counting runs…";

  // The scope's keys (for the column chooser) are asked for once the first rows are in: the
  // server answers them more slowly, and the rows matter first.
  const scope = { projects: view.project || undefined, experiments: view.experiment || undefined };
  const keysQuery = useGet<RunKeys>("/runs/keys", scope, { staleTime: 300_000, enabled: !firstPage.isPending });
  const defaults = useDefaultColumns(`${view.project}\n${view.experiment}`, firstPage.data?.items);
  const columns = view.cols ?? defaults;

  const [selection, setSelection] = useState<Set<string>>(() => new Set());
  const onOrder = useCallback((order: string) => update({ order }), [update]);
  const onQuery = useCallback((q: string) => update({ q }), [update]);

  const error = firstPage.error;
  const invalid =
    error instanceof ApiError && error.code === "invalid_query" && error.details.query === scopedQuery(view.q, view.children)
      ? userQueryError(error.message, error.position ?? 0, view.q, view.children)
      : null;

  return (
    <div className="runs-page">
      <PageHeader title="Runs">
        <span className="muted" data-testid="runs-total">
          {countText}
        </span>
        {selection.size > 0 && (
          <button type="button" onClick={() => setSelection(new Set())}>
            Clear selection
          </button>
        )}
        <button
          type="button"
          className="primary"
          data-testid="compare-button"
          disabled={selection.size < 2}
          title={selection.size < 2 ? "tick two runs or more to compare them" : undefined}
          onClick={() => navigate(`/compare?runs=${[...selection].join(",")}`)}
        >
          Compare ({selection.size})
        </button>
      </PageHeader>

      <div className="runs-toolbar">
        <ScopePicker view={view} update={update} />
        <FilterBox q={view.q} onApply={onQuery} />
        <ColumnChooser keys={keysQuery.data} columns={columns} onChange={(cols) => update({ cols })} onReset={() => update({ cols: null })} />
      </div>
      {invalid ? (
        <div className="error query-error" role="alert" data-testid="query-error">
          <div className="error-message">{invalid.message}</div>
          <Caret text={view.q} position={invalid.position} />
          {good && <div className="small muted">The table still shows the last valid search.</div>}
        </div>
      ) : (
        error && <ErrorMessage error={error} what="the search failed" />
      )}
      {keysQuery.error && <ErrorMessage error={keysQuery.error} what="could not list the columns" />}

      {nothingShown ? (
        <p className="muted runs-empty" data-testid="runs-empty">
          No {shown.children ? "" : "top-level "}runs match{view.q ? " this search" : view.project ? ` in ${view.project}` : ""}.
          {!shown.children && hiddenChildren !== undefined && hiddenChildren > 0 && (
            <span data-testid="runs-hidden-children">
              {" "}
              {formatNumber(hiddenChildren)} child run{hiddenChildren === 1 ? "" : "s"} (pipeline steps, nested runs) match but {hiddenChildren === 1 ? "is" : "are"} hidden.{" "}
              <button type="button" onClick={() => update({ children: true })}>
                Show child runs
              </button>
            </span>
          )}
        </p>
      ) : (
        <RunsGrid
          search={shown}
          rowCount={rowCount}
          columns={columns}
          selection={selection}
          onSelectionChange={setSelection}
          onOrder={onOrder}
          busy={searchId(shown) !== searchId(wanted) && firstPage.isFetching}
        />
      )}
    </div>
  );
}

function ScopePicker({ view, update }: { view: RunsView; update: (change: Partial<RunsView>) => void }) {
  const projects = useGet<{ items: Schemas["Project"][] }>("/projects", { limit: 1000 }, { staleTime: 60_000 });
  const experiments = useGet<Schemas["Experiment"][]>(view.project ? `/projects/${seg(view.project)}/experiments` : null, {}, { staleTime: 60_000 });
  const names = projects.data?.items.map((p) => p.name) ?? [];
  if (view.project && !names.includes(view.project)) names.push(view.project);
  const experimentNames = experiments.data?.filter((e) => !e.deleted).map((e) => e.name) ?? [];
  if (view.experiment && !experimentNames.includes(view.experiment)) experimentNames.push(view.experiment);
  return (
    <div className="runs-scope">
      <select
        aria-label="project"
        data-testid="project-picker"
        value={view.project}
        onChange={(event) => update({ project: event.target.value, experiment: "", cols: null })}
      >
        <option value="">all projects</option>
        {names.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
      <select
        aria-label="experiment"
        data-testid="experiment-picker"
        value={view.experiment}
        disabled={!view.project}
        title={view.project ? undefined : "pick a project first"}
        onChange={(event) => update({ experiment: event.target.value })}
      >
        <option value="">all experiments</option>
        {experimentNames.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
      <label className="small" title="runs with a parent: the steps of pipelines and nested runs">
        <input type="checkbox" checked={view.children} onChange={(event) => update({ children: event.target.checked })} /> child runs
      </label>
    </div>
  );
}

/** The search-language box: applies on Enter, or once typing pauses. */
function FilterBox({ q, onApply }: { q: string; onApply: (q: string) => void }) {
  const [draft, setDraft] = useState(q);
  const applied = useRef(q);
  const apply = useCallback(
    (text: string) => {
      applied.current = text;
      onApply(text);
    },
    [onApply],
  );
  // a query from elsewhere (back, a link) replaces the draft; our own, applied while the user
  // kept typing, must not
  useEffect(() => {
    if (q !== applied.current) setDraft(q);
    applied.current = q;
  }, [q]);
  useEffect(() => {
    if (draft === q) return undefined;
    const timer = setTimeout(() => apply(draft), FILTER_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [draft, q, apply]);
  return (
    <form
      className="runs-filter"
      data-testid="runs-filter-form"
      onSubmit={(event) => {
        event.preventDefault();
        apply(draft);
      }}
    >
      <input
        data-testid="runs-filter"
        aria-label="search runs"
        placeholder="params.lr < 0.1 AND metrics.auc > 0.9 AND status = 'finished'"
        value={draft}
        spellCheck={false}
        onChange={(event) => setDraft(event.target.value)}
      />
    </form>
  );
}

const KIND_TITLES: [KeyKind, string][] = [
  ["metrics", "Metrics"],
  ["params", "Params"],
  ["tags", "Tags"],
];

function ColumnChooser({
  keys,
  columns,
  onChange,
  onReset,
}: {
  keys: RunKeys | undefined;
  columns: KeyColumn[];
  onChange: (columns: KeyColumn[]) => void;
  onReset: () => void;
}) {
  const [open, setOpen] = useState(false);
  const [search, setSearch] = useState("");
  const chosen = new Set(columns.map(columnId));
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return undefined;
    const close = (event: MouseEvent) => {
      if (box.current && !box.current.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", close);
    return () => document.removeEventListener("mousedown", close);
  }, [open]);
  return (
    <div className="column-chooser" ref={box}>
      <button type="button" data-testid="columns-button" onClick={() => setOpen(!open)} aria-expanded={open}>
        Columns ({columns.length})
      </button>
      {open && (
        <div className="chooser-panel" data-testid="column-chooser">
          <div className="row">
            <input
              autoFocus
              data-testid="column-search"
              placeholder="find a param, metric or tag"
              value={search}
              onChange={(event) => setSearch(event.target.value)}
            />
            <button type="button" onClick={onReset} title="a few metrics and params of the scope">
              Defaults
            </button>
          </div>
          {!keys && <div className="muted small">Loading the keys…</div>}
          {keys && KIND_TITLES.map(([kind, title]) => {
            const found = filterKeys(keys[kind], search);
            return (
              <section key={kind}>
                <h3>
                  {title} <span className="muted small">{found.length}</span>
                </h3>
                {found.length === 0 && <div className="muted small">none{search ? " match" : ""}</div>}
                {found.slice(0, CHOOSER_LIMIT).map((key) => {
                  const column = { kind, key };
                  return (
                    <label key={key} className="chooser-item">
                      <input
                        type="checkbox"
                        data-testid="column-option"
                        data-column={columnId(column)}
                        checked={chosen.has(columnId(column))}
                        onChange={() => onChange(toggleColumn(columns, column))}
                      />{" "}
                      {key}
                    </label>
                  );
                })}
                {found.length > CHOOSER_LIMIT && (
                  <div className="muted small">{formatNumber(found.length - CHOOSER_LIMIT)} more: refine the search</div>
                )}
              </section>
            );
          })}
        </div>
      )}
    </div>
  );
}
