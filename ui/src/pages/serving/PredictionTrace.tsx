// One prediction traced back: what came in, which features were looked up, what went out,
// then the model version that answered, the run that made it, that run's code and diff,
// the dataset versions it trained on and its environment.
import type { ReactNode } from "react";
import { Link, useParams } from "react-router";
import { seg } from "../../api/client";
import { useGet } from "../../api/hooks";
import { ErrorMessage, Loading } from "../../components/ErrorMessage";
import { KeyValue } from "../../components/KeyValue";
import { PageHeader } from "../../components/PageHeader";
import { StatusBadge } from "../../components/StatusBadge";
import { elapsed, formatDuration, formatNumber, formatTime } from "../../format";
import { entityHref } from "../model/logic";
import { type PredictionTrace, compactValue, diffHref, formatLatency, moveBefore } from "./logic";
import { TraceSearch } from "./TraceSearch";
import "./serving.css";

export default function PredictionTracePage() {
  const { id = "" } = useParams();
  const trace = useGet<PredictionTrace>(`/serving/predictions/${seg(id)}`, {}, { staleTime: 60_000 });
  if (!trace.data) {
    return (
      <div>
        <PageHeader crumbs={[["Deployments", "/deployments"]]} title={
            <>
              Prediction <span className="sv-id">{id}</span>
            </>
          }>
          <TraceSearch />
        </PageHeader>
        {trace.error ? <ErrorMessage error={trace.error} what={`prediction ${id}`} /> : <Loading what="the trace" />}
      </div>
    );
  }
  const { prediction: p, lineage } = trace.data;
  const version = lineage.version;
  const run = lineage.run;
  const code = lineage.code;
  const env = lineage.environment;
  const modelHref = `/models/${seg(p.model)}`;
  const versionHref = `${modelHref}?version=${p.version}`;
  const move = moveBefore(lineage.alias_history ?? [], p.alias, p.version, p.at);
  const diff = diffHref(code);
  const features = Object.entries(p.features ?? {});
  const others = (lineage.other_inputs ?? []).filter((o) => o.ref || o.label);

  return (
    <div data-testid="trace-page">
      <PageHeader
        crumbs={[
          ["Deployments", "/deployments"],
          [p.model, modelHref],
          ["Prediction log", `${modelHref}/predictions`],
        ]}
        title={
          <>
            Prediction <span className="sv-id">{p.prediction_id}</span>
          </>
        }
      >
        <TraceSearch />
      </PageHeader>
      <div className="sv-cards">
        <Card label="model version">
          <Link to={versionHref}>
            {p.model} v{p.version}
          </Link>
        </Card>
        <Card label={p.shadow ? "alias (shadow: logged, not returned)" : "alias"}>
          @{p.alias} {p.shadow && <StatusBadge status="shadow" />}
        </Card>
        <Card label="latency">{formatLatency(p.latency_ms)}</Card>
        <Card label="time (UTC)" small>
          {formatTime(p.at)}
        </Card>
        <Card label="output" small>
          <span title={compactValue(p.output, 10_000)}>{compactValue(p.output, 40)}</span>
        </Card>
      </div>

      <ol className="sv-chain">
        <Step tone="request" kind="request" title="What came in and what went out">
          <div className="sv-cols">
            <div data-testid="trace-inputs">
              <h3>Inputs</h3>
              <KeyValue rows={Object.entries(p.inputs).map(([k, v]) => [k, compactValue(v, 2000)])} empty="no input recorded" />
            </div>
            <div data-testid="trace-features">
              <h3>Features looked up</h3>
              {features.length > 0 ? (
                <KeyValue rows={features.map(([k, v]) => [k, compactValue(v, 2000)])} />
              ) : (
                <p className="muted">None: the model was given all its inputs (it looks no feature up in the feature store).</p>
              )}
            </div>
            <div data-testid="trace-output">
              <h3>Output</h3>
              <pre>{JSON.stringify(p.output, null, 2)}</pre>
            </div>
          </div>
        </Step>

        <Step
          tone="model"
          kind="model version"
          title={
            <Link to={versionHref} data-testid="trace-version-link">
              {p.model} v{p.version}
            </Link>
          }
        >
          <KeyValue
            rows={[
              ["flavor", `${version.flavor} (${version.manifest.framework} ${version.manifest.framework_version})`],
              ["registered", `${formatTime(version.created_at)} by ${version.created_by}`],
              ["description", version.description || "—"],
              ["aliases now", (version.aliases ?? []).length ? (version.aliases ?? []).map((a) => `@${a}`).join(" ") : "none"],
            ]}
          />
          <div className="sv-why" data-testid="trace-why">
            {p.shadow ? "A shadow answer: logged for comparison, never returned to the caller. " : ""}
            Answered as @{p.alias}
            {move ? (
              <>
                , which {move.actor} {move.action === "rollback" ? "rolled back" : "moved"} to v{p.version} on {formatTime(move.at)}
                {move.reason && (
                  <>
                    : <q>{move.reason}</q>
                  </>
                )}
              </>
            ) : (
              "."
            )}
          </div>
        </Step>

        <Step
          tone="run"
          kind="run"
          title={
            run ? (
              <Link to={`/runs/${seg(run.id)}`} data-testid="trace-run-link">
                {run.name || run.id}
              </Link>
            ) : (
              "gone"
            )
          }
        >
          {run ? (
            <KeyValue
              rows={[
                ["status", <StatusBadge status={run.status} />],
                ["project / experiment", `${run.project} / ${run.experiment}`],
                ["user", run.user],
                ["started", formatTime(run.start_time)],
                ["duration", formatDuration(elapsed(run.start_time, run.end_time))],
                ["params", Object.keys(run.params ?? {}).length ? Object.entries(run.params ?? {}).map(([k, v]) => `${k}=${v}`).join(", ") : "none"],
              ]}
            />
          ) : (
            <p className="muted">The run this version was registered from is gone (deleted or purged).</p>
          )}
        </Step>

        <Step tone="code" kind="code" title={code.commit ? <span className="sv-mono">{code.commit.slice(0, 12)}</span> : "not captured"}>
          {code.commit ? (
            <KeyValue
              rows={[
                ["commit", <span data-testid="trace-commit">{code.commit}</span>],
                ["branch", code.branch ?? "—"],
                ...(code.remote ? ([["remote", code.remote]] as [string, ReactNode][]) : []),
                [
                  "working tree",
                  code.dirty ? <span className="status status-pending">uncommitted changes</span> : <span className="status status-finished">clean</span>,
                ],
                [
                  "uncommitted diff",
                  diff ? (
                    <Link to={diff} data-testid="trace-diff-link">
                      {code.diff_artifact}
                    </Link>
                  ) : code.dirty ? (
                    "not stored"
                  ) : (
                    "none"
                  ),
                ],
                ...(code.entry_point ? ([["entry point", code.entry_point]] as [string, ReactNode][]) : []),
                ...(code.run_id && code.run_id !== run?.id
                  ? ([["captured by", <Link to={`/runs/${seg(code.run_id)}?tab=code`}>the pipeline run {code.run_id.slice(0, 12)}…</Link>]] as [string, ReactNode][])
                  : []),
              ]}
            />
          ) : (
            <p className="muted">No git commit was captured: the run did not start in a git checkout, or capture was off.</p>
          )}
        </Step>

        <Step tone="data" kind="training data" title={`${lineage.inputs.length + others.length} input${lineage.inputs.length + others.length === 1 ? "" : "s"}`}>
          {lineage.inputs.length + others.length === 0 ? (
            <p className="muted">The run recorded no dataset it read.</p>
          ) : (
            <table className="data" data-testid="trace-datasets">
              <tbody>
                {lineage.inputs.map((input) => (
                  <tr key={input.version_id}>
                    <td>
                      <Link to={`/datasets/${seg(input.project)}/${seg(input.dataset)}?version=${input.version}`} data-testid="trace-dataset-link">
                        {input.project}/{input.dataset}@{input.version}
                      </Link>
                    </td>
                    <td className="num">{formatNumber(input.rows)} rows</td>
                    <td>
                      <StatusBadge status={input.status} />
                    </td>
                  </tr>
                ))}
                {others.map((other) => {
                  const kind = String(other.kind ?? "input");
                  const ref = String(other.ref ?? "");
                  const label = String(other.label ?? ref);
                  const href = entityHref(kind, ref, label);
                  return (
                    <tr key={`${kind}:${ref}:${label}`}>
                      <td>{href ? <Link to={href}>{label}</Link> : label}</td>
                      <td className="muted" colSpan={2}>
                        {kind.replace("_", " ")}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </Step>

        <Step tone="env" kind="environment" title={env.python ? `Python ${env.python}` : "unknown"}>
          <KeyValue
            rows={[
              ["host", env.host ?? "unknown"],
              ["model needs", (env.requirements ?? []).join(", ") || "nothing recorded"],
            ]}
          />
          {(env.packages ?? []).length > 0 && (
            <details>
              <summary className="small">{env.packages?.length} packages installed in the run</summary>
              <div className="sv-pkgs">
                {(env.packages ?? []).map((name) => (
                  <div key={name}>{name}</div>
                ))}
              </div>
            </details>
          )}
        </Step>
      </ol>
      <p className="sv-cli">
        The same trace in a terminal: <code>dockyard trace {p.prediction_id}</code>
      </p>
    </div>
  );
}

function Step({ tone, kind, title, children }: { tone: string; kind: string; title: ReactNode; children: ReactNode }) {
  return (
    <li className="sv-step" data-testid={`trace-step-${tone}`}>
      <span className={`sv-dot ${tone}`} />
      <div className="panel">
        <h2>
          <span className="sv-kind">{kind}</span>
          {title}
        </h2>
        {children}
      </div>
    </li>
  );
}

function Card({ label, small = false, children }: { label: string; small?: boolean; children: ReactNode }) {
  return (
    <div className="card">
      <div className="value" style={small ? { fontSize: 15, paddingTop: 4 } : { fontSize: 18 }}>
        {children}
      </div>
      <div className="label">{label}</div>
    </div>
  );
}
