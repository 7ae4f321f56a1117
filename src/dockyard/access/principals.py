"""The principal behind an API token: its user, the roles they hold (their own grants and
their teams'), narrowed to what the token was limited to."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dockyard.core.principal import Principal, Role, higher
from dockyard.store.tables import ApiTokenRow, ProjectGrantRow, TeamMemberRow, UserRow


def has_accounts(session: Session) -> bool:
    """Whether any account exists (a server without one and without tokens is open)."""
    return session.scalar(select(UserRow.id).limit(1)) is not None


def project_roles(session: Session, user_id: str) -> dict[str, Role]:
    """Project id -> the strongest role the user holds there, directly or through a team."""
    teams = select(TeamMemberRow.team_id).where(TeamMemberRow.user_id == user_id)
    rows = session.execute(
        select(ProjectGrantRow.project_id, ProjectGrantRow.role).where(
            ((ProjectGrantRow.subject_kind == "user") & (ProjectGrantRow.subject_id == user_id))
            | ((ProjectGrantRow.subject_kind == "team") & ProjectGrantRow.subject_id.in_(teams))
        )
    )
    roles: dict[str, Role] = {}
    for project_id, role in rows:
        roles[project_id] = higher(roles.get(project_id), Role(role)) or Role(role)
    return roles


def capped(role: Role | None, cap: Role | None) -> Role | None:
    """``role``, but no more than ``cap`` (None: no cap)."""
    if role is None or cap is None:
        return role
    return role if cap.allows(role) else cap


def user_principal(
    session: Session, user: UserRow, *, project_id: str | None = None, cap: Role | None = None
) -> Principal:
    """The principal of ``user``, limited to ``project_id`` and ``cap`` when given."""
    held = {} if user.is_admin else project_roles(session, user.id)
    if project_id is None:
        role = capped(Role.ADMIN, cap) if user.is_admin else None
        grants = {p: r for p, r in ((p, capped(r, cap)) for p, r in held.items()) if r}
        return Principal(
            name=user.name, kind=user.kind, role=role, grants=grants, user_id=user.id,
            may_create_projects=cap is None or cap.allows(Role.EDITOR), limited=cap is not None,
        )  # fmt: skip
    there = Role.OWNER if user.is_admin else held.get(project_id)
    limited = capped(there, cap)
    return Principal(
        name=user.name, kind=user.kind, role=None,
        grants={project_id: limited} if limited else {}, user_id=user.id,
        may_create_projects=False, limited=True,
    )  # fmt: skip


USED_EVERY = dt.timedelta(minutes=1)
"""A token's ``last_used_at`` is written at most this often (not at every request)."""


def token_principal(
    session: Session, digest: str, now: dt.datetime
) -> tuple[Principal, str | None] | None:
    """The principal of the live token with ``digest`` (None: unknown, expired, revoked, or
    its user disabled), and the token's id when it is due to be marked used (at most once a
    minute: :func:`mark_used`)."""
    found = session.execute(
        select(ApiTokenRow, UserRow)
        .join(UserRow, UserRow.id == ApiTokenRow.user_id)
        .where(ApiTokenRow.digest == digest)
    ).first()
    if found is None:
        return None
    token, user = found
    if token.revoked_at is not None or user.disabled:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    due = token.last_used_at is None or now - token.last_used_at >= USED_EVERY
    cap = Role(token.role) if token.role else None
    principal = user_principal(session, user, project_id=token.project_id, cap=cap)
    return principal, token.id if due else None


def mark_used(session: Session, token_id: str, now: dt.datetime) -> None:
    session.execute(update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(last_used_at=now))
