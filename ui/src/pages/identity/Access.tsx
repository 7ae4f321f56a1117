// Who holds which role in a project (users and teams). Its owners and the server admin grant
// and revoke here; everyone else who may read the project sees the list.
import { useState } from "react";
import { seg } from "../../api/client";
import { ErrorMessage, Loading } from "../../components/ErrorMessage";
import { formatAgo, formatTime } from "../../format";
import { type Grant, useGrants, useMe, useSend, useTeams, useUsers } from "./data";
import { PROJECT_ROLES, type ProjectRole, grantBody, isAdmin, mayManageGrants, roleIn } from "./logic";
import { ConfirmButton, Problem } from "./parts";
import "./identity.css";

export function Access({ project }: { project: string }) {
  const me = useMe();
  const grants = useGrants(project);
  const manage = mayManageGrants(me.data, project);
  const revoke = useSend<Grant, void>(
    "DELETE",
    (g) => `/projects/${seg(project)}/grants/${g.subject_kind}/${seg(g.subject)}`,
    () => undefined,
    [`/projects/${seg(project)}/grants`, "/users/me"],
  );
  const held = roleIn(me.data, project);
  const now = Date.now();
  return (
    <div className="panel pp-panel-flush" id="access" data-testid="access">
      <div className="panel-title">
        <h2>Access</h2>
        <span className="small muted" data-testid="access-mode">
          {manage ? "you may grant and revoke roles here" : `read-only: granting needs the owner role${held ? ` (you are ${held} here)` : ""}`}
        </span>
      </div>
      <div style={{ padding: "0 14px" }}>
        {grants.error && <ErrorMessage error={grants.error} what="the grants could not be loaded" />}
        {grants.isPending && <Loading what="grants" />}
        <Problem error={revoke.error} />
      </div>
      {grants.data && grants.data.length === 0 && <div className="feed-empty">No user or team holds a role here yet (the server admin reaches every project).</div>}
      {grants.data && grants.data.length > 0 && (
        <table className="data pp-table id-table" data-testid="grants">
          <thead>
            <tr>
              <th>Who</th>
              <th>Role</th>
              <th>Granted</th>
              {manage && <th />}
            </tr>
          </thead>
          <tbody>
            {grants.data.map((g) => (
              <tr key={`${g.subject_kind}/${g.subject}`} data-testid="grant-row" data-subject={`${g.subject_kind}:${g.subject}`}>
                <td>
                  <b>{g.subject}</b> <span className="id-tag">{g.subject_kind}</span>
                </td>
                <td>{g.role}</td>
                <td className="muted" title={formatTime(g.granted_at)}>
                  {formatAgo(g.granted_at, now)} by {g.granted_by}
                </td>
                {manage && (
                  <td>
                    <div className="id-actions">
                      <ConfirmButton
                        label="Revoke"
                        name={`Revoke the role of ${g.subject_kind} ${g.subject}`}
                        question={`Take ${g.subject}'s ${g.role} role in ${project} away?`}
                        yes="Yes, revoke"
                        pending={revoke.isPending}
                        onConfirm={() => revoke.mutate(g)}
                      />
                    </div>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {manage && <GrantForm project={project} admin={isAdmin(me.data)} />}
    </div>
  );
}

function GrantForm({ project, admin }: { project: string; admin: boolean }) {
  const [kind, setKind] = useState<"user" | "team">("team");
  const [subject, setSubject] = useState("");
  const [role, setRole] = useState<ProjectRole>("viewer");
  const teams = useTeams();
  const users = useUsers(admin); // only the admin may list users; an owner types the name
  const grant = useSend<ReturnType<typeof grantBody>, Grant>("PUT", () => `/projects/${seg(project)}/grants`, (body) => body, [
    `/projects/${seg(project)}/grants`,
    "/users/me",
  ]);
  const names = kind === "team" ? (teams.data ?? []).map((t) => t.name) : (users.data ?? []).map((u) => u.name);
  return (
    <div style={{ padding: "10px 14px 14px" }}>
      <form
        className="id-form"
        aria-label="grant a role"
        onSubmit={(event) => {
          event.preventDefault();
          grant.mutate(grantBody(kind, subject, role), { onSuccess: () => setSubject("") });
        }}
      >
        <label>
          Grant to
          <select value={kind} onChange={(e) => setKind(e.target.value as "user" | "team")}>
            <option value="team">a team</option>
            <option value="user">a user</option>
          </select>
        </label>
        <label>
          {kind === "team" ? "Team" : "User"}
          <input list="id-grant-subjects" value={subject} onChange={(e) => setSubject(e.target.value)} required maxLength={64} />
        </label>
        <datalist id="id-grant-subjects">
          {names.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value as ProjectRole)}>
            {PROJECT_ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary" disabled={grant.isPending}>
          Grant
        </button>
      </form>
      <Problem error={grant.error} />
      <p className="small muted">
        viewer reads; editor writes runs, data and models; maintainer moves aliases and runs schedules, monitors and serving; owner manages access and may delete. Granting again replaces the role.
      </p>
    </div>
  );
}
