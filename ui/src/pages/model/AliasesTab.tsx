// Each alias of a model: the version it points at, the gates a version must pass to get it,
// and every move it made (who, when, from which version to which, why, the gate report).
import { Link } from "react-router";
import { type Schemas, seg } from "../../api/client";
import { useGet } from "../../api/hooks";
import { Pending } from "../../components/ErrorMessage";
import { StatusBadge } from "../../components/StatusBadge";
import { formatAgo, formatNumber, formatTime } from "../../format";
import { describeGate, describeMove, moveStatus, orderHistory } from "./logic";

type Alias = Schemas["Alias"];

export function AliasesTab({ name, aliases }: { name: string; aliases: Alias[] }) {
  if (aliases.length === 0)
    return (
      <div className="md-empty" data-testid="aliases">
        <p>
          <strong>No aliases yet.</strong>
        </p>
        <p>
          Point one at a version with <code>dy.set_alias("{name}", "champion", 3)</code>; loading <code>models:/{name}@champion</code> then follows it.
        </p>
      </div>
    );
  return (
    <div data-testid="aliases">
      {aliases.map((alias) => (
        <AliasPanel key={alias.alias} name={name} alias={alias} />
      ))}
    </div>
  );
}

function AliasPanel({ name, alias }: { name: string; alias: Alias }) {
  const history = useGet<Schemas["AliasMove"][]>(`/models/${seg(name)}/aliases/${seg(alias.alias)}/history`);
  const moves = orderHistory(history.data ?? []);
  const gates = alias.policy?.gates ?? [];
  return (
    <section className="md-alias-panel" data-testid="alias-panel">
      <div className="md-alias-head">
        <span className="md-alias-name">@{alias.alias}</span>
        <span className="md-points">
          →{" "}
          {alias.version ? (
            <Link to={`/models/${seg(name)}?version=${alias.version}`}>
              <strong>v{alias.version}</strong>
            </Link>
          ) : (
            <span className="muted">no version</span>
          )}
        </span>
        <span className="spacer" />
        <span className="muted small" title={formatTime(alias.updated_at)}>
          moved {formatAgo(alias.updated_at)} by {alias.updated_by}
        </span>
      </div>
      <div className="md-alias-body">
        <div>
          <h3>Gate policy</h3>
          {gates.length === 0 ? (
            <p className="muted small">No gates: any version may take this alias.</p>
          ) : (
            <>
              <ul className="md-gate-list">
                {gates.map((g, i) => (
                  <li key={i} className="md-gate">
                    <div className="md-gate-rule">{describeGate(g)}</div>
                  </li>
                ))}
              </ul>
              <p className="muted small">
                A version must pass every gate (on an evaluation run that loaded it) to take @{alias.alias}. Overriding a failed gate needs a reason and is allowed to{" "}
                {alias.policy?.override_by?.length ? alias.policy.override_by.join(", ") : "the server's admins"}.
              </p>
            </>
          )}
        </div>
        <div>
          <h3>History {history.data && <span className="muted">({moves.length} move{moves.length === 1 ? "" : "s"})</span>}</h3>
          <Pending query={history} what="the alias history" />
          {history.data && moves.length === 0 && <p className="muted small">No moves recorded.</p>}
          <ol className="md-timeline">
            {moves.map((move, i) => (
              <Move key={i} name={name} move={move} />
            ))}
          </ol>
        </div>
      </div>
    </section>
  );
}

/** One event of the timeline; ``showAlias`` names the alias moved (or "model"). */
export function Move({ name, move, showAlias = false }: { name: string; move: Schemas["AliasMove"]; showAlias?: boolean }) {
  const status = moveStatus(move);
  const checks = move.gate?.checks ?? [];
  return (
    <li className="md-move" data-testid="alias-move">
      <span className={`md-dot ${status}`} />
      <div className="md-move-head">
        {showAlias && (move.alias ? <span className="md-alias">@{move.alias}</span> : <span className="md-tag">model</span>)}
        <span className="md-move-what">{describeMove(move)}</span>
        {move.to_version !== null && (
          <Link to={`/models/${seg(name)}?version=${move.to_version}`} className="small">
            open v{move.to_version}
          </Link>
        )}
        <span className="ds-spacer" />
        {move.gate && <StatusBadge status={move.gate.passed ? "passed" : "failed"} />}
        {move.action === "override" && <span className="status status-failed">override</span>}
        {move.action === "rollback" && <span className="status status-pending">rollback</span>}
        {move.action === "freeze" && <span className="status status-failed">frozen</span>}
        {move.rolled_back && <span className="md-rolled">rolled back later</span>}
      </div>
      <div className="md-move-meta">
        {formatTime(move.at)} UTC · by {move.actor}
      </div>
      {move.reason && (
        <div className="md-move-reason">
          <q>{move.reason}</q>
        </div>
      )}
      {checks.length > 0 && (
        <div className="md-checks">
          <table className="data">
            <thead>
              <tr>
                <th>Gate</th>
                <th>Result</th>
                <th className="num">Value</th>
                <th className="num" title="the value of the version the alias pointed at">Current version</th>
                <th>Evaluation run</th>
              </tr>
            </thead>
            <tbody>
              {checks.map((c, j) => (
                <tr key={j} className={c.passed ? "" : "removed"}>
                  <td>
                    <div className="md-mono">{c.gate}</div>
                    <div className="muted small">{c.message}</div>
                  </td>
                  <td>
                    <StatusBadge status={c.passed ? "passed" : "failed"} />
                  </td>
                  <td className="num">{c.value === null || c.value === undefined ? "—" : formatNumber(c.value)}</td>
                  <td className="num">{c.current_value === null || c.current_value === undefined ? "—" : formatNumber(c.current_value)}</td>
                  <td>{c.run_id ? <Link to={`/runs/${seg(c.run_id)}`} className="md-mono">{c.run_id.slice(0, 12)}…</Link> : <span className="muted">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </li>
  );
}
