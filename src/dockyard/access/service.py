"""The identity service: users and service accounts, teams, project grants and API tokens.

The server's admin (its admin token, an admin user, or an embedded session) manages users
and teams; a project's owners manage its grants; each user manages their own tokens, never
beyond the roles they hold. The first user of a server is its admin.
"""

from __future__ import annotations

import builtins
import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.access import credentials, sso
from dockyard.access.principals import project_roles
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
from dockyard.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from dockyard.core.ids import new_id
from dockyard.core.operations import LISTING, PUBLIC, SERVER, operation
from dockyard.core.principal import RANK, Principal, Role
from dockyard.core.tokens import RESERVED_NAMES
from dockyard.projects.service import find_project
from dockyard.store.db import Database
from dockyard.store.tables import (
    ApiTokenRow,
    ProjectGrantRow,
    ProjectRow,
    TeamMemberRow,
    TeamRow,
    UserRow,
    utcnow,
)

T = TypeVar("T")
MAX_FAILURES = 5
FAILURE_WINDOW = 60.0
_NO_ACCOUNT = (
    "{who!r} signs in with a server token and has no account: name the user the token is "
    "for (--user NAME)"
)


def _find_user(session: Session, name: str) -> UserRow:
    row = session.scalar(select(UserRow).where(UserRow.name == name))
    if row is None:
        raise NotFound(f"no user named {name!r}; `dockyard users list` shows the users")
    return row


def _find_team(session: Session, name: str) -> TeamRow:
    row = session.scalar(select(TeamRow).where(TeamRow.name == name))
    if row is None:
        raise NotFound(f"no team named {name!r}; `dockyard teams list` shows the teams")
    return row


