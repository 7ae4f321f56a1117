// The server's users and service accounts (the admin only): make one, make one admin,
// disable or enable one.
import { useState } from "react";
import { seg } from "../../api/client";
import { Loading } from "../../components/ErrorMessage";
import { PageHeader } from "../../components/PageHeader";
import { formatAgo, formatTime } from "../../format";
import { type User, type UserCreated, useMe, useSend, useUsers } from "./data";
import { AdminError, ConfirmButton, Problem, SecretOnce } from "./parts";
import "./identity.css";

export default function Users() {
  const users = useUsers();
  return (
    <div data-testid="users-page">
      <PageHeader title="Users" />
      {users.error ? (
        <AdminError error={users.error} what="the users could not be listed" />
      ) : users.isPending ? (
        <Loading what="users" />
      ) : (
        <>
          <NewUser />
          <UserTable users={users.data} />
        </>
      )}
    </div>
  );
}

function NewUser() {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [kind, setKind] = useState<"user" | "service">("user");
  const [password, setPassword] = useState("");
  const [admin, setAdmin] = useState(false);
  const [token, setToken] = useState(false);
  const create = useSend<Record<string, unknown>, UserCreated>("POST", () => "/users", (body) => body, ["/users", "/teams"]);
  return (
    <div className="panel">
      <h2>New user or service account</h2>
      {create.data?.token && (
        <SecretOnce title={`The API token of ${create.data.name}`} secret={create.data.token} onDone={() => create.reset()} />
      )}
      <form
        className="id-form"
        aria-label="new user"
        onSubmit={(event) => {
          event.preventDefault();
          const body: Record<string, unknown> = { name: name.trim(), email: email.trim(), kind, admin, token };
          if (kind === "user" && password) body.password = password;
          create.mutate(body, {
            onSuccess: () => {
              setName("");
              setEmail("");
              setPassword("");
              setAdmin(false);
              setToken(false);
            },
          });
        }}
      >
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={64} />
        </label>
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind(e.target.value as "user" | "service")}>
            <option value="user">person</option>
            <option value="service">service account</option>
          </select>
        </label>
        <label>
          Email
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        {kind === "user" && (
          <label>
            Initial password
            <input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} placeholder="at least 12 characters" />
          </label>
        )}
        {kind === "user" && (
          <label className="check">
            <input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.target.checked)} />
            server admin
          </label>
        )}
        <label className="check">
          <input type="checkbox" checked={token} onChange={(e) => setToken(e.target.checked)} />
          with an API token
        </label>
        <button type="submit" className="primary" disabled={create.isPending}>
          Create user
        </button>
      </form>
      <Problem error={create.error} />
      {create.data && !create.data.token && (
        <div className="id-done" role="status">
          Created {create.data.name}.
        </div>
      )}
      <p className="small muted">
        A person signs in with the password (or with a token); a service account has no password and uses tokens only. Grant either a role in a project on the project's page.
      </p>
    </div>
  );
}

/** "password, single sign-on or token", "tokens only". */
function signsInWith(user: User): string {
  const ways = [user.has_password && "password", user.sso_subject && "single sign-on"].filter(Boolean);
  return ways.length ? `${ways.join(", ")} or token` : "tokens only";
}

function UserTable({ users }: { users: User[] }) {
  const me = useMe();
  const update = useSend<{ name: string; body: Record<string, boolean> }, User>(
    "PATCH",
    (v) => `/users/${seg(v.name)}`,
    (v) => v.body,
    ["/users", "/teams"],
  );
  const now = Date.now();
  return (
    <div className="panel">
      <h2>Users ({users.length})</h2>
      <Problem error={update.error} />
      <table className="data id-table" data-testid="users">
        <thead>
          <tr>
            <th>Name</th>
            <th>Email</th>
            <th>Teams</th>
            <th>Signs in with</th>
            <th>Created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {users.map((u) => {
            const self = u.name === me.data?.name;
            return (
              <tr key={u.id} data-testid="user-row" data-user={u.name} className={u.disabled ? "off" : ""}>
                <td>
                  <b>{u.name}</b>
                  {u.kind === "service" && <span className="id-tag">service account</span>}
                  {u.admin && <span className="id-tag admin">admin</span>}
                  {u.disabled && <span className="id-tag off">disabled</span>}
                </td>
                <td>{u.email || <span className="muted">—</span>}</td>
                <td>{u.teams?.length ? u.teams.join(", ") : <span className="muted">—</span>}</td>
                <td className="small">{signsInWith(u)}</td>
                <td className="muted" title={formatTime(u.created_at)}>
                  {formatAgo(u.created_at, now)} by {u.created_by}
                </td>
                <td>
                  <div className="id-actions">
                    {self ? (
                      <span className="small muted">you</span>
                    ) : (
                      <>
                        {u.kind === "user" && (
                          <button
                            type="button"
                            aria-label={u.admin ? `Take admin from ${u.name}` : `Make ${u.name} admin`}
                            disabled={update.isPending}
                            onClick={() => update.mutate({ name: u.name, body: { admin: !u.admin } })}
                          >
                            {u.admin ? "Take admin" : "Make admin"}
                          </button>
                        )}
                        {u.disabled ? (
                          <button type="button" aria-label={`Enable ${u.name}`} disabled={update.isPending} onClick={() => update.mutate({ name: u.name, body: { disabled: false } })}>
                            Enable
                          </button>
                        ) : (
                          <ConfirmButton
                            label="Disable"
                            name={`Disable ${u.name}`}
                            question={`Disable ${u.name}? Their tokens stop working.`}
                            yes="Yes, disable"
                            pending={update.isPending}
                            onConfirm={() => update.mutate({ name: u.name, body: { disabled: true } })}
                          />
                        )}
                      </>
                    )}
                  </div>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
