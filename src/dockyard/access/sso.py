"""Accounts of single sign-on: the user an OpenID Connect identity is, made on first sign-in,
and the teams its groups put it in.

An identity is its issuer and subject (``iss``, ``sub``), never a name or an email the
provider lets people choose: a new identity gets a new account named after its
``preferred_username`` (or its email's local part, or its subject), and signs in only if that
name is free: an account made by hand is never taken over by someone who picked its name at
the provider. The admin links such an account by setting its identity (``dockyard users
update NAME --sso-issuer URL --sso-subject SUB``).

Teams whose ``sso_group`` is set have exactly the members the provider says are in that group,
as of each member's last sign-in; teams without one are managed by hand only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from dockyard.core.errors import Conflict, Unauthorized
from dockyard.core.ids import new_id
from dockyard.core.tokens import RESERVED_NAMES
from dockyard.store.tables import TeamMemberRow, TeamRow, UserRow, utcnow

MAX_GROUPS = 1000
"""At most this many groups of one sign-in are read (the rest are ignored)."""
_NOT_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Identity:
    """What a provider said about who signed in (its ID token's and userinfo's claims)."""

    issuer: str
    subject: str
    name: str
    email: str
    groups: frozenset[str]


def identity(issuer: str, claims: Mapping[str, Any], groups_claim: str) -> Identity:
    """The identity in ``claims``, checked (401 when a claim needed is missing or odd)."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 0 < len(subject) <= 256:
        raise Unauthorized("the identity provider's answer names no subject (sub)")
    email = claims.get("email")
    email = email if isinstance(email, str) and len(email) <= 256 and "@" in email else ""
    if email and claims.get("email_verified") is False:
        email = ""  # an address the provider has not checked is not shown as theirs
    name = ""
    for candidate in (claims.get("preferred_username"), email.partition("@")[0], subject):
        if isinstance(candidate, str):
            name = _NOT_NAME.sub("-", candidate).strip("-._")[:64]
            if name:
                break
    if not name or name.lower() in RESERVED_NAMES | {"server"}:
        name = "user-" + _NOT_NAME.sub("-", subject)[:59]
    raw = claims.get(groups_claim, [])
    listed = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    groups = frozenset(g for g in listed[:MAX_GROUPS] if isinstance(g, str) and len(g) <= 256)
    return Identity(issuer[:256], subject, name, email, groups)


def account(session: Session, who: Identity, admin_group: str | None) -> UserRow:
    """The account of ``who``: found by its identity, or made now; its email, admin right
    (when ``admin_group`` is set) and group teams brought up to date."""
    row = session.scalar(
        select(UserRow).where(UserRow.sso_issuer == who.issuer, UserRow.sso_subject == who.subject)
    )
    now = utcnow()
    if row is None:
        taken = session.scalar(select(UserRow.id).where(UserRow.name == who.name))
        if taken is not None:
            raise Conflict(
                f"an account named {who.name!r} exists and signs in another way: the admin can "
                f"link it to this sign-on with `dockyard users update {who.name} "
                f"--sso-issuer {who.issuer} --sso-subject {who.subject}`"
            )
        first = session.scalar(select(func.count()).select_from(UserRow)) == 0
        row = UserRow(
            id=new_id(),
            name=who.name,
            email=who.email,
            kind="user",
            password_hash=None,
            # with an admin group, its members are the admins, and only they
            is_admin=admin_group in who.groups if admin_group is not None else first,
            disabled=False,
            created_by="sso",
            created_at=now,
            updated_at=now,
            sso_issuer=who.issuer,
            sso_subject=who.subject,
        )
        session.add(row)
        session.flush()
    elif row.disabled:
        raise Unauthorized(f"the account {row.name!r} is disabled: ask the server's admin")
    else:
        if who.email and row.email != who.email:
            row.email = who.email
            row.updated_at = now
        if admin_group is not None and row.is_admin != (admin_group in who.groups):
            row.is_admin = admin_group in who.groups
            row.updated_at = now
    _sync_teams(session, row.id, who.groups)
    return row


def _sync_teams(session: Session, user_id: str, groups: frozenset[str]) -> None:
    """Make the user a member of exactly the group teams of ``groups``."""
    mapped = session.execute(
        select(TeamRow.id, TeamRow.sso_group).where(TeamRow.sso_group.is_not(None))
    )
    wanted = {team for team, group in mapped if group in groups}
    everyone = select(TeamRow.id).where(TeamRow.sso_group.is_not(None))
    held = set(
        session.scalars(
            select(TeamMemberRow.team_id).where(
                TeamMemberRow.user_id == user_id, TeamMemberRow.team_id.in_(everyone)
            )
        )
    )
    for team in wanted - held:
        session.add(TeamMemberRow(team_id=team, user_id=user_id))
    if held - wanted:
        session.execute(
            delete(TeamMemberRow).where(
                TeamMemberRow.user_id == user_id, TeamMemberRow.team_id.in_(held - wanted)
            )
        )
