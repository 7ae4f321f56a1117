// The virtual runs table: as tall as every match, rows fetched a page at a time as they come
// into view, placeholders until they arrive; only the rows on screen are in the DOM.
import { useQueries, useQueryClient } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { Link } from "react-router";
import { StatusBadge } from "../../components/StatusBadge";
import { elapsed, formatDuration, formatNumber, formatTime } from "../../format";
import { type Run, type Search, cachedPage, pageQuery, searchId } from "./runsQueries";
import {
  BASE_COLUMNS,
  PAGE_SIZE,
  type KeyColumn,
  SELECT_COLUMN_WIDTH,
  columnId,
  fieldOf,
  idsBetween,
  keyColumnWidth,
  locate,
  nextOrder,
  pagesFor,
  parseOrder,
} from "../runsTable";

const ROW_HEIGHT = 32; // as .runs-row in Runs.css
const HEADER_HEIGHT = 34;
const OVERSCAN = 12;
/** Range changes closer together than this (a dragged scrollbar) wait until it rests. */
const SETTLE_MS = 60;

/** `value`, but while it changes faster than every `ms`, the one it rests at. */
function useSettled<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  const lastChange = useRef(0);
  useEffect(() => {
    const now = performance.now();
    const quiet = now - lastChange.current > ms;
    lastChange.current = now;
    if (quiet) {
      setSettled(value);
      return undefined;
    }
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

const KIND_LABEL = { metrics: "metric", params: "param", tags: "tag" } as const;
const NUMERIC_BASE = new Set(["start_time", "duration"]);

function keyCell(run: Run, column: KeyColumn): string {
  if (column.kind === "metrics") return formatNumber(run.metrics?.[column.key]?.last);
  if (column.kind === "params") return run.params?.[column.key] ?? "";
  return run.tags?.[column.key] ?? "";
}

interface RowProps {
  index: number;
  start: number;
  run: Run | undefined;
  columns: KeyColumn[];
  template: string;
  selected: boolean;
  onSelect: (index: number, id: string, range: boolean) => void;
}

const Row = memo(function Row({ index, start, run, columns, template, selected, onSelect }: RowProps) {
  const style = { transform: `translateY(${start}px)`, gridTemplateColumns: template };
  if (!run) {
    return (
      <div className="runs-row placeholder" style={style} data-testid="run-row" data-index={index} data-loaded="false">
        <div className="cell" />
        {BASE_COLUMNS.map((c) => (
          <div className="cell" key={c.id}>
            <span className="bar" />
          </div>
        ))}
        {columns.map((c) => (
          <div className="cell" key={columnId(c)}>
            <span className="bar" />
          </div>
        ))}
      </div>
    );
  }
  return (
    <div
      className={`runs-row${selected ? " selected" : ""}`}
      style={style}
      data-testid="run-row"
      data-index={index}
      data-loaded="true"
      data-run-id={run.id}
    >
      <div className="cell select">
        <input
          type="checkbox"
          aria-label={`select ${run.name}`}
          checked={selected}
          onChange={() => undefined}
          onClick={(event) => onSelect(index, run.id, event.shiftKey)}
        />
      </div>
      <div className="cell name" title={run.name}>
        {run.parent_id && <span className="child-mark" title="a child run (a pipeline step)">↳ </span>}
        <Link to={`/runs/${run.id}`}>{run.name}</Link>
      </div>
      <div className="cell">
        <StatusBadge status={run.status} />
      </div>
      <div className="cell" title={run.experiment}>
        {run.experiment}
      </div>
      <div className="cell" title={run.user}>
        {run.user}
      </div>
      <div className="cell num">{formatTime(run.start_time)}</div>
      <div className="cell num">{formatDuration(elapsed(run.start_time, run.end_time))}</div>
      {columns.map((column) => {
        const text = keyCell(run, column);
        return (
          <div className={`cell${column.kind === "metrics" ? " num" : ""}`} key={columnId(column)} title={text}>
            {text}
          </div>
        );
      })}
    </div>
  );
});

function HeaderCell({
  label,
  field,
  numeric,
  order,
  onOrder,
  kind,
}: {
  label: string;
  field: string;
  numeric: boolean;
  order: string;
  onOrder: (order: string) => void;
  kind?: string;
}) {
  const sort = parseOrder(order);
  const active = sort.field === field;
  return (
    <div
      className={`cell head${kind ? ` kind-${kind}` : ""}${numeric ? " num" : ""}`}
      role="columnheader"
      aria-sort={active ? (sort.descending ? "descending" : "ascending") : "none"}
      title={`${field}: click to sort`}
    >
      <button type="button" data-testid="col-header" data-field={field} onClick={() => onOrder(nextOrder(order, field, numeric))}>
        {kind && <span className="kind">{kind}</span>}
        <span className="label">{label}</span>
        <span className="arrow">{active ? (sort.descending ? "▼" : "▲") : ""}</span>
      </button>
    </div>
  );
}

export interface RunsGridProps {
  search: Search;
  /** rows in all (the count, or what the first page shows until it arrives) */
  rowCount: number;
  columns: KeyColumn[];
  selection: ReadonlySet<string>;
  onSelectionChange: (next: Set<string>) => void;
  onOrder: (order: string) => void;
  /** a newer search is loading (the rows shown are the previous one's) */
  busy: boolean;
}

export function RunsGrid({ search, rowCount, columns, selection, onSelectionChange, onOrder, busy }: RunsGridProps) {
  const client = useQueryClient();
  const scroller = useRef<HTMLDivElement>(null);
  const id = searchId(search);

  // The latest search and count for the scroll handler below.
  const current = useRef({ search, rowCount });
  current.current = { search, rowCount };
  const lastRange = useRef({ pages: "", at: 0 });

  const virtualizer = useVirtualizer({
    count: rowCount,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: OVERSCAN,
    scrollMargin: HEADER_HEIGHT,
    // A jump (the rows in view change after a quiet moment) asks for their pages from the
    // scroll event itself, a render or two before the table observes them.
    onChange: (instance) => {
      const range = instance.range;
      if (!range) return;
      const { search: now, rowCount: count } = current.current;
      const pages = pagesFor(range.startIndex, range.endIndex, count);
      const key = `${searchId(now)}|${pages.join(",")}`;
      if (key === lastRange.current.pages) return;
      const at = performance.now();
      const quiet = at - lastRange.current.at > SETTLE_MS;
      lastRange.current = { pages: key, at };
      if (quiet) for (const page of pages) void client.prefetchQuery(pageQuery(now, page));
    },
  });

  // A new search starts at its top.
  useLayoutEffect(() => {
    if (scroller.current) scroller.current.scrollTop = 0;
  }, [id]);

  const items = virtualizer.getVirtualItems();
  // The pages of the rows in view (not of the rows rendered beyond it) are fetched first.
  const range = virtualizer.range;
  const inView = range ? pagesFor(range.startIndex, range.endIndex, rowCount).join(",") : "";
  const settled = useSettled(`${id}|${inView}`, SETTLE_MS);
  const fetchPages = useMemo(() => {
    const [settledId, pages] = settled.split("|");
    return settledId === id && pages ? pages.split(",").map(Number) : [];
  }, [settled, id]);

  // Observing the pages in view fetches them (and re-renders when they arrive); pages that
  // left the view before arriving are cancelled.
  const results = useQueries({ queries: fetchPages.map((page) => pageQuery(search, page)) });
  const arrived = results.every((r) => !r.isPending);

  // Then, once the view rests, the pages of the rows rendered around it and half a page
  // beyond, so that scrolling on finds them there.
  const resting = settled === `${id}|${inView}`;
  const first = items.length ? items[0].index : 0;
  const last = items.length ? items[items.length - 1].index : -1;
  const around = resting ? pagesFor(first - PAGE_SIZE / 2, last + PAGE_SIZE / 2, rowCount).join(",") : "";
  useEffect(() => {
    if (!arrived || !around) return;
    for (const page of around.split(",").map(Number)) void client.prefetchQuery(pageQuery(search, page));
  }, [arrived, around, search, client]);

  const runAt = useCallback(
    (index: number): Run | undefined => {
      const { page, slot } = locate(index);
      return cachedPage(client, search, page)?.items[slot];
    },
    [client, search],
  );

  // Selection: a click toggles a row; a shift-click selects every loaded row from the last one clicked.
  const anchor = useRef<number | null>(null);
  const selectionRef = useRef(selection);
  selectionRef.current = selection;
  const onSelect = useCallback(
    (index: number, runId: string, range: boolean) => {
      const next = new Set(selectionRef.current);
      if (range && anchor.current !== null) {
        for (const id of idsBetween(anchor.current, index, (i) => runAt(i)?.id)) next.add(id);
      } else if (next.has(runId)) next.delete(runId);
      else next.add(runId);
      anchor.current = index;
      onSelectionChange(next);
    },
    [runAt, onSelectionChange],
  );

  const widths = useMemo(() => [SELECT_COLUMN_WIDTH, ...BASE_COLUMNS.map((c) => c.width), ...columns.map(keyColumnWidth)], [columns]);
  const template = useMemo(() => widths.map((w) => `${w}px`).join(" "), [widths]);
  const width = widths.reduce((sum, w) => sum + w, 0);

  return (
    <div className={`runs-scroller${busy ? " busy" : ""}`} ref={scroller} data-testid="runs-table">
      <div className="runs-head" style={{ gridTemplateColumns: template, width, height: HEADER_HEIGHT }} role="row">
        <div className="cell head select" />
        {BASE_COLUMNS.map((c) => (
          <HeaderCell key={c.id} label={c.label} field={c.sort} numeric={NUMERIC_BASE.has(c.id)} order={search.order} onOrder={onOrder} />
        ))}
        {columns.map((c) => (
          <HeaderCell
            key={columnId(c)}
            label={c.key}
            field={fieldOf(c)}
            numeric={c.kind === "metrics"}
            kind={KIND_LABEL[c.kind]}
            order={search.order}
            onOrder={onOrder}
          />
        ))}
      </div>
      <div
        className="runs-body"
        style={{ height: virtualizer.getTotalSize(), width }}
        data-testid="runs-body"
        data-search={id}
        data-order={search.order}
        data-query={search.q}
      >
        {items.map((item) => {
          const run = runAt(item.index);
          return (
            <Row
              key={item.index}
              index={item.index}
              start={item.start - HEADER_HEIGHT}
              run={run}
              columns={columns}
              template={template}
              selected={run !== undefined && selection.has(run.id)}
              onSelect={onSelect}
            />
          );
        })}
      </div>
    </div>
  );
}
