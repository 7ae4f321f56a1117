// Deployments: the models that model servers serve right now (or served, with stopped
// servers included), per server, refreshed every few seconds; and the servers themselves.
import { keepPreviousData } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { seg } from "../../api/client";
import { useGet } from "../../api/hooks";
import { ErrorMessage, Loading } from "../../components/ErrorMessage";
import { PageHeader } from "../../components/PageHeader";
import { StatusBadge } from "../../components/StatusBadge";
import { formatAgo, formatNumber, formatTime } from "../../format";
import { DeploymentCard } from "./DeploymentCard";
import { type History, type Instance, deployments, observe, serverStatus } from "./logic";
import { TraceSearch } from "./TraceSearch";
import "./serving.css";

/** How often the page asks again (servers report every 5 s). */
const REFRESH_MS = 5_000;

export default function Deployments() {
  const [params, setParams] = useSearchParams();
  const stopped = params.get("stopped") === "1";
  const instances = useGet<Instance[]>("/serving/instances", { live: !stopped, limit: 200 }, { refetchInterval: REFRESH_MS, placeholderData: keepPreviousData });
  const items = instances.data;
  // counters of successive heartbeats, for request rates
  const [history, setHistory] = useState<History>({});
  useEffect(() => {
    if (items) setHistory((old) => observe(old, items));
  }, [items]);
  const served = useMemo(() => deployments(items ?? []), [items]);
  const live = (items ?? []).filter((i) => i.live).length;

  return (
    <div>
      <PageHeader title="Deployments">
        <TraceSearch />
      </PageHeader>
      <div className="sv-toolbar">
        <label>
          <input
            type="checkbox"
            checked={stopped}
            data-testid="show-stopped"
            onChange={(e) =>
              setParams(
                (old) => {
                  const next = new URLSearchParams(old);
                  if (e.target.checked) next.set("stopped", "1");
                  else next.delete("stopped");
                  return next;
                },
                { replace: true },
              )
            }
          />
          include stopped servers
        </label>
        <span className="spacer" />
        {items && (
          <span className="muted small" data-testid="deployments-count">
            {live} live server{live === 1 ? "" : "s"} · {served.length} model{served.length === 1 ? "" : "s"} · refreshed every {REFRESH_MS / 1000} s
          </span>
        )}
      </div>
      {instances.error && <ErrorMessage error={instances.error} what="the model servers" />}
      {instances.isPending && <Loading what="model servers" />}
      {items && items.length === 0 && (
        <div className="sv-empty" data-testid="no-servers">
          <p>
            <strong>{stopped ? "No model server has reported yet." : "No model server is running."}</strong>
          </p>
          <p>
            Serve registered models with <code>dockyard serve models:/NAME@ALIAS</code>; servers report here every 5 s.
            {!stopped && " Servers that stopped are listed with “include stopped servers”."}
          </p>
        </div>
      )}
      {served.length > 0 && (
        <>
          <h2 className="sv-section">Models served</h2>
          {served.map((d) => (
            <DeploymentCard key={d.name} deployment={d} history={history} />
          ))}
        </>
      )}
      {items && items.length > 0 && (
        <>
          <h2 className="sv-section">Servers</h2>
          <ServersTable instances={items} />
        </>
      )}
    </div>
  );
}

function ServersTable({ instances }: { instances: Instance[] }) {
  return (
    <div className="sv-wrap">
      <table className="data" data-testid="servers">
        <thead>
          <tr>
            <th>Server</th>
            <th>Status</th>
            <th>Host</th>
            <th>Models</th>
            <th>Started</th>
            <th>Last heartbeat</th>
            <th className="num" title="predictions written to the log, of those given to it">
              Logged
            </th>
            <th className="num" title="predictions lost because the log's queue was full">
              Dropped
            </th>
            <th>Started by</th>
          </tr>
        </thead>
        <tbody>
          {instances.map((i) => {
            const s = i.state;
            const waiting = s.predictions_accepted - s.predictions_logged - s.predictions_dropped;
            const status = serverStatus(i);
            return (
              <tr key={i.id} data-testid="server-row" data-status={status}>
                <td className="sv-mono" title={`instance ${i.id}`}>
                  {i.address}
                </td>
                <td>
                  <StatusBadge status={status} />
                  {status === "lost" && <div className="sv-split">no heartbeat for over a minute and no stop recorded</div>}
                </td>
                <td>
                  {s.hostname || <span className="muted">?</span>}
                  {s.pid ? <span className="muted small"> pid {s.pid}</span> : null}
                </td>
                <td>
                  {(s.models ?? []).map((m, k) => (
                    <span key={m.name}>
                      {k > 0 && ", "}
                      <Link to={`/models/${seg(m.name)}`}>{m.name}</Link>
                    </span>
                  ))}
                </td>
                <td title={formatTime(i.started_at)}>{formatAgo(i.started_at)}</td>
                <td title={formatTime(i.heartbeat_at)}>
                  {formatAgo(i.heartbeat_at)}
                  {i.stopped_at && <div className="sv-split">stopped {formatTime(i.stopped_at)}</div>}
                </td>
                <td className="num">
                  {formatNumber(s.predictions_logged)} of {formatNumber(s.predictions_accepted)}
                  {waiting > 0 && <div className="sv-split">{formatNumber(waiting)} waiting</div>}
                </td>
                <td className="num">
                  <span className={s.predictions_dropped > 0 ? "sv-bad" : ""}>{formatNumber(s.predictions_dropped)}</span>
                </td>
                <td className="muted">{i.started_by}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
