// Teams and their members. Everyone signed in may read them; only the server admin changes them.
import { useState } from "react";
import { seg } from "../../api/client";
import { ErrorMessage, Loading } from "../../components/ErrorMessage";
import { PageHeader } from "../../components/PageHeader";
import { formatAgo, formatTime } from "../../format";
import { type Team, useMe, useSend, useTeams, useUsers } from "./data";
import { isAdmin } from "./logic";
import { ConfirmButton, Problem } from "./parts";
import "./identity.css";

export default function Teams() {
  const me = useMe();
  const teams = useTeams();
  const admin = isAdmin(me.data);
  return (
    <div data-testid="teams-page">
      <PageHeader title="Teams" />
      {me.data && !admin && (
        <div className="notice" role="status" data-testid="needs-admin">
          <strong>Changing teams needs the server admin.</strong> You may read them: a role granted to a team in a project is held by each of its members.
        </div>
      )}
      {teams.error ? (
        <ErrorMessage error={teams.error} what="the teams could not be listed" />
      ) : teams.isPending ? (
        <Loading what="teams" />
      ) : (
        <>
          {admin && <NewTeam />}
          <TeamTable teams={teams.data} admin={admin} />
        </>
      )}
    </div>
  );
}

function NewTeam() {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [group, setGroup] = useState("");
  const create = useSend<Record<string, string>, Team>("POST", () => "/teams", (body) => body, ["/teams"]);
  return (
    <div className="panel">
      <h2>New team</h2>
      <form
        className="id-form"
        aria-label="new team"
        onSubmit={(event) => {
          event.preventDefault();
          create.mutate(
            { name: name.trim(), description: description.trim(), ...(group.trim() ? { sso_group: group.trim() } : {}) },
            {
              onSuccess: () => {
                setName("");
                setDescription("");
                setGroup("");
              },
            },
          );
        }}
      >
        <label>
          Team name
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={64} />
        </label>
        <label>
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} style={{ minWidth: 320 }} />
        </label>
        <label title="the members of this single sign-on group (the provider's group claim) join the team when they sign in">
          Single sign-on group
          <input value={group} onChange={(e) => setGroup(e.target.value)} placeholder="optional" maxLength={256} />
        </label>
        <button type="submit" className="primary" disabled={create.isPending}>
          Create team
        </button>
      </form>
      <Problem error={create.error} />
    </div>
  );
}

function TeamTable({ teams, admin }: { teams: Team[]; admin: boolean }) {
  const users = useUsers(admin);
  const remove = useSend<{ team: string; user: string }, Team>(
    "DELETE",
    (v) => `/teams/${seg(v.team)}/members/${seg(v.user)}`,
    () => undefined,
    ["/teams", "/users"],
  );
  const drop = useSend<string, void>("DELETE", (team) => `/teams/${seg(team)}`, () => undefined, ["/teams", "/projects"]);
  const now = Date.now();
  if (teams.length === 0)
    return (
      <div className="panel">
        <p className="muted">No team yet.{admin ? " Make one above, then grant it a role in a project on the project's page." : ""}</p>
      </div>
    );
  return (
    <div className="panel">
      <h2>Teams ({teams.length})</h2>
      <Problem error={remove.error ?? drop.error} />
      <datalist id="id-user-names">
        {(users.data ?? []).map((u) => (
          <option key={u.id} value={u.name} />
        ))}
      </datalist>
      <table className="data id-table" data-testid="teams">
        <thead>
          <tr>
            <th>Team</th>
            <th>Members</th>
            {admin && <th>Add a member</th>}
            <th>Created</th>
            {admin && <th />}
          </tr>
        </thead>
        <tbody>
          {teams.map((t) => (
            <tr key={t.id} data-testid="team-row" data-team={t.name}>
              <td>
                <b>{t.name}</b>
                {t.description && <div className="small muted">{t.description}</div>}
                {t.sso_group && <div className="small muted">single sign-on group: {t.sso_group}</div>}
              </td>
              <td data-testid="members">
                {t.members.length === 0 && <span className="muted">no members</span>}
                {t.members.map((m) => (
                  <span key={m} className="id-member">
                    {m}
                    {admin && (
                      <button type="button" aria-label={`Remove ${m} from ${t.name}`} title={`remove ${m}`} disabled={remove.isPending} onClick={() => remove.mutate({ team: t.name, user: m })}>
                        ×
                      </button>
                    )}
                  </span>
                ))}
              </td>
              {admin && (
                <td>
                  <AddMember team={t.name} />
                </td>
              )}
              <td className="muted" title={formatTime(t.created_at)}>
                {formatAgo(t.created_at, now)} by {t.created_by}
              </td>
              {admin && (
                <td>
                  <div className="id-actions">
                    <ConfirmButton
                      label="Delete"
                      name={`Delete team ${t.name}`}
                      question={`Delete ${t.name}? Its members lose the roles it was granted.`}
                      yes="Yes, delete"
                      pending={drop.isPending}
                      onConfirm={() => drop.mutate(t.name)}
                    />
                  </div>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function AddMember({ team }: { team: string }) {
  const [user, setUser] = useState("");
  const add = useSend<string, Team>("POST", () => `/teams/${seg(team)}/members`, (name) => ({ users: [name] }), ["/teams", "/users"]);
  return (
    <>
      <form
        className="row"
        aria-label={`add a member to ${team}`}
        onSubmit={(event) => {
          event.preventDefault();
          add.mutate(user.trim(), { onSuccess: () => setUser("") });
        }}
      >
        <input list="id-user-names" value={user} onChange={(e) => setUser(e.target.value)} aria-label={`User to add to ${team}`} placeholder="user" required />
        <button type="submit" aria-label={`Add to ${team}`} disabled={add.isPending}>
          Add
        </button>
      </form>
      <Problem error={add.error} />
    </>
  );
}
