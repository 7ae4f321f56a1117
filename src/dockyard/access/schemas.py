"""Request and response models of the identity, audit and secret services."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from dockyard.core.principal import Role
from dockyard.core.schemas import Limit, Model, Name, Text, UtcTime
from dockyard.core.secrets import MAX_VALUE_BYTES

ProjectRole = Literal["viewer", "editor", "maintainer", "owner"]
MAX_LIFETIME = 10 * 365 * 86_400
EMAIL = r"^$|^[^@\s\x00]{1,128}@[^@\s\x00]{1,127}$"


class UserCreate(Model):
    name: Name
    email: str = Field("", max_length=256, pattern=EMAIL)
    kind: Literal["user", "service"] = Field(
        "user", description="a person, or a service account (tokens only, no password)"
    )
    password: Text | None = Field(
        None, min_length=12, max_length=1024, description="at least 12 characters"
    )
    admin: bool = Field(False, description="a server admin (the first user always is)")
    token: bool = Field(
        False, description="also create an API token for the user and return it (shown once)"
    )


class UserUpdate(Model):
    """Fields to change; those left out stay as they are."""

    email: str | None = Field(None, max_length=256, pattern=EMAIL)
    admin: bool | None = None
    disabled: bool | None = Field(None, description="a disabled user's tokens stop working")
    sso_issuer: Text | None = Field(
        None, max_length=256, description="with sso_subject: the single sign-on identity to link"
    )
    sso_subject: Text | None = Field(
        None, max_length=256, description="the identity's subject (sub); empty: unlink"
    )


class PasswordChange(Model):
    current: Text | None = Field(None, max_length=1024, description="needed to change your own")
    new: Text = Field(min_length=12, max_length=1024)


class User(Model):
    id: str
    name: str
    email: str
    kind: str
    admin: bool
    disabled: bool
    has_password: bool
    sso_subject: str | None = Field(None, description="the single sign-on identity, if linked")
    teams: list[str] = Field(default_factory=list)
    created_by: str
    created_at: dt.datetime


class UserCreated(User):
    token: str | None = Field(None, description="the new user's API token, shown only now")


class Me(Model):
    """The caller as the server sees them."""

    name: str
    kind: str
    role: Role | None = Field(description="the role held in every project")
    projects: dict[str, Role] = Field(description="project name -> the role held there")
    may_create_projects: bool


SSO_GROUP = Field(
    None,
    min_length=1,
    max_length=256,
    description="a single sign-on group: its members are the team's members (set by sign-in)",
)


class TeamCreate(Model):
    name: Name
    description: Text = Field("", max_length=10_000)
    sso_group: Text | None = SSO_GROUP


class TeamUpdate(Model):
    """Fields to change; those left out stay as they are (an empty sso_group: none)."""

    description: Text | None = Field(None, max_length=10_000)
    sso_group: Text | None = Field(None, max_length=256)


class Team(Model):
    id: str
    name: str
    description: str
    sso_group: str | None = None
    members: list[str]
    created_by: str
    created_at: dt.datetime


class Members(Model):
    users: list[Name] = Field(min_length=1, max_length=1000)


class GrantPut(Model):
    user: Name | None = Field(None, description="the user (or service account) to grant to")
    team: Name | None = Field(None, description="or the team")
    role: ProjectRole


class Grant(Model):
    project: str
    subject_kind: Literal["user", "team"]
    subject: str
    role: Role
    granted_by: str
    granted_at: dt.datetime


class TokenCreate(Model):
    name: Name
    user: Name | None = Field(
        None, description="whose token (default: yours; another user's needs the admin)"
    )
    project: Name | None = Field(None, description="limit the token to this project")
    role: ProjectRole | None = Field(
        None, description="limit the token to this role (never more than the user holds)"
    )
    expires_in: int | None = Field(
        None, ge=60, le=MAX_LIFETIME, description="seconds until it expires (default: never)"
    )


class Token(Model):
    id: str
    name: str
    user: str
    project: str | None
    role: Role | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenCreated(Token):
    token: str = Field(description="the secret, shown only now: keep it like a password")


class TokenQuery(Model):
    user: Name | None = Field(None, description="another user's tokens (the admin only)")
    all: bool = Field(False, description="every user's tokens (the admin only)")


class Login(Model):
    user: Name
    password: Text = Field(max_length=1024)
    expires_in: int = Field(30 * 86_400, ge=60, le=MAX_LIFETIME)
    name: Name = Field("login", description="the token's name")


class AuditQuery(Model):
    project: Name | None = Field(None, description="events of this project (its owners read it)")
    actor: str | None = Field(None, max_length=128, description="who acted")
    operation: str | None = Field(
        None, max_length=64, pattern=r"^[a-z_]+(\.[a-z_]+)?$",
        description="an operation (models.set_alias) or a service (models)",
    )  # fmt: skip
    outcome: Literal["ok", "denied", "failed"] | None = None
    since: UtcTime | None = None
    until: UtcTime | None = None
    limit: Limit = 100
    cursor: str | None = Field(None, max_length=64)


class AuditEvent(Model):
    id: str
    at: dt.datetime
    actor: str
    actor_kind: str
    operation: str
    project: str | None
    target: dict[str, Any]
    address: str
    status: int
    outcome: str
    detail: str


class AuditPage(Model):
    items: list[AuditEvent]
    next_cursor: str | None = None


class SecretPut(Model):
    """The value of a secret: written once, never read back over the API."""

    value: str = Field(
        min_length=1,
        max_length=MAX_VALUE_BYTES,
        repr=False,
        description="the value (text, 1 byte to 64 KiB, no NUL); never returned",
        json_schema_extra={"writeOnly": True},
    )


class Secret(Model):
    """A secret as the API shows it: its name and who set it when, never its value."""

    project: str
    name: str
    key_id: str = Field(description="a fingerprint of the key that encrypted it")
    created_by: str
    created_at: dt.datetime
    updated_by: str
    updated_at: dt.datetime
