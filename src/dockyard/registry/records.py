"""Finding registered models, versions and aliases, and turning their rows into models."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dockyard.core.errors import InvalidInput, NotFound
from dockyard.registry.manifest import ModelManifest
from dockyard.registry.schemas import (
    Alias,
    AliasMove,
    AliasPolicy,
    Freeze,
    GateReport,
    RegisteredModel,
    Traffic,
)
from dockyard.registry.schemas import ModelVersion as ModelVersionModel
from dockyard.store.tables import (
    AliasMoveRow,
    ModelAliasRow,
    ModelTagRow,
    ModelVersionRow,
    ProjectRow,
    RegisteredModelRow,
)

OWNER = "model_version"
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}\Z")
ALIAS_RULE = "1-64 letters, digits, '_' or '-', starting with a letter (not a number)"
_VERSION_REF = re.compile(r"^v?(\d{1,9})\Z")


def check_alias(alias: str) -> str:
    if not _ALIAS.fullmatch(alias) or alias == "latest":
        raise InvalidInput(
            f"{alias[:80]!r} is not a valid alias: use {ALIAS_RULE}; 'latest' is reserved"
        )
    return alias


def version_number(ref: str | int) -> int:
    """A version number from ``3``, ``"3"`` or ``"v3"``."""
    if isinstance(ref, int):
        return ref
    match = _VERSION_REF.fullmatch(ref)
    if not match:
        raise InvalidInput(f"{ref!r} is not a version: give a number like 3 or v3")
    return int(match.group(1))


def find_model(session: Session, name: str) -> RegisteredModelRow:
    row = session.scalar(select(RegisteredModelRow).where(RegisteredModelRow.name == name))
    if row is None:
        raise NotFound(f"there is no registered model {name!r}; `dockyard models list` shows them")
    return row


def find_version(session: Session, model: RegisteredModelRow, ref: str | int) -> ModelVersionRow:
    """A version by number, ``latest``, or ``@alias``."""
    if isinstance(ref, str) and ref.startswith("@"):
        return alias_target(session, model, ref[1:])
    if ref == "latest":
        row = session.scalar(
            select(ModelVersionRow)
            .where(ModelVersionRow.model_id == model.id)
            .order_by(ModelVersionRow.number.desc())
            .limit(1)
        )
        if row is None:
            raise NotFound(f"model {model.name!r} has no versions yet")
        return row
    number = version_number(ref)
    row = session.scalar(
        select(ModelVersionRow).where(
            ModelVersionRow.model_id == model.id, ModelVersionRow.number == number
        )
    )
    if row is None:
        latest = session.scalar(
            select(func.max(ModelVersionRow.number)).where(ModelVersionRow.model_id == model.id)
        )
        have = f"its versions are 1..{latest}" if latest else "it has no versions yet"
        raise NotFound(f"model {model.name!r} has no version {number}; {have}")
    return row


def alias_target(session: Session, model: RegisteredModelRow, alias: str) -> ModelVersionRow:
    row = session.get(ModelAliasRow, (model.id, alias))
    if row is None or row.version_id is None:
        known = sorted(
            a
            for a in session.scalars(
                select(ModelAliasRow.alias).where(
                    ModelAliasRow.model_id == model.id, ModelAliasRow.version_id.is_not(None)
                )
            )
        )
        have = f"its aliases are {', '.join(known)}" if known else "it has no aliases"
        raise NotFound(f"model {model.name!r} has no alias {alias!r}; {have}")
    version = session.get(ModelVersionRow, row.version_id)
    assert version is not None  # versions an alias points at cannot be deleted
    return version


def tags_of(session: Session, model_id: str, version_id: str = "") -> dict[str, str]:
    rows = session.execute(
        select(ModelTagRow.key, ModelTagRow.value).where(
            ModelTagRow.model_id == model_id, ModelTagRow.version_id == version_id
        )
    )
    return dict(rows.all())


def write_tags(session: Session, model_id: str, version_id: str, tags: dict[str, str]) -> None:
    """Set tags; an empty value deletes the tag."""
    for key, value in tags.items():
        if not key or len(key) > 250:
            raise InvalidInput(f"tag key {key[:80]!r} must have 1-250 characters")
        existing = session.get(ModelTagRow, (model_id, version_id, key))
        if not value:
            if existing is not None:
                session.delete(existing)
        elif existing is None:
            session.add(ModelTagRow(model_id=model_id, version_id=version_id, key=key, value=value))
        else:
            existing.value = value


def aliases_by_version(session: Session, model_id: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for alias, version_id in session.execute(
        select(ModelAliasRow.alias, ModelAliasRow.version_id)
        .where(ModelAliasRow.model_id == model_id, ModelAliasRow.version_id.is_not(None))
        .order_by(ModelAliasRow.alias)
    ):
        if version_id is not None:
            found.setdefault(version_id, []).append(alias)
    return found


def traffic_of(model: RegisteredModelRow) -> Traffic | None:
    return Traffic.model_validate_json(model.traffic) if model.traffic else None


def freeze_of(model: RegisteredModelRow) -> Freeze | None:
    if model.frozen_reason is None or model.frozen_by is None or model.frozen_at is None:
        return None
    return Freeze(reason=model.frozen_reason, by=model.frozen_by, at=model.frozen_at)


def to_registered_model(session: Session, row: RegisteredModelRow) -> RegisteredModel:
    project = session.get(ProjectRow, row.project_id)
    latest = session.scalar(
        select(func.max(ModelVersionRow.number)).where(ModelVersionRow.model_id == row.id)
    )
    aliases: dict[str, int | None] = {}
    for alias, number in session.execute(
        select(ModelAliasRow.alias, ModelVersionRow.number)
        .outerjoin(ModelVersionRow, ModelVersionRow.id == ModelAliasRow.version_id)
        .where(ModelAliasRow.model_id == row.id)
        .order_by(ModelAliasRow.alias)
    ):
        aliases[alias] = number
    return RegisteredModel(
        id=row.id,
        name=row.name,
        project=project.name if project else "",
        description=row.description,
        tags=tags_of(session, row.id),
        latest_version=latest,
        aliases=aliases,
        traffic=traffic_of(row),
        frozen=freeze_of(row),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def to_model_version(
    session: Session,
    model: RegisteredModelRow,
    row: ModelVersionRow,
    aliases: dict[str, list[str]] | None = None,
) -> ModelVersionModel:
    if aliases is None:
        aliases = aliases_by_version(session, model.id)
    return ModelVersionModel(
        id=row.id,
        model=model.name,
        version=row.number,
        run_id=row.run_id,
        source=row.source,
        flavor=row.flavor,
        manifest_digest=row.manifest_digest,
        manifest=ModelManifest.model_validate_json(row.manifest),
        description=row.description,
        tags=tags_of(session, model.id, row.id),
        aliases=aliases.get(row.id, []),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def to_alias(session: Session, model: RegisteredModelRow, row: ModelAliasRow) -> Alias:
    version = session.get(ModelVersionRow, row.version_id) if row.version_id else None
    return Alias(
        model=model.name,
        alias=row.alias,
        version=version.number if version else None,
        policy=AliasPolicy.model_validate_json(row.policy) if row.policy else None,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def _detail(row: AliasMoveRow) -> Traffic | Freeze | None:
    if not row.detail:
        return None
    if row.action == "traffic":
        return Traffic.model_validate_json(row.detail)
    return Freeze.model_validate_json(row.detail)


def to_move(model: RegisteredModelRow, row: AliasMoveRow) -> AliasMove:
    return AliasMove(
        model=model.name,
        alias=row.alias,
        from_version=row.from_version,
        to_version=row.to_version,
        action=row.action,
        actor=row.actor,
        reason=row.reason,
        gate=GateReport.model_validate_json(row.gate) if row.gate else None,
        rolled_back=row.rolled_back,
        at=row.at,
        detail=_detail(row),
    )
