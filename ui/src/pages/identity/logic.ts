// What the identity pages decide without the server: who may manage what, a token's state,
// expiry choices, and what a form would send.
import { ApiError, type Schemas } from "../../api/client";
import { parseTime } from "../../format";

export type Me = Schemas["Me"];
export type ProjectRole = Schemas["GrantPut"]["role"];

/** The roles a project grants, weakest first (each includes the ones before it). */
export const PROJECT_ROLES: readonly ProjectRole[] = ["viewer", "editor", "maintainer", "owner"];

const RANK: Record<string, number> = { viewer: 0, editor: 1, maintainer: 2, owner: 3, admin: 4 };

/** Whether the caller is the server's admin (an admin user, or the admin token). */
export const isAdmin = (me: Me | undefined | null): boolean => me?.role === "admin";

/** The role the caller holds in `project`: the stronger of their server-wide role and their grant there. */
export function roleIn(me: Me | undefined | null, project: string): string | null {
  if (!me) return null;
  const roles = [me.role, me.projects[project]].filter((r): r is NonNullable<typeof r> => Boolean(r));
  if (roles.length === 0) return null;
  return roles.reduce((a, b) => (RANK[b] > RANK[a] ? b : a));
}

/** Whether the caller may change a project's grants (its owners and the admin may). */
export const mayManageGrants = (me: Me | undefined | null, project: string): boolean => {
  const role = roleIn(me, project);
  return role !== null && RANK[role] >= RANK.owner;
};

/** The choices of a new token's lifetime: label and seconds (null: it never expires). */
export const EXPIRIES: readonly [string, number | null][] = [
  ["7 days", 7 * 86_400],
  ["30 days", 30 * 86_400],
  ["90 days", 90 * 86_400],
  ["1 year", 365 * 86_400],
  ["never", null],
];

export type TokenState = "active" | "expired" | "revoked";

/** Whether a token still works at `now` (ms). */
export function tokenState(token: Pick<Schemas["Token"], "expires_at" | "revoked_at">, now: number = Date.now()): TokenState {
  if (token.revoked_at) return "revoked";
  const expires = parseTime(token.expires_at);
  if (expires !== null && expires <= now) return "expired";
  return "active";
}

/** "fraud · editor", "fraud", "editor everywhere it reaches", "all your roles". */
export function tokenScope(token: Pick<Schemas["Token"], "project" | "role">): string {
  if (token.project && token.role) return `${token.project} · ${token.role}`;
  if (token.project) return `${token.project} only`;
  if (token.role) return `at most ${token.role}`;
  return "all your roles";
}

/** Active tokens first (newest first), then expired, then revoked. */
export function orderTokens<T extends Schemas["Token"]>(tokens: T[], now: number = Date.now()): T[] {
  const order: Record<TokenState, number> = { active: 0, expired: 1, revoked: 2 };
  return [...tokens].sort(
    (a, b) =>
      order[tokenState(a, now)] - order[tokenState(b, now)] || (parseTime(b.created_at) ?? 0) - (parseTime(a.created_at) ?? 0),
  );
}

/** The body of POST /tokens from the form's fields (empty project or role: no limit). */
export function tokenBody(name: string, project: string, role: string, expiresIn: number | null): Schemas["TokenCreate"] {
  const body: Schemas["TokenCreate"] = { name: name.trim() };
  if (project.trim()) body.project = project.trim();
  if (role) body.role = role as ProjectRole;
  if (expiresIn !== null) body.expires_in = expiresIn;
  return body;
}

/** What is wrong with a new password before the server is asked (null: nothing). */
export function passwordProblem(password: string, again: string): string | null {
  if (password.length < 12) return "the new password needs at least 12 characters";
  if (password !== again) return "the two new passwords differ";
  return null;
}

/** The body of PUT /projects/{project}/grants for a user or a team. */
export function grantBody(kind: "user" | "team", subject: string, role: ProjectRole): Schemas["GrantPut"] {
  return kind === "user" ? { user: subject.trim(), role } : { team: subject.trim(), role };
}

/** Whether a failed query means "only the server admin may": a 403 on an admin operation. */
export const needsAdmin = (error: unknown): boolean =>
  error instanceof ApiError && error.status === 403 && (error.details.needed === "admin" || /needs the admin role/.test(error.message));
