// How servers treat the model: a banner while it is frozen (the Andon cord: who, when, why,
// how to unfreeze) and its traffic split between aliases (weights, shadows, sticky key).
import { Link } from "react-router";
import { type Schemas, seg } from "../../api/client";
import { formatAgo, formatTime } from "../../format";
import { describeTraffic, trafficArms } from "./logic";

type Model = Schemas["RegisteredModel"];

export function FrozenBanner({ model }: { model: Model }) {
  const frozen = model.frozen;
  if (!frozen) return null;
  return (
    <div className="md-frozen" role="alert" data-testid="frozen-banner">
      <strong>Frozen</strong> by {frozen.by} <span title={`${formatTime(frozen.at)} UTC`}>{formatAgo(frozen.at)}</span>: <q>{frozen.reason}</q>
      <div className="small">
        No alias of this model moves and its traffic stays as it is until someone runs <code>dockyard models unfreeze {model.name}</code>.
      </div>
    </div>
  );
}

export function TrafficPanel({ model }: { model: Model }) {
  const traffic = model.traffic;
  if (!traffic) return null;
  const arms = trafficArms(traffic, model.aliases);
  const base = `/models/${seg(model.name)}`;
  return (
    <section className="md-traffic" data-testid="traffic" aria-label={`traffic: ${describeTraffic(traffic)}`}>
      <h3>Traffic</h3>
      <div className="md-traffic-bar">
        {arms
          .filter((a) => a.weight > 0)
          .map((a, i) => (
            <div key={a.alias} className={`md-arm md-arm-${i % 4}`} style={{ flexGrow: a.weight }} title={`@${a.alias}: ${a.weight}% of requests`}>
              @{a.alias} {a.weight}%
            </div>
          ))}
      </div>
      <ul className="md-arms">
        {arms.map((a) => (
          <li key={a.alias}>
            <span className="md-alias">@{a.alias}</span>
            {a.version !== null ? <Link to={`${base}?version=${a.version}`}>v{a.version}</Link> : <span className="muted">no version</span>}{" "}
            {a.shadow ? <span className="muted">shadow: gets a copy, its answers are logged, never returned</span> : <span>answers {a.weight}%</span>}
          </li>
        ))}
      </ul>
      <div className="muted small">
        {traffic.sticky ? (
          <>
            sticky by <code>{traffic.sticky}</code>: one value always gets the same alias ·{" "}
          </>
        ) : null}
        set by {traffic.set_by} <span title={`${formatTime(traffic.set_at)} UTC`}>{formatAgo(traffic.set_at)}</span>
        {traffic.reason ? (
          <>
            {" "}
            · <q>{traffic.reason}</q>
          </>
        ) : null}
      </div>
    </section>
  );
}
