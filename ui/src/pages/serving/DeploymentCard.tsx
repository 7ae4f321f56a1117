// One served model: a row per server that serves it, with the version each alias answers
// with, the traffic split and shadows, and the server's counters and latency for it.
import { Link } from "react-router";
import { seg } from "../../api/client";
import { StatusBadge } from "../../components/StatusBadge";
import { formatNumber } from "../../format";
import {
  type Deployment,
  type History,
  type Replica,
  describeVersion,
  errorShare,
  formatLatency,
  formatRate,
  percent,
  rateOf,
  replicaKey,
  serverStatus,
  trafficShares,
} from "./logic";

export function DeploymentCard({ deployment, history }: { deployment: Deployment; history: History }) {
  const { name, replicas, live } = deployment;
  const href = `/models/${seg(name)}`;
  const rates = replicas.filter((r) => r.instance.live).map((r) => rateOf(history[replicaKey(r.instance.id, name)]));
  const known = rates.filter((r) => r !== null);
  const total = known.length > 0 ? known.reduce((sum, r) => sum + r.requests, 0) : null;
  return (
    <section className={`sv-deployment ${live ? "" : "sv-down"}`} data-testid="deployment" data-model={name}>
      <div className="sv-head">
        <Link className="sv-model" to={href}>
          {name}
        </Link>
        {deployment.frozen && (
          <span className="sv-frozen" title="Frozen: its aliases do not move and its servers stay on their versions until it is unfrozen" data-testid="frozen">
            frozen
          </span>
        )}
        <span className="sv-totals">
          <span>
            <b>{live}</b> live server{live === 1 ? "" : "s"}
          </span>
          <span>
            <b>{formatNumber(deployment.requests)}</b> requests
          </span>
          {live > 0 && (
            <span title="requests per second between the servers' last heartbeats">
              <b>{total === null ? "…" : formatRate(total)}</b>
            </span>
          )}
          <span>
            <b className={deployment.errors > 0 ? "sv-bad" : ""}>{formatNumber(deployment.errors)}</b> errors {deployment.requests > 0 && `(${errorShare(deployment.requests, deployment.errors)})`}
          </span>
          <span>
            <b>{formatNumber(deployment.rows)}</b> rows
          </span>
        </span>
        <span className="spacer" />
        <span className="sv-links">
          <Link to={href}>registry</Link>
          <Link to={`${href}/predictions`} data-testid="log-link">
            prediction log
          </Link>
        </span>
      </div>
      <div style={{ overflowX: "auto" }}>
        <table className="data">
          <thead>
            <tr>
              <th>Server</th>
              <th>Aliases → versions</th>
              <th>Traffic</th>
              <th className="num">Requests</th>
              <th className="num" title="requests per second between the last heartbeats">
                Rate
              </th>
              <th className="num">Errors</th>
              <th className="num">Rows</th>
              <th className="num" title="median latency of a request">
                p50
              </th>
              <th className="num">p99</th>
            </tr>
          </thead>
          <tbody>
            {replicas.map((replica) => (
              <ReplicaRow key={replica.instance.id} name={name} replica={replica} history={history} />
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function ReplicaRow({ name, replica, history }: { name: string; replica: Replica; history: History }) {
  const { instance, model } = replica;
  const shadows = new Set(model.shadow ?? []);
  const shares = trafficShares(model.traffic);
  const rate = instance.live ? rateOf(history[replicaKey(instance.id, name)]) : null;
  return (
    <tr data-testid="replica" data-instance={instance.id}>
      <td>
        <div className="sv-mono" title={`${instance.state.hostname || "?"} pid ${instance.state.pid} · ${model.uri}`}>
          {instance.address}
        </div>
        <StatusBadge status={serverStatus(instance)} />
      </td>
      <td>
        {(model.versions ?? []).length === 0 && <span className="muted">nothing loaded</span>}
        {(model.versions ?? []).map((v) => (
          <div key={v.alias} data-testid="served-version">
            <div className="sv-version" title={describeVersion(v)}>
              <span className={`sv-alias ${shadows.has(v.alias) ? "sv-shadow" : ""}`}>@{v.alias}</span>
              {v.version !== null && v.version !== undefined ? <Link to={`/models/${seg(name)}?version=${v.version}`}>v{v.version}</Link> : <span className="muted">—</span>}
              <StatusBadge status={v.state} />
              {shadows.has(v.alias) && <StatusBadge status="shadow" />}
            </div>
            {v.error && <div className="sv-version-error">{v.error}</div>}
          </div>
        ))}
      </td>
      <td>
        {shares.length > 0 && (
          <>
            <div className="sv-bar" aria-hidden>
              {shares.map((s) => (
                <span key={s.alias} style={{ width: `${s.percent}%` }} title={`@${s.alias} ${percent(s.percent)}`} />
              ))}
            </div>
            <div className="sv-split" data-testid="traffic">
              {shares.map((s) => `@${s.alias} ${percent(s.percent)}`).join(" · ")}
            </div>
          </>
        )}
        {shadows.size > 0 && (
          <div className="sv-split" data-testid="shadows">
            shadow: {[...shadows].map((a) => `@${a}`).join(", ")}
          </div>
        )}
      </td>
      <td className="num">{formatNumber(model.requests)}</td>
      <td className="num">{instance.live ? (rate === null ? <span className="muted" title="measured from the next heartbeat">…</span> : formatRate(rate.requests)) : <span className="muted">—</span>}</td>
      <td className="num">
        <span className={model.errors > 0 ? "sv-bad" : ""}>{formatNumber(model.errors)}</span>
        {model.errors > 0 && <div className="sv-split">{errorShare(model.requests, model.errors)}</div>}
      </td>
      <td className="num">{formatNumber(model.rows)}</td>
      <td className="num">{formatLatency(model.latency_p50_ms)}</td>
      <td className="num">{formatLatency(model.latency_p99_ms)}</td>
    </tr>
  );
}