def _user(session: Session, row: UserRow) -> User:
    teams = session.scalars(
        select(TeamRow.name)
        .join(TeamMemberRow, TeamMemberRow.team_id == TeamRow.id)
        .where(TeamMemberRow.user_id == row.id)
        .order_by(TeamRow.name)
    )
    return User(
        id=row.id,
        name=row.name,
        email=row.email,
        kind=row.kind,
        admin=row.is_admin,
        disabled=row.disabled,
        has_password=row.password_hash is not None,
        sso_subject=row.sso_subject,
        teams=list(teams),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _team(session: Session, row: TeamRow) -> Team:
    members = session.scalars(
        select(UserRow.name)
        .join(TeamMemberRow, TeamMemberRow.user_id == UserRow.id)
        .where(TeamMemberRow.team_id == row.id)
        .order_by(UserRow.name)
    )
    return Team(
        id=row.id,
        name=row.name,
        description=row.description,
        sso_group=row.sso_group,
        members=list(members),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _token(row: ApiTokenRow, user: str, project: str | None) -> Token:
    return Token(
        id=row.id,
        name=row.name,
        user=user,
        project=project,
        role=Role(row.role) if row.role else None,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _new_token(
    session: Session,
    user: UserRow,
    name: str,
    *,
    project_id: str | None = None,
    role: Role | None = None,
    expires_in: int | None = None,
) -> tuple[ApiTokenRow, str]:
    secret, digest = credentials.new_token()
    now = utcnow()
    row = ApiTokenRow(
        id=new_id(),
        user_id=user.id,
        name=name,
        digest=digest,
        project_id=project_id,
        role=str(role) if role else None,
        created_at=now,
        expires_at=now + dt.timedelta(seconds=expires_in) if expires_in else None,
    )
    session.add(row)
    return row, secret


def _owners(session: Session, project_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(ProjectGrantRow)
            .where(ProjectGrantRow.project_id == project_id, ProjectGrantRow.role == "owner")
        )
        or 0
    )


class IdentityService:
    """Users, teams, project grants and API tokens (see the module's doc)."""

    service_name = "identity"

    def __init__(self, db: Database, on_change: Callable[[], None] = lambda: None) -> None:
        self._db = db
        self._on_change = on_change
        self._failures: dict[str, list[float]] = {}
        self._failures_lock = threading.Lock()

    @property
    def db(self) -> Database:
        return self._db

    def _write(self, fn: Callable[[Session], T]) -> T:
        """A write that changes who may do what: the kept principals are forgotten after."""
        try:
            return self._db.write(fn)
        finally:
            self._on_change()

    # -- users ----------------------------------------------------------------------------

    @operation("POST", "/users", status=201, on=SERVER, role=Role.ADMIN)
    def create_user(self, principal: Principal, body: UserCreate) -> UserCreated:
        """Create a user or service account (the first user of a server is its admin); with
        ``token``, also an API token for it, shown only in this answer."""
        if body.kind == "service" and body.password is not None:
            raise InvalidInput("a service account has no password: it signs in with tokens")
        if body.name.lower() in RESERVED_NAMES | {"server"}:
            raise InvalidInput(
                f"{body.name!r} names the server's own principals (the admin token, the open "
                "server's caller, the scheduler): choose another name"
            )
        hashed = credentials.hash_password(body.password) if body.password else None

        def insert(session: Session) -> UserCreated:
            first = session.scalar(select(func.count()).select_from(UserRow)) == 0
            now = utcnow()
            row = UserRow(
                id=new_id(),
                name=body.name,
                email=body.email,
                kind=body.kind,
                password_hash=hashed,
                is_admin=body.admin or (first and body.kind == "user"),
                disabled=False,
                created_by=principal.name,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            secret = _new_token(session, row, "default")[1] if body.token else None
            return UserCreated(**_user(session, row).model_dump(), token=secret)

        try:
            return self._write(insert)
        except IntegrityError:
            raise Conflict(f"a user named {body.name!r} already exists") from None

    @operation("GET", "/users", on=SERVER, role=Role.ADMIN)
    def list_users(self, principal: Principal) -> builtins.list[User]:
        """Every user and service account, by name."""
        return self.db.query(
            lambda s: [_user(s, r) for r in s.scalars(select(UserRow).order_by(UserRow.name))]
        )

    @operation("GET", "/users/me", on=LISTING)
    def me(self, principal: Principal) -> Me:
        """The caller as the server sees them: the roles held, by project."""

        def names(session: Session) -> dict[str, Role]:
            if not principal.grants:
                return {}
            rows = session.execute(
                select(ProjectRow.id, ProjectRow.name).where(
                    ProjectRow.id.in_(builtins.list(principal.grants))
                )
            )
            return {name: principal.grants[pid] for pid, name in rows}

        return Me(
            name=principal.name,
            kind=principal.kind,
            role=principal.role,
            projects=self.db.query(names),
            may_create_projects=principal.may_create_projects,
        )

    @operation("GET", "/users/{user}", on=LISTING)
    def get_user(self, principal: Principal, user: str) -> User:
        """A user (yourself, or anyone for the admin)."""

        def fetch(session: Session) -> User:
            row = session.scalar(select(UserRow).where(UserRow.name == user))
            if row is None or not (principal.is_admin or row.id == principal.user_id):
                raise NotFound(  # the same words either way: names are not probed
                    f"no user named {user!r} that you may see (the admin sees every user)"
                )
            return _user(session, row)

        return self.db.query(fetch)

    @operation("PATCH", "/users/{user}", on=SERVER, role=Role.ADMIN)
    def update_user(self, principal: Principal, user: str, body: UserUpdate) -> User:
        """Change a user's email, make them admin or not, disable or enable them (a
        disabled user's tokens stop working)."""

        def change(session: Session) -> User:
            row = _find_user(session, user)
            if body.email is not None:
                row.email = body.email
            if body.admin is not None:
                row.is_admin = body.admin
            if body.disabled is not None:
                row.disabled = body.disabled
            if (body.sso_issuer is None) != (body.sso_subject is None):
                raise InvalidInput("give both the issuer and the subject of the identity to link")
            if body.sso_subject is not None:
                linked = bool(body.sso_issuer and body.sso_subject)
                row.sso_issuer = body.sso_issuer if linked else None
                row.sso_subject = body.sso_subject if linked else None
            if row.id == principal.user_id and (row.disabled or not row.is_admin):
                raise InvalidInput(
                    "you cannot disable yourself or take your own admin role: ask another admin"
                )
            row.updated_at = utcnow()
            session.flush()
            return _user(session, row)

        try:
            return self._write(change)
        except IntegrityError:
            raise Conflict("another user is linked to that single sign-on identity") from None

    @operation("PUT", "/users/{user}/password", status=204, on=LISTING, role=Role.VIEWER)
    def set_password(self, principal: Principal, user: str, body: PasswordChange) -> None:
        """Set a user's password: your own (give the current one, if you have one), or any
        user's for the admin."""
        hashed = credentials.hash_password(body.new)

        def change(session: Session) -> None:
            row = session.scalar(select(UserRow).where(UserRow.name == user))
            own = row is not None and row.id == principal.user_id
            if not (own or principal.is_admin):
                raise Forbidden(f"only the admin may set another user's password ({user!r})")
            if row is None:
                raise NotFound(f"no user named {user!r}; `dockyard users list` shows them")
            if row.kind == "service":
                raise InvalidInput(f"{user!r} is a service account: it has no password")
            checked = own and row.password_hash and not principal.is_admin
            if checked and not credentials.verify_password(row.password_hash, body.current or ""):
                raise Forbidden("the current password is not right")
            row.password_hash = hashed
            row.updated_at = utcnow()

        self._write(change)

    # -- teams ----------------------------------------------------------------------------

    @operation("POST", "/teams", status=201, on=SERVER, role=Role.ADMIN)
    def create_team(self, principal: Principal, body: TeamCreate) -> Team:
        """Create a team (grant it roles in projects; its members hold them)."""

        def insert(session: Session) -> Team:
            row = TeamRow(
                id=new_id(),
                name=body.name,
                description=body.description,
                sso_group=body.sso_group,
                created_by=principal.name,
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return _team(session, row)

        try:
            return self._write(insert)
        except IntegrityError:
            raise Conflict(f"a team named {body.name!r} already exists") from None

    @operation("PATCH", "/teams/{team}", on=SERVER, role=Role.ADMIN)
    def update_team(self, principal: Principal, team: str, body: TeamUpdate) -> Team:
        """Change a team's description, or the single sign-on group whose members it has
        (empty: none; its members then stay until taken out by hand)."""

        def change(session: Session) -> Team:
            row = _find_team(session, team)
            if body.description is not None:
                row.description = body.description
            if body.sso_group is not None:
                row.sso_group = body.sso_group or None
            session.flush()
            return _team(session, row)

        return self._write(change)

    @operation("GET", "/teams", on=LISTING)
    def list_teams(self, principal: Principal) -> builtins.list[Team]:
        """Every team with its members, by name."""
        return self.db.query(
            lambda s: [_team(s, r) for r in s.scalars(select(TeamRow).order_by(TeamRow.name))]
        )

    @operation("GET", "/teams/{team}", on=LISTING)
    def get_team(self, principal: Principal, team: str) -> Team:
        """A team with its members."""
        return self.db.query(lambda s: _team(s, _find_team(s, team)))

    @operation("POST", "/teams/{team}/members", on=SERVER, role=Role.ADMIN)
    def add_members(self, principal: Principal, team: str, body: Members) -> Team:
        """Add users to a team (those already in it stay)."""

        def add(session: Session) -> Team:
            row = _find_team(session, team)
            present = set(
                session.scalars(
                    select(TeamMemberRow.user_id).where(TeamMemberRow.team_id == row.id)
                )
            )
            for name in dict.fromkeys(body.users):
                member = _find_user(session, name)
                if member.id not in present:
                    session.add(TeamMemberRow(team_id=row.id, user_id=member.id))
                    present.add(member.id)
            session.flush()
            return _team(session, row)

        return self._write(add)

    @operation("DELETE", "/teams/{team}/members/{user}", on=SERVER, role=Role.ADMIN)
    def remove_member(self, principal: Principal, team: str, user: str) -> Team:
        """Take a user out of a team."""

        def remove(session: Session) -> Team:
            row = _find_team(session, team)
            member = _find_user(session, user)
            session.execute(
                delete(TeamMemberRow).where(
                    TeamMemberRow.team_id == row.id, TeamMemberRow.user_id == member.id
                )
            )
            return _team(session, row)

        return self._write(remove)

    @operation("DELETE", "/teams/{team}", status=204, on=SERVER, role=Role.ADMIN)
    def delete_team(self, principal: Principal, team: str) -> None:
        """Delete a team and its grants (its members keep their own)."""

        def remove(session: Session) -> None:
            row = _find_team(session, team)
            session.execute(
                delete(ProjectGrantRow).where(
                    ProjectGrantRow.subject_kind == "team", ProjectGrantRow.subject_id == row.id
                )
            )
            session.delete(row)

        self._write(remove)

    # -- grants ---------------------------------------------------------------------------

    @operation("GET", "/projects/{project}/grants")
    def grants(self, principal: Principal, project: str) -> builtins.list[Grant]:
        """Who holds which role in a project (users and teams)."""

        def fetch(session: Session) -> builtins.list[Grant]:
            row = find_project(session, project)
            grants = session.scalars(
                select(ProjectGrantRow).where(ProjectGrantRow.project_id == row.id)
            )
            found = builtins.list(grants)
            users: dict[str, str] = {
                i: n
                for i, n in session.execute(
                    select(UserRow.id, UserRow.name).where(
                        UserRow.id.in_([g.subject_id for g in found if g.subject_kind == "user"])
                    )
                )
            }
            teams: dict[str, str] = {
                i: n
                for i, n in session.execute(
                    select(TeamRow.id, TeamRow.name).where(
                        TeamRow.id.in_([g.subject_id for g in found if g.subject_kind == "team"])
                    )
                )
            }
            names = {"user": users, "team": teams}
            out = [
                Grant(
                    project=row.name,
                    subject_kind="team" if g.subject_kind == "team" else "user",
                    subject=names[g.subject_kind].get(g.subject_id, g.subject_id),
                    role=Role(g.role),
                    granted_by=g.granted_by,
                    granted_at=g.granted_at,
                )
                for g in found
            ]
            return sorted(out, key=lambda g: (-RANK[g.role], g.subject_kind, g.subject))

        return self.db.query(fetch)

    @operation("PUT", "/projects/{project}/grants", role=Role.OWNER)
    def grant(self, principal: Principal, project: str, body: GrantPut) -> Grant:
        """Give a user or a team a role in a project (replacing the role they had there)."""
        if (body.user is None) == (body.team is None):
            raise InvalidInput("name either a user (--user) or a team (--team)")

        def put(session: Session) -> Grant:
            row = find_project(session, project)
            if body.user is not None:
                kind, subject_id, name = "user", _find_user(session, body.user).id, body.user
            else:
                team = body.team or ""
                kind, subject_id, name = "team", _find_team(session, team).id, team
            found = session.get(ProjectGrantRow, (row.id, kind, subject_id))
            demoted = found is not None and found.role == "owner" and body.role != "owner"
            if demoted and _owners(session, row.id) <= 1 and not principal.is_admin:
                raise Conflict(
                    f"{name!r} is the last owner of {row.name!r}: make another owner first"
                )
            if found is None:
                found = ProjectGrantRow(project_id=row.id, subject_kind=kind, subject_id=subject_id)
                session.add(found)
            found.role = body.role
            found.granted_by = principal.name
            found.granted_at = utcnow()
            session.flush()
            return Grant(
                project=row.name,
                subject_kind="team" if kind == "team" else "user",
                subject=name,
                role=Role(body.role),
                granted_by=principal.name,
                granted_at=found.granted_at,
            )

        return self._write(put)

    @operation("DELETE", "/projects/{project}/grants/{kind}/{subject}", status=204, role=Role.OWNER)
    def revoke(self, principal: Principal, project: str, kind: str, subject: str) -> None:
        """Take a user's or a team's role in a project away (``kind``: user or team)."""
        if kind not in ("user", "team"):
            raise InvalidInput(f"kind must be 'user' or 'team', not {kind!r}")

        def remove(session: Session) -> None:
            row = find_project(session, project)
            if kind == "user":
                subject_id = _find_user(session, subject).id
            else:
                subject_id = _find_team(session, subject).id
            found = session.get(ProjectGrantRow, (row.id, kind, subject_id))
            if found is None:
                raise NotFound(f"{kind} {subject!r} holds no role in {row.name!r}")
            if found.role == "owner" and _owners(session, row.id) <= 1 and not principal.is_admin:
                raise Conflict(
                    f"{subject!r} is the last owner of {row.name!r}: make another owner first"
                )
            session.delete(found)

        self._write(remove)

    # -- tokens ---------------------------------------------------------------------------

    @operation("POST", "/tokens", status=201, on=LISTING, role=Role.VIEWER)
    def create_token(self, principal: Principal, body: TokenCreate) -> TokenCreated:
        """Create an API token (yours, or another user's for the admin), optionally limited
        to one project and a role (never more than the user holds); shown only now."""

        def insert(session: Session) -> TokenCreated:
            user = self._subject(session, principal, body.user)
            if principal.limited:
                raise Forbidden(
                    "a token limited to a project or a role cannot make tokens (it would give "
                    "more than it has): use an unlimited token, or `dockyard login`"
                )
            project_id = project = None
            if body.project is not None:
                found = find_project(session, body.project)
                project_id, project = found.id, found.name
            cap = Role(body.role) if body.role else None
            if not user.is_admin:
                held = project_roles(session, user.id)
                if project_id is not None and project_id not in held:
                    raise Forbidden(
                        f"{user.name!r} holds no role in {body.project!r}: a token cannot give "
                        "more than its user holds"
                    )
                if cap is not None and project_id is not None and not held[project_id].allows(cap):
                    raise Forbidden(
                        f"{user.name!r} is {held[project_id]} in {body.project!r}: a token "
                        f"cannot be {cap} there"
                    )
            row, secret = _new_token(
                session, user, body.name, project_id=project_id, role=cap,
                expires_in=body.expires_in,
            )  # fmt: skip
            session.flush()
            return TokenCreated(**_token(row, user.name, project).model_dump(), token=secret)

        return self._write(insert)

    @operation("GET", "/tokens", on=LISTING)
    def list_tokens(self, principal: Principal, query: TokenQuery) -> builtins.list[Token]:
        """Your tokens (never their secrets); the admin may list another user's, or all."""

        def fetch(session: Session) -> builtins.list[Token]:
            stmt = (
                select(ApiTokenRow, UserRow.name, ProjectRow.name)
                .join(UserRow, UserRow.id == ApiTokenRow.user_id)
                .outerjoin(ProjectRow, ProjectRow.id == ApiTokenRow.project_id)
                .order_by(UserRow.name, ApiTokenRow.created_at)
            )
            if not (query.all and self._admin(principal)):
                stmt = stmt.where(UserRow.id == self._subject(session, principal, query.user).id)
            return [_token(t, u, p) for t, u, p in session.execute(stmt)]

        return self.db.query(fetch)

    @operation("DELETE", "/tokens/{token_id}", on=LISTING, role=Role.VIEWER)
    def revoke_token(self, principal: Principal, token_id: str) -> Token:
        """Revoke a token (yours, or anyone's for the admin): it stops working at once."""

        def revoke(session: Session) -> Token:
            row = session.get(ApiTokenRow, token_id)
            if row is None or not (principal.is_admin or row.user_id == principal.user_id):
                raise NotFound(f"you have no token with id {token_id!r} (`dockyard tokens list`)")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            user = session.get(UserRow, row.user_id)
            project = session.get(ProjectRow, row.project_id) if row.project_id else None
            return _token(row, user.name if user else "?", project.name if project else None)

        return self._write(revoke)

    @operation("POST", "/auth/login", status=201, on=PUBLIC, role=Role.VIEWER)
    def login(self, principal: Principal, body: Login) -> TokenCreated:
        """Sign in with a user's password: a new API token (it expires; 30 days by default)."""

        self._throttle(body.user)

        def check(session: Session) -> UserRow | None:
            row = session.scalar(select(UserRow).where(UserRow.name == body.user))
            if row is None or row.disabled:
                credentials.verify_password(None, body.password)
                return None
            return row if credentials.verify_password(row.password_hash, body.password) else None

        user = self.db.query(check)
        if user is None:
            self._failed(body.user)
            raise Unauthorized("the user name or the password is not right")

        def insert(session: Session) -> TokenCreated:
            found = session.get(UserRow, user.id)
            if found is None or found.disabled:
                raise Unauthorized("the user name or the password is not right")
            row, secret = _new_token(session, found, body.name, expires_in=body.expires_in)
            session.flush()
            return TokenCreated(**_token(row, found.name, None).model_dump(), token=secret)

        return self._write(insert)

    def sso_session(
        self, who: sso.Identity, *, admin_group: str | None, seconds: int
    ) -> tuple[str, str]:
        """Sign ``who`` in through single sign-on (see :mod:`dockyard.access.sso`): a new
        session token of their account, which expires after ``seconds``, and its name."""

        def sign_in(session: Session) -> tuple[str, str]:
            row = sso.account(session, who, admin_group)
            secret = _new_token(session, row, "web session", expires_in=seconds)[1]
            return secret, row.name

        return self._write(sign_in)

    def end_session(self, digest: str) -> bool:
        """Revoke the token with ``digest`` (signing out); whether there was a live one."""

        def revoke(session: Session) -> bool:
            row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.digest == digest))
            if row is None or row.revoked_at is not None:
                return False
            row.revoked_at = utcnow()
            return True

        return self._write(revoke)

    def _throttle(self, user: str) -> None:
        """Refuse a sign-in as ``user`` after :data:`MAX_FAILURES` failed ones within
        :data:`FAILURE_WINDOW` seconds (in this server process): passwords are not guessed
        at the rate argon2 allows."""
        now = time.monotonic()
        with self._failures_lock:
            recent = [t for t in self._failures.get(user, []) if now - t < FAILURE_WINDOW]
            if recent:
                self._failures[user] = recent
            else:
                self._failures.pop(user, None)
            if len(recent) >= MAX_FAILURES:
                wait = int(FAILURE_WINDOW - (now - recent[0])) + 1
                raise TooManyRequests(
                    f"too many failed sign-ins as {user!r}: try again in {wait} s",
                    details={"retry_after": wait},
                )

    def _failed(self, user: str) -> None:
        with self._failures_lock:
            if len(self._failures) > 100_000:  # names tried are not kept without bound
                self._failures.clear()
            self._failures.setdefault(user, []).append(time.monotonic())

    @staticmethod
    def _admin(principal: Principal) -> bool:
        if not principal.is_admin:
            raise Forbidden("only the admin may list other users' tokens")
        return True

    @staticmethod
    def _subject(session: Session, principal: Principal, name: str | None) -> UserRow:
        """The user a token call is about: ``name`` (the admin only, unless it is the
        caller), or the caller's own account."""
        if name is not None:
            row = _find_user(session, name) if principal.is_admin else None
            if row is None:
                own = session.get(UserRow, principal.user_id) if principal.user_id else None
                if own is None or own.name != name:
                    raise Forbidden(f"only the admin may manage another user's tokens ({name!r})")
                row = own
            return row
        if principal.user_id is None:
            raise InvalidInput(_NO_ACCOUNT.format(who=principal.name))
        row = session.get(UserRow, principal.user_id)
        if row is None:
            raise NotFound(f"your account ({principal.name!r}) no longer exists")
        return row
