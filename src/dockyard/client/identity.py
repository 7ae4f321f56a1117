"""Users, teams, project grants and API tokens from the SDK: ``dy.connect().identity``."""

from __future__ import annotations

from typing import Any

from dockyard.access.schemas import (
    Grant,
    GrantPut,
    Login,
    Me,
    Members,
    PasswordChange,
    Team,
    TeamCreate,
    TeamUpdate,
    Token,
    TokenCreate,
    TokenCreated,
    TokenQuery,
    User,
    UserCreate,
    UserCreated,
    UserUpdate,
)
from dockyard.access.service import IdentityService
from dockyard.client.transport import Transport
from dockyard.core.operations import build, operations_by_name

_OPS = operations_by_name(IdentityService)


class IdentityClient:
    """Accounts, teams, who holds which role in a project, and API tokens."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _call(self, name: str, **arguments: object) -> Any:
        return self._transport.call(_OPS[name], arguments)

    # -- users ---------------------------------------------------------------------------

    def create_user(
        self,
        name: str,
        *,
        email: str = "",
        service: bool = False,
        password: str | None = None,
        admin: bool = False,
        token: bool = False,
    ) -> UserCreated:
        """Create a user (or, with ``service``, a service account); with ``token``, also an
        API token for it, in ``.token`` of the answer (shown only now)."""
        body = build(
            UserCreate,
            name=name,
            email=email,
            kind="service" if service else "user",
            password=password,
            admin=admin,
            token=token,
        )
        result: UserCreated = self._call("create_user", body=body)
        return result

    def users(self) -> list[User]:
        """Every user and service account (the admin only)."""
        result: list[User] = self._call("list_users")
        return result

    def user(self, name: str) -> User:
        """A user: yourself, or anyone for the admin."""
        result: User = self._call("get_user", user=name)
        return result

    def me(self) -> Me:
        """Who the server takes you for, and your roles by project."""
        result: Me = self._call("me")
        return result

    def update_user(
        self,
        name: str,
        *,
        email: str | None = None,
        admin: bool | None = None,
        disabled: bool | None = None,
        sso_issuer: str | None = None,
        sso_subject: str | None = None,
    ) -> User:
        """Change a user's email, admin role or whether they are disabled, or link their
        account to a single sign-on identity (issuer and subject; empty strings unlink it):
        the admin only."""
        body = build(
            UserUpdate,
            email=email,
            admin=admin,
            disabled=disabled,
            sso_issuer=sso_issuer,
            sso_subject=sso_subject,
        )
        result: User = self._call("update_user", user=name, body=body)
        return result

    def set_password(self, name: str, new: str, *, current: str | None = None) -> None:
        """Set a password: your own (with the current one), or anyone's for the admin."""
        body = build(PasswordChange, new=new, current=current)
        self._call("set_password", user=name, body=body)

    # -- teams ---------------------------------------------------------------------------

    def create_team(
        self, name: str, *, description: str = "", sso_group: str | None = None
    ) -> Team:
        """Create a team; with ``sso_group``, its members are that single sign-on group's."""
        body = build(TeamCreate, name=name, description=description, sso_group=sso_group)
        result: Team = self._call("create_team", body=body)
        return result

    def update_team(
        self, name: str, *, description: str | None = None, sso_group: str | None = None
    ) -> Team:
        """Change a team's description or single sign-on group ('' for none)."""
        body = build(TeamUpdate, description=description, sso_group=sso_group)
        result: Team = self._call("update_team", team=name, body=body)
        return result

    def teams(self) -> list[Team]:
        result: list[Team] = self._call("list_teams")
        return result

    def team(self, name: str) -> Team:
        result: Team = self._call("get_team", team=name)
        return result

    def add_members(self, team: str, users: list[str]) -> Team:
        body = build(Members, users=users)
        result: Team = self._call("add_members", team=team, body=body)
        return result

    def remove_member(self, team: str, user: str) -> Team:
        result: Team = self._call("remove_member", team=team, user=user)
        return result

    def delete_team(self, name: str) -> None:
        self._call("delete_team", team=name)

    # -- grants --------------------------------------------------------------------------

    def grants(self, project: str) -> list[Grant]:
        """Who holds which role in ``project``."""
        result: list[Grant] = self._call("grants", project=project)
        return result

    def grant(
        self, project: str, role: str, *, user: str | None = None, team: str | None = None
    ) -> Grant:
        """Give a user or a team ``role`` (viewer, editor, maintainer, owner) in ``project``."""
        body = build(GrantPut, user=user, team=team, role=role)
        result: Grant = self._call("grant", project=project, body=body)
        return result

    def revoke(self, project: str, *, user: str | None = None, team: str | None = None) -> None:
        """Take a user's or a team's role in ``project`` away."""
        if (user is None) == (team is None):
            raise TypeError("name either a user or a team")
        kind, subject = ("user", user) if user is not None else ("team", team)
        self._call("revoke", project=project, kind=kind, subject=subject)

    # -- tokens --------------------------------------------------------------------------

    def create_token(
        self,
        name: str,
        *,
        user: str | None = None,
        project: str | None = None,
        role: str | None = None,
        expires_in: int | None = None,
    ) -> TokenCreated:
        """A new API token (yours, or ``user``'s for the admin), optionally limited to one
        project and a role, expiring after ``expires_in`` seconds; ``.token`` is shown once."""
        body = build(
            TokenCreate, name=name, user=user, project=project, role=role, expires_in=expires_in
        )
        result: TokenCreated = self._call("create_token", body=body)
        return result

    def tokens(self, *, user: str | None = None, all: bool = False) -> list[Token]:
        """Your tokens (without their secrets); the admin may ask for a user's, or all."""
        query = build(TokenQuery, user=user, all=all)
        result: list[Token] = self._call("list_tokens", query=query)
        return result

    def revoke_token(self, token_id: str) -> Token:
        """Revoke a token: it stops working at once."""
        result: Token = self._call("revoke_token", token_id=token_id)
        return result

    def login(self, user: str, password: str, *, expires_in: int = 30 * 86_400) -> TokenCreated:
        """Sign in with a password: a new API token that expires (30 days by default)."""
        body = build(Login, user=user, password=password, expires_in=expires_in)
        result: TokenCreated = self._call("login", body=body)
        return result
