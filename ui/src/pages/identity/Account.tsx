// Your account: your API tokens (make one, shown once; revoke one) and your password.
import { useState } from "react";
import { seg } from "../../api/client";
import { useGet } from "../../api/hooks";
import { Pending } from "../../components/ErrorMessage";
import { PageHeader } from "../../components/PageHeader";
import { Tabs } from "../../components/Tabs";
import { formatAgo, formatTime } from "../../format";
import { useProjects } from "../project/data";
import { type Token, type TokenCreated, type User, useMe, useSend, useTokens } from "./data";
import { EXPIRIES, type Me, PROJECT_ROLES, orderTokens, passwordProblem, tokenBody, tokenScope, tokenState } from "./logic";
import { ConfirmButton, Problem, SecretOnce } from "./parts";
import "./identity.css";

export default function Account() {
  const me = useMe();
  return (
    <div data-testid="account-page">
      <PageHeader title={me.data ? `Your account · ${me.data.name}` : "Your account"} />
      <Pending query={me} what="who you are" />
      {me.data && (
        <Tabs
          tabs={[
            { id: "tokens", label: "Your tokens", render: () => <TokensTab me={me.data} /> },
            { id: "password", label: "Password", render: () => <PasswordTab me={me.data} /> },
          ]}
        />
      )}
    </div>
  );
}

function NoAccount({ me, what }: { me: Me; what: string }) {
  return (
    <p className="notice" role="status" data-testid="no-account">
      You reach this server as <b>{me.name}</b> ({me.kind}), which has no account: {what} belong to accounts. Sign in as a user to manage them.
    </p>
  );
}

function TokensTab({ me }: { me: Me }) {
  if (me.kind !== "user" && me.kind !== "service") return <NoAccount me={me} what="API tokens" />;
  return (
    <>
      <NewToken me={me} />
      <TokenList />
    </>
  );
}

