// The online values of a view: its last materialization, what the online store holds, and a
// lookup of the feature values of a few entities as of now.
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { type ApiError, type Schemas, sendJson, seg } from "../../api/client";
import { useGet } from "../../api/hooks";
import { ErrorMessage } from "../../components/ErrorMessage";
import { KeyValue } from "../../components/KeyValue";
import { formatAgo, formatNumber, formatTime } from "../../format";
import {
  type FeatureViewInfo,
  type OnlineValues,
  type ViewDefinition,
  datasetVersionHref,
  formatValue,
  lookupRows,
  parseKeyValues,
} from "./logic";

function When({ time, now }: { time: string | null | undefined; now: number }) {
  if (!time) return <span className="muted">—</span>;
  return (
    <>
      {formatTime(time)} <span className="muted">({formatAgo(time, now)})</span>
    </>
  );
}

export function OnlineTab({ view, definition }: { view: FeatureViewInfo; definition: ViewDefinition }) {
  const m = view.materialization;
  const o = view.online;
  const now = Date.now();
  const q = JSON.stringify(view.project);
  return (
    <div data-testid="online">
      <div className="fv-two">
        <div className="panel" data-testid="materialization">
          <h2>Last materialization</h2>
          {m ? (
            <KeyValue
              rows={[
                ["finished", <When key="at" time={m.finished_at} now={now} />],
                ["by", m.finished_by],
                ["view version", `v${m.view_version}${m.view_version === view.version ? " (latest)" : ` (latest is v${view.version})`}`],
                [
                  "source version",
                  m.source_version !== null && m.source_version !== undefined ? (
                    <Link key="source" to={datasetVersionHref(view.project, view.source, m.source_version)}>
                      {view.project}/{view.source}@{m.source_version}
                    </Link>
                  ) : (
                    "—"
                  ),
                ],
                ["events applied", formatNumber(m.events)],
              ]}
            />
          ) : (
            <p className="muted">
              Never materialized. Fill the online values from the source with <code>dy.features.materialize({JSON.stringify(view.name)}, project={q})</code>.
            </p>
          )}
        </div>
        <div className="panel" data-testid="online-state">
          <h2>Online store</h2>
          {o ? (
            <KeyValue
              rows={[
                ["events online", `${formatNumber(o.events)} (materialized and pushed)`],
                ["source files applied", formatNumber(o.parts)],
                ["newest event", <When key="newest" time={o.newest_event_at} now={now} />],
                [
                  "pushes accept events from",
                  o.accepts_from ? (
                    <span key="accepts">
                      <When time={o.accepts_from} now={now} />
                      {definition.lateness && <div className="muted small">the newest event minus the lateness {definition.lateness}</div>}
                    </span>
                  ) : (
                    "—"
                  ),
                ],
              ]}
            />
          ) : (
            <p className="muted">The online store holds nothing for this view yet.</p>
          )}
        </div>
      </div>
      <Lookup view={view} definition={definition} />
    </div>
  );
}

interface KeyField {
  column: string;
  values: string;
}

function Lookup({ view, definition }: { view: FeatureViewInfo; definition: ViewDefinition }) {
  const [fields, setFields] = useState<KeyField[]>(() => view.keys.map((column) => ({ column, values: "" })));
  // the key columns' types, so that numeric keys are sent as numbers
  const source = useGet<Schemas["Version"]>(
    `/projects/${seg(view.project)}/datasets/${seg(view.source)}/versions/${view.materialization?.source_version ?? "latest"}`,
    {},
    { retry: false, staleTime: 60_000 },
  );
  const types = new Map((source.data?.columns ?? []).map((c) => [c.name, c.type]));
  const lookup = useMutation<OnlineValues, ApiError, Record<string, (string | number)[]>>({
    mutationFn: (keys) => sendJson<OnlineValues>("POST", `/projects/${seg(view.project)}/features/online`, { keys, features: [`${view.name}:*`] }),
  });
  const onDemand = definition.features.filter((f) => f.kind === "on_demand").map((f) => f.name);
  const empty = fields.every((f) => f.values.trim() === "");
  const result = lookup.data ? lookupRows(lookup.data) : null;

  return (
    <div className="panel" data-testid="lookup">
      <div className="ds-section-title">
        <h2>Look up feature values</h2>
        <span className="muted small">
          as of now, from the online store · several entities: separate values with commas
          {onDemand.length > 0 && ` · on-demand features (${onDemand.join(", ")}) run in their owner's process and are not looked up here`}
        </span>
      </div>
      <form
        className="fv-lookup"
        onSubmit={(event) => {
          event.preventDefault();
          const keys: Record<string, (string | number)[]> = {};
          for (const f of fields) if (f.column.trim()) keys[f.column.trim()] = parseKeyValues(f.values, types.get(f.column.trim()));
          lookup.mutate(keys);
        }}
      >
        {fields.map((f, i) => (
          <div className="fv-key" key={i}>
            <input
              className="fv-key-column ds-mono"
              value={f.column}
              aria-label="key column"
              data-testid="lookup-column"
              onChange={(e) => setFields(fields.map((g, j) => (j === i ? { ...g, column: e.target.value } : g)))}
            />
            <span className="muted">=</span>
            <input
              className="fv-key-values"
              value={f.values}
              placeholder={`${f.column || "key"} value(s)`}
              aria-label={`values of ${f.column}`}
              data-testid="lookup-values"
              onChange={(e) => setFields(fields.map((g, j) => (j === i ? { ...g, values: e.target.value } : g)))}
            />
          </div>
        ))}
        <button type="submit" className="primary" disabled={empty || lookup.isPending} data-testid="lookup-submit">
          {lookup.isPending ? "Looking up…" : "Look up"}
        </button>
      </form>
      {lookup.error && <ErrorMessage error={lookup.error} what="the server refused the lookup" />}
      {result && lookup.data && !lookup.error && (
        <div className="fv-result" data-testid="lookup-result">
          <div className="muted small">
            values as of {formatTime(lookup.data.at)} (UTC) · {result.rows.length} entit{result.rows.length === 1 ? "y" : "ies"}
          </div>
          <div className="fv-scroll">
            <table className="data">
              <thead>
                <tr>
                  {result.columns.map((c) => (
                    <th key={c} className={view.keys.includes(c) ? "" : "num"}>
                      {c}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {result.rows.map((row, i) => (
                  <tr key={i} data-testid="lookup-row">
                    {row.map((value, j) => {
                      const key = view.keys.includes(result.columns[j]);
                      return (
                        <td key={j} className={`${key ? "ds-mono" : "num"}${value === null ? " muted" : ""}`} data-column={result.columns[j]}>
                          {formatValue(value)}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </div>
  );
}
