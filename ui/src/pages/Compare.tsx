// Compare runs (/compare?runs=a,b,c): metric curves overlaid, params and metrics side by side,
// params against a metric in parallel coordinates, any two columns in a scatter.
import { useQueries } from "@tanstack/react-query";
import { useCallback, useMemo } from "react";
import { Link, useSearchParams } from "react-router";
import { ApiError, getJson, seg } from "../api/client";
import { ErrorMessage, Loading } from "../components/ErrorMessage";
import { PageHeader } from "../components/PageHeader";
import {
  type Column,
  type CompareView,
  chooseColumn,
  commonestMetric,
  comparableParams,
  diffRows,
  parseRunIds,
  readCompareView,
  runLabels,
  unionKeys,
  writeCompareView,
} from "./compareData";
import { DiffTable, showNumber, showText } from "./compare/DiffTables";
import { MetricCurves } from "./compare/MetricCurves";
import { ParamsParallel } from "./compare/ParamsParallel";
import { Scatter } from "./compare/Scatter";
import { PALETTE, type Run, type RunInfo } from "./compare/types";
import "./compare/compare.css";

export default function Compare() {
  const [params, setParams] = useSearchParams();
  const ids = useMemo(() => parseRunIds(params.get("runs")), [params]);
  const view = useMemo(() => readCompareView(params), [params]);
  const onView = useCallback(
    (change: Partial<CompareView>) => setParams((old) => writeCompareView(old, { ...readCompareView(old), ...change }), { replace: true }),
    [setParams],
  );
  const drop = (gone: string[]) =>
    setParams((old) => {
      const next = new URLSearchParams(old);
      next.set("runs", parseRunIds(old.get("runs")).filter((id) => !gone.includes(id)).join(","));
      return next;
    });

  const queries = useQueries({
    queries: ids.map((id) => ({
      queryKey: ["/runs", id],
      queryFn: ({ signal }: { signal: AbortSignal }) => getJson<Run>(`/runs/${seg(id)}`, {}, signal),
      staleTime: 30_000,
    })),
  });
  const pending = queries.some((q) => q.isPending);
  const loadedKey = queries.map((q) => q.dataUpdatedAt).join(",");
  const runs: RunInfo[] = useMemo(() => {
    const found = queries.map((q) => q.data).filter((run): run is Run => run !== undefined);
    const labels = runLabels(found);
    return found.map((run, i) => ({ run, label: labels[i], color: PALETTE[i % PALETTE.length] }));
  }, [loadedKey]); // the queries change identity with every render; loadedKey, when their data did
  const isMissing = (error: unknown) => error instanceof ApiError && error.status === 404;
  const missing = ids.filter((_, i) => isMissing(queries[i].error));
  const failed = queries.find((q) => q.error && !isMissing(q.error))?.error;

  const plain = useMemo(() => runs.map((r) => r.run), [runs]);
  const metrics = useMemo(() => unionKeys(plain, "metrics"), [plain]);
  const paramRows = useMemo(() => diffRows(plain, "params"), [plain]);
  const metricRows = useMemo(() => diffRows(plain, "metrics"), [plain]);
  const axes = useMemo(() => comparableParams(plain), [plain]);
  const columns: Column[] = useMemo(
    () => [...metrics.map((key) => ({ kind: "metrics" as const, key })), ...unionKeys(plain, "params").map((key) => ({ kind: "params" as const, key }))],
    [metrics, plain],
  );
  const curveMetric = (view.metric && metrics.includes(view.metric) ? view.metric : commonestMetric(plain)) ?? "";
  // the scatter starts with a param that differs against the metric of the curves
  const firstParam = columns.find((c) => c.kind === "params" && c.key === axes[0]) ?? columns.find((c) => c.kind === "params") ?? columns[1];
  const scatterX = chooseColumn(view.sx, columns, firstParam);
  const scatterY = chooseColumn(view.sy, columns, columns.find((c) => c.kind === "metrics" && c.key === curveMetric) ?? columns[0]);

  return (
    <div className="compare-page">
      <PageHeader crumbs={[["Runs", "/runs"]]} title={runs.length >= 2 ? `Compare ${runs.length} runs` : "Compare runs"} />
      {missing.length > 0 && (
        <div className="error" role="alert" data-testid="missing-runs">
          <strong>
            {missing.length === 1 ? "There is no run with the id " : "There are no runs with the ids "}
            {missing.map((id, i) => (
              <span key={id}>
                {i > 0 && ", "}
                <code>{id}</code>
              </span>
            ))}
            .
          </strong>
          <div className="error-message">
            {missing.length === 1 ? "It may have been deleted, or the link is mistyped" : "They may have been deleted, or the link is mistyped"}
            {runs.length > 0 ? "; the other runs are shown below." : "."}{" "}
            <button type="button" className="link-button" data-testid="drop-missing" onClick={() => drop(missing)}>
              Drop {missing.length === 1 ? "it" : "them"} from the link
            </button>
          </div>
        </div>
      )}
      {failed && <ErrorMessage error={failed} what="could not load a run" />}
      {pending && runs.length === 0 ? (
        <Loading what="the runs" />
      ) : runs.length < 2 ? (
        <div className="panel compare-help" data-testid="compare-help">
          <h2>{runs.length === 1 ? "One run is not a comparison" : "No runs to compare"}</h2>
          <p>
            Pick two runs or more: tick them in the <Link to="/runs">runs table</Link> (shift-click ticks a range) and press <b>Compare</b>, or list their ids in the
            link: <code>/compare?runs=ID1,ID2,ID3</code>.
          </p>
          {runs.length === 1 && (
            <p>
              The run given: <Link to={`/runs/${runs[0].run.id}`}>{runs[0].label}</Link>.
            </p>
          )}
        </div>
      ) : (
        <>
          <div className="compare-runs" data-testid="compare-runs">
            {runs.map(({ run, label, color }) => (
              <span className="compare-chip" key={run.id} data-testid="compare-run" data-run-id={run.id}>
                <span className="compare-dot" style={{ background: color }} />
                <Link to={`/runs/${run.id}`} title={`${run.project} / ${run.experiment} · ${run.id}`}>
                  {label}
                </Link>
                <span className="muted small">{run.experiment}</span>
                <button type="button" className="chip-remove" aria-label={`remove ${label}`} title="leave out of the comparison" onClick={() => drop([run.id])}>
                  ×
                </button>
              </span>
            ))}
          </div>
          <MetricCurves runs={runs} metrics={metrics} metric={curveMetric} view={view} onView={onView} />
          <div className="compare-grid">
            <DiffTable
              title="Params"
              rows={paramRows}
              runs={runs}
              show={showText}
              onlyDiff={view.onlyDiff}
              onOnlyDiff={(onlyDiff) => onView({ onlyDiff })}
              testId="params-diff"
            />
            <DiffTable
              title="Metrics (last values)"
              rows={metricRows}
              runs={runs}
              show={showNumber}
              onlyDiff={view.onlyDiff}
              onOnlyDiff={(onlyDiff) => onView({ onlyDiff })}
              testId="metrics-diff"
              numeric
            />
          </div>
          <ParamsParallel
            runs={runs}
            params={axes.length ? axes : paramRows.map((r) => r.key)}
            metrics={metrics}
            metric={view.color || curveMetric}
            onMetric={(color) => onView({ color })}
          />
          {scatterX && scatterY && <Scatter runs={runs} columns={columns} x={scatterX} y={scatterY} onChange={onView} />}
        </>
      )}
    </div>
  );
}