function NewToken({ me }: { me: Me }) {
  const projects = useProjects();
  const [name, setName] = useState("");
  const [project, setProject] = useState("");
  const [role, setRole] = useState("");
  const [expiry, setExpiry] = useState(String(EXPIRIES[2][1]));
  const create = useSend<Record<string, unknown>, TokenCreated>("POST", () => "/tokens", (body) => body, ["/tokens"]);
  // a non-admin can only limit a token to a project they hold a role in
  const names = (projects.data?.items ?? []).map((p) => p.name).filter((p) => me.role !== null || p in me.projects);
  return (
    <div className="panel">
      <h2>New token</h2>
      {create.data && <SecretOnce title={`Your new token “${create.data.name}”`} secret={create.data.token} onDone={() => create.reset()} />}
      <form
        className="id-form"
        aria-label="new token"
        onSubmit={(event) => {
          event.preventDefault();
          create.mutate(tokenBody(name, project, role, expiry === "" ? null : Number(expiry)), { onSuccess: () => setName("") });
        }}
      >
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={64} placeholder="ci" />
        </label>
        <label>
          Project
          <select value={project} onChange={(e) => setProject(e.target.value)}>
            <option value="">every project you may use</option>
            {names.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value)}>
            <option value="">the roles you hold</option>
            {PROJECT_ROLES.map((r) => (
              <option key={r} value={r}>
                at most {r}
              </option>
            ))}
          </select>
        </label>
        <label>
          Expires
          <select value={expiry} onChange={(e) => setExpiry(e.target.value)}>
            {EXPIRIES.map(([label, seconds]) => (
              <option key={label} value={seconds === null ? "" : String(seconds)}>
                {seconds === null ? label : `in ${label}`}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary" disabled={create.isPending}>
          Create token
        </button>
      </form>
      <Problem error={create.error} />
      <p className="small muted">A token never holds more than you do; limit it to one project or a lower role for a machine that needs less.</p>
    </div>
  );
}

function TokenList() {
  const tokens = useTokens();
  const revoke = useSend<string, Token>("DELETE", (id) => `/tokens/${seg(id)}`, () => undefined, ["/tokens"]);
  const now = Date.now();
  return (
    <div className="panel">
      <h2>Your tokens</h2>
      <Pending query={tokens} what="your tokens" />
      <Problem error={revoke.error} />
      {tokens.data && tokens.data.length === 0 && <p className="muted">You have no token yet.</p>}
      {tokens.data && tokens.data.length > 0 && (
        <table className="data id-table" data-testid="tokens">
          <thead>
            <tr>
              <th>Name</th>
              <th>Limits</th>
              <th>Created</th>
              <th>Expires</th>
              <th>Last used</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {orderTokens(tokens.data, now).map((t) => {
              const state = tokenState(t, now);
              return (
                <tr key={t.id} data-testid="token-row" data-token={t.name} data-state={state} className={state === "active" ? "" : "off"}>
                  <td>
                    <b>{t.name}</b> <span className="small muted mono" title={t.id}>…{t.id.slice(-6)}</span>
                  </td>
                  <td>{tokenScope(t)}</td>
                  <td title={formatTime(t.created_at)}>{formatAgo(t.created_at, now)}</td>
                  <td title={formatTime(t.expires_at)}>{t.expires_at ? formatTime(t.expires_at) : <span className="muted">never</span>}</td>
                  <td title={formatTime(t.last_used_at)}>{t.last_used_at ? formatAgo(t.last_used_at, now) : <span className="muted">never</span>}</td>
                  <td>
                    {state === "revoked" ? (
                      <span className="status status-cancelled" title={formatTime(t.revoked_at)}>
                        revoked {formatAgo(t.revoked_at, now)}
                      </span>
                    ) : state === "expired" ? (
                      <span className="status status-cancelled">expired</span>
                    ) : (
                      <span className="status status-ok">active</span>
                    )}
                  </td>
                  <td>
                    <div className="id-actions">
                      {state !== "revoked" && (
                        <ConfirmButton
                          label="Revoke"
                          name={`Revoke token ${t.name}`}
                          question={`Revoke ${t.name}? What uses it stops working at once.`}
                          yes="Yes, revoke"
                          pending={revoke.isPending}
                          onConfirm={() => revoke.mutate(t.id)}
                        />
                      )}
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}

function PasswordTab({ me }: { me: Me }) {
  const user = useGet<User>(me.kind === "user" ? `/users/${seg(me.name)}` : null);
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [local, setLocal] = useState<string | null>(null);
  const change = useSend<Record<string, unknown>, void>("PUT", () => `/users/${seg(me.name)}/password`, (body) => body, [`/users/${seg(me.name)}`]);
  if (me.kind !== "user") return <NoAccount me={me} what="passwords" />;
  return (
    <div className="panel">
      <h2>Change your password</h2>
      <Pending query={user} what="your account" />
      <form
        className="id-form stacked"
        aria-label="change password"
        onSubmit={(event) => {
          event.preventDefault();
          const problem = passwordProblem(next, again);
          setLocal(problem);
          if (problem) return;
          change.mutate(user.data?.has_password ? { current, new: next } : { new: next }, {
            onSuccess: () => {
              setCurrent("");
              setNext("");
              setAgain("");
            },
          });
        }}
      >
        {user.data?.has_password !== false && (
          <label>
            Current password
            <input type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} />
          </label>
        )}
        <label>
          New password
          <input type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} required />
        </label>
        <label>
          New password again
          <input type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} required />
        </label>
        <button type="submit" className="primary" disabled={change.isPending}>
          Change password
        </button>
      </form>
      {local ? <Problem error={{ message: local }} /> : <Problem error={change.error} />}
      {change.isSuccess && (
        <div className="id-done" role="status">
          Your password is changed. The tokens you hold (this browser's included) keep working.
        </div>
      )}
      <p className="small muted">At least 12 characters.</p>
    </div>
  );
}
