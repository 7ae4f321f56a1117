"""The model registry: registered models, immutable versions made from logged models, tags,
aliases with promotion gates, their history and rollback, and the traffic split and freeze
that model servers follow (their rules in :mod:`dockyard.registry.traffic`)."""

from __future__ import annotations

from collections.abc import Callable

import pydantic
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.blobs.store import BlobStore
from dockyard.core.errors import Conflict, Forbidden, GateFailed, InvalidInput, NotFound
from dockyard.core.ids import new_id
from dockyard.core.operations import Target, format_validation_error, operation
from dockyard.core.principal import Principal, Role
from dockyard.core.schemas import decode_cursor, encode_cursor, valid_name
from dockyard.projects.service import find_project
from dockyard.registry import gates, traffic
from dockyard.registry.card import render_card
from dockyard.registry.lineage import build_lineage
from dockyard.registry.manifest import MANIFEST_NAME, ModelManifest
from dockyard.registry.records import (
    OWNER,
    alias_target,
    aliases_by_version,
    check_alias,
    find_model,
    find_version,
    to_alias,
    to_model_version,
    to_move,
    to_registered_model,
    write_tags,
)
from dockyard.registry.schemas import (
    Alias,
    AliasMove,
    AliasPolicy,
    AliasSet,
    Freeze,
    FreezeSet,
    GateReport,
    ModelCard,
    ModelCreate,
    ModelLineage,
    ModelPage,
    ModelQuery,
    ModelUpdate,
    ModelUse,
    ModelVersion,
    PolicySet,
    RegisteredModel,
    Rollback,
    Traffic,
    TrafficSet,
    Unfreeze,
    VersionCreate,
    VersionPage,
    VersionUpdate,
)
from dockyard.store import blobrefs
from dockyard.store.db import Database
from dockyard.store.tables import (
    AliasMoveRow,
    ArtifactRow,
    ModelAliasRow,
    ModelTagRow,
    ModelVersionRow,
    ProjectRow,
    RegisteredModelRow,
    utcnow,
)
from dockyard.tracking.lineage import record_io
from dockyard.tracking.runs import find_run

MAX_MANIFEST_BYTES = 16 * 1024 * 1024
Moves = list[AliasMove]
Aliases = list[Alias]


def _create_model(
    session: Session, name: str, project: ProjectRow, principal: Principal, description: str
) -> RegisteredModelRow:
    valid_name(name, "model name")  # made here by register as well as create
    now = utcnow()
    row = RegisteredModelRow(
        id=new_id(),
        name=name,
        project_id=project.id,
        description=description,
        created_by=principal.name,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict(f"a model named {name!r} already exists") from None
    return row


class ModelRegistry:
    """Registered models and their versions, each made from a logged model's artifact folder
    in a run; aliases name the version in use and can only move past their gates."""

    service_name = "models"

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    # -- registered models --------------------------------------------------------------

    @operation("POST", "/models", status=201, on=Target("project", "body.project", creates=True))
    def create(self, principal: Principal, body: ModelCreate) -> RegisteredModel:
        """Create an empty registered model (registering a version creates it too)."""

        def insert(session: Session) -> RegisteredModel:
            project = find_project(session, body.project)
            row = _create_model(session, body.name, project, principal, body.description)
            write_tags(session, row.id, "", body.tags)
            return to_registered_model(session, row)

        return self.db.write(insert)

    @operation("GET", "/models", on=Target("project", "query.project", optional=True))
    def list(self, principal: Principal, query: ModelQuery) -> ModelPage:
        """Registered models by name, filtered by project, name substring or tag."""

        readable = principal.readable_projects()

        def fetch(session: Session) -> ModelPage:
            stmt = select(RegisteredModelRow).order_by(RegisteredModelRow.name)
            if readable is not None:
                stmt = stmt.where(RegisteredModelRow.project_id.in_(readable))
            if query.project:
                stmt = stmt.where(
                    RegisteredModelRow.project_id == find_project(session, query.project).id
                )
            if query.name:
                stmt = stmt.where(RegisteredModelRow.name.contains(query.name, autoescape=True))
            if query.tag:
                key, sep, value = query.tag.partition("=")
                if not sep or not key:
                    raise InvalidInput(f"tag filter {query.tag!r} must look like key=value")
                stmt = stmt.where(
                    select(ModelTagRow.key)
                    .where(
                        ModelTagRow.model_id == RegisteredModelRow.id,
                        ModelTagRow.version_id == "",
                        ModelTagRow.key == key,
                        ModelTagRow.value == value,
                    )
                    .exists()
                )
            if query.cursor:
                (after,) = decode_cursor(query.cursor, 1)
                stmt = stmt.where(RegisteredModelRow.name > str(after))
            rows = list(session.scalars(stmt.limit(query.limit + 1)))
            more = len(rows) > query.limit
            rows = rows[: query.limit]
            return ModelPage(
                items=[to_registered_model(session, r) for r in rows],
                next_cursor=encode_cursor([rows[-1].name]) if more else None,
            )

        return self.db.query(fetch)

    @operation("GET", "/models/{name}", on=Target("model", "name"))
    def get(self, principal: Principal, name: str) -> RegisteredModel:
        """A registered model with its tags, latest version and aliases."""
        return self.db.query(lambda s: to_registered_model(s, find_model(s, name)))

    @operation("PATCH", "/models/{name}", on=Target("model", "name"))
    def update(self, principal: Principal, name: str, body: ModelUpdate) -> RegisteredModel:
        """Change the description or set tags (an empty tag value deletes the tag)."""

        def change(session: Session) -> RegisteredModel:
            row = find_model(session, name)
            if body.description is not None:
                row.description = body.description
            if body.tags:
                write_tags(session, row.id, "", body.tags)
            row.updated_at = utcnow()
            return to_registered_model(session, row)

        return self.db.write(change)

    @operation("DELETE", "/models/{name}", status=204, on=Target("model", "name"), role=Role.OWNER)
    def delete(self, principal: Principal, name: str) -> None:
        """Delete a model with all its versions and aliases; ``gc`` then frees their files."""

        def erase(session: Session) -> None:
            row = find_model(session, name)
            for version_id in session.scalars(
                select(ModelVersionRow.id).where(ModelVersionRow.model_id == row.id)
            ):
                blobrefs.drop_refs(session, OWNER, version_id)
            session.delete(row)

        self.db.write(erase)

    # -- versions -----------------------------------------------------------------------

    def _read_manifest(self, digest: str, source: str) -> ModelManifest:
        with self.blobs.open(digest) as stream:
            raw = stream.read_head(MAX_MANIFEST_BYTES + 1)
        if len(raw) > MAX_MANIFEST_BYTES:
            raise InvalidInput(f"{source}/{MANIFEST_NAME} is too large to be a model manifest")
        try:
            return ModelManifest.model_validate_json(raw)
        except pydantic.ValidationError as exc:
            raise InvalidInput(
                f"{source}/{MANIFEST_NAME} is not a valid model manifest "
                f"({format_validation_error(exc)}); log the model with dy.log_model"
            ) from None

    @operation(
        "POST",
        "/models/{name}/versions",
        status=201,
        on=(
            Target("model", "name", creates=True),
            Target("project", "body.project", optional=True, creates=True),
            Target("run", "body.run_id", role=Role.VIEWER),
        ),
    )
    def register(self, principal: Principal, name: str, body: VersionCreate) -> ModelVersion:
        """Register the logged model in a run's artifact folder as the model's next version
        (the model is created on first use, in the run's project)."""
        folder = body.path.strip("/")
        if not folder or ".." in folder.split("/"):
            raise InvalidInput(f"model path {body.path!r} must be a folder of the run")
        source = f"runs:/{body.run_id}/{folder}"

        def locate(session: Session) -> tuple[str, dict[str, ArtifactRow]]:
            run = find_run(session, body.run_id)
            prefix = folder + "/"
            rows = {
                r.path[len(prefix) :]: r
                for r in session.scalars(
                    select(ArtifactRow).where(
                        ArtifactRow.run_id == run.id,
                        ArtifactRow.path.startswith(prefix, autoescape=True),
                    )
                )
            }
            manifest = rows.get(MANIFEST_NAME)
            if manifest is None:
                what = "holds no model.json" if rows else "has no artifact folder"
                raise NotFound(
                    f"run {body.run_id} {what} {folder!r}: log a model there with "
                    f"dy.log_model(model, {folder!r}) first"
                )
            return manifest.digest, rows

        manifest_digest, artifacts = self.db.query(locate)
        manifest = self._read_manifest(manifest_digest, source)
        for file in manifest.files:
            stored = artifacts.get(file.path)
            if stored is None or stored.digest != file.digest or stored.size != file.size:
                problem = "is missing" if stored is None else "differs from its manifest entry"
                raise InvalidInput(
                    f"{source}/{file.path} {problem}; the model folder is incomplete or "
                    "changed, log the model again"
                )
        digests = {manifest_digest, *(f.digest for f in manifest.files)}

        def insert(session: Session) -> ModelVersion:
            run = find_run(session, body.run_id)
            model = session.scalar(
                select(RegisteredModelRow).where(RegisteredModelRow.name == name).with_for_update()
            )
            if model is None:
                project = find_project(session, body.project or run.project_id)
                principal.require_in(
                    project.id, f"project {project.name!r}", Role.EDITOR, "registering a model"
                )
                try:
                    model = _create_model(session, name, project, principal, "")
                except Conflict:  # created by a concurrent writer
                    model = find_model(session, name)
            number = (
                session.scalar(
                    select(func.max(ModelVersionRow.number)).where(
                        ModelVersionRow.model_id == model.id
                    )
                )
                or 0
            ) + 1
            row = ModelVersionRow(
                id=new_id(),
                model_id=model.id,
                number=number,
                run_id=run.id,
                source=source,
                flavor=manifest.flavor,
                manifest_digest=manifest_digest,
                manifest=manifest.model_dump_json(),
                description=body.description,
                created_by=principal.name,
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            write_tags(session, model.id, row.id, body.tags)
            blobrefs.add_refs(session, OWNER, row.id, sorted(digests))
            record_io(session, run.id, "output", "model_version", row.id, f"{name}/v{number}")
            model.updated_at = utcnow()
            return to_model_version(session, model, row, {})

        return self.db.write(insert)

    @operation("GET", "/models/{name}/versions", on=Target("model", "name"))
    def versions(
        self, principal: Principal, name: str, limit: int = 100, cursor: str | None = None
    ) -> VersionPage:
        """The model's versions, newest first."""
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be between 1 and 1000")

        def fetch(session: Session) -> VersionPage:
            model = find_model(session, name)
            stmt = select(ModelVersionRow).where(ModelVersionRow.model_id == model.id)
            if cursor:
                (before,) = decode_cursor(cursor, 1)
                stmt = stmt.where(ModelVersionRow.number < int(before))
            rows = list(
                session.scalars(stmt.order_by(ModelVersionRow.number.desc()).limit(limit + 1))
            )
            more = len(rows) > limit
            rows = rows[:limit]
            aliases = aliases_by_version(session, model.id)
            return VersionPage(
                items=[to_model_version(session, model, r, aliases) for r in rows],
                next_cursor=encode_cursor([rows[-1].number]) if more else None,
            )

        return self.db.query(fetch)

    @operation("GET", "/models/{name}/versions/{version}", on=Target("model", "name"))
    def version(self, principal: Principal, name: str, version: str) -> ModelVersion:
        """A version by number (``3`` or ``v3``), ``latest``, or ``@alias``."""

        def fetch(session: Session) -> ModelVersion:
            model = find_model(session, name)
            return to_model_version(session, model, find_version(session, model, version))

        return self.db.query(fetch)

    @operation("PATCH", "/models/{name}/versions/{version}", on=Target("model", "name"))
    def update_version(
        self, principal: Principal, name: str, version: str, body: VersionUpdate
    ) -> ModelVersion:
        """Change a version's description or tags (its files never change)."""

        def change(session: Session) -> ModelVersion:
            model = find_model(session, name)
            row = find_version(session, model, version)
            if body.description is not None:
                row.description = body.description
            if body.tags:
                write_tags(session, model.id, row.id, body.tags)
            return to_model_version(session, model, row)

        return self.db.write(change)

    @operation(
        "DELETE",
        "/models/{name}/versions/{version}",
        status=204,
        on=Target("model", "name"),
        role=Role.MAINTAINER,
    )
    def delete_version(self, principal: Principal, name: str, version: str) -> None:
        """Delete a version no alias points at; ``gc`` then frees its files."""

        def erase(session: Session) -> None:
            model = find_model(session, name)
            row = find_version(session, model, version)
            held = aliases_by_version(session, model.id).get(row.id)
            if held:
                raise Conflict(
                    f"{name} v{row.number} is the target of alias {', '.join(held)}; "
                    "move or remove the alias first"
                )
            session.execute(
                delete(ModelTagRow).where(
                    ModelTagRow.model_id == model.id, ModelTagRow.version_id == row.id
                )
            )
            blobrefs.drop_refs(session, OWNER, row.id)
            session.delete(row)

        self.db.write(erase)

    @operation(
        "POST",
        "/models/{name}/versions/{version}/uses",
        status=204,
        on=(Target("model", "name"), Target("run", "body.run_id")),
    )
    def record_use(self, principal: Principal, name: str, version: str, body: ModelUse) -> None:
        """Record that a run loaded this version (its input): evaluations count for gates."""

        def record(session: Session) -> None:
            model = find_model(session, name)
            row = find_version(session, model, version)
            record_io(
                session, body.run_id, "input", "model_version", row.id, f"{name}/v{row.number}"
            )

        self.db.write(record)

    @operation("GET", "/models/{name}/versions/{version}/lineage", on=Target("model", "name"))
    def lineage(self, principal: Principal, name: str, version: str) -> ModelLineage:
        """From the version to its run, params, metrics, input data, code and environment."""

        def fetch(session: Session) -> ModelLineage:
            model = find_model(session, name)
            row = find_version(session, model, version)
            return build_lineage(session, model, row, self.blobs)

        return self.db.query(fetch)

    @operation("GET", "/models/{name}/versions/{version}/card", on=Target("model", "name"))
    def card(self, principal: Principal, name: str, version: str) -> ModelCard:
        """A model card (Markdown and HTML) generated from the version's lineage."""
        return render_card(self.lineage(principal, name, version))

    # -- aliases ------------------------------------------------------------------------

    @operation("GET", "/models/{name}/aliases", on=Target("model", "name"))
    def aliases(self, principal: Principal, name: str) -> Aliases:
        """The model's aliases, the versions they point at and their policies."""

        def fetch(session: Session) -> Aliases:
            model = find_model(session, name)
            rows = session.scalars(
                select(ModelAliasRow)
                .where(ModelAliasRow.model_id == model.id)
                .order_by(ModelAliasRow.alias)
            )
            return [to_alias(session, model, r) for r in rows]

        return self.db.query(fetch)

    def _move(
        self,
        principal: Principal,
        name: str,
        alias: str,
        decide: Callable[[Session, RegisteredModelRow, ModelAliasRow | None], _Move],
    ) -> Alias:
        check_alias(alias)

        def change(session: Session) -> Alias:
            model = traffic.lock_model(session, name)  # checked and moved under one lock
            traffic.refuse_if_frozen(model, f"alias {alias!r} cannot move")
            row = session.get(ModelAliasRow, (model.id, alias))
            move = decide(session, model, row)
            if move.target is None:
                traffic.refuse_if_in_traffic(model, alias)
            current = (
                session.get(ModelVersionRow, row.version_id) if row and row.version_id else None
            )
            if row is None:
                row = ModelAliasRow(model_id=model.id, alias=alias, policy=None)
                session.add(row)
            row.version_id = move.target.id if move.target else None
            row.updated_by = principal.name
            row.updated_at = utcnow()
            session.add(
                AliasMoveRow(
                    model_id=model.id,
                    alias=alias,
                    from_version=current.number if current else None,
                    to_version=move.target.number if move.target else None,
                    action=move.action,
                    actor=principal.name,
                    reason=move.reason,
                    gate=move.report.model_dump_json() if move.report else None,
                    rolled_back=False,
                    at=utcnow(),
                )
            )
            session.flush()
            return to_alias(session, model, row)

        return self.db.write(change)

    @operation(
        "PUT", "/models/{name}/aliases/{alias}", on=Target("model", "name"), role=Role.MAINTAINER
    )
    def set_alias(self, principal: Principal, name: str, alias: str, body: AliasSet) -> Alias:
        """Point the alias at a version, if the version passes the alias's gates (an admin,
        or a user the policy's ``override_by`` names, may force it with a reason). Every
        move is recorded."""

        def decide(session: Session, model: RegisteredModelRow, row: ModelAliasRow | None) -> _Move:
            target = find_version(session, model, body.version)
            current = (
                session.get(ModelVersionRow, row.version_id) if row and row.version_id else None
            )
            if current is not None and current.id == target.id:
                raise Conflict(f"alias {alias!r} of {name} already points at v{target.number}")
            policy = AliasPolicy.model_validate_json(row.policy) if row and row.policy else None
            if policy is None:
                return _Move(target, "set", body.reason, None)
            report = gates.check_policy(session, model, target, current, policy)
            if report.passed:
                return _Move(target, "set", body.reason, report)
            if not body.force:
                raise GateFailed(
                    f"{name} v{target.number} does not pass the gates of alias {alias!r}: "
                    f"{report.summary()}",
                    details={"report": report.model_dump(mode="json")},
                )
            held = principal.role_in(model.project_id)
            if not ((held and held.allows(Role.OWNER)) or principal.name in policy.override_by):
                named = ", ".join(policy.override_by)
                raise Forbidden(
                    f"{principal.name!r} may not override the gates of alias {alias!r}: that "
                    "needs the owner role in the model's project"
                    + (f" or being named by the policy's override_by ({named})" if named else "")
                )
            if not body.reason.strip():
                raise InvalidInput("overriding a gate needs a reason: say why")
            return _Move(target, "override", body.reason, report)

        return self._move(principal, name, alias, decide)

    @operation(
        "DELETE",
        "/models/{name}/aliases/{alias}",
        status=204,
        on=Target("model", "name"),
        role=Role.MAINTAINER,
    )
    def remove_alias(self, principal: Principal, name: str, alias: str, reason: str = "") -> None:
        """Stop the alias pointing anywhere (its policy and history stay)."""

        def decide(session: Session, model: RegisteredModelRow, row: ModelAliasRow | None) -> _Move:
            if row is None or row.version_id is None:
                alias_target(session, model, alias)  # raises NotFound with the known aliases
            return _Move(None, "remove", reason, None)

        self._move(principal, name, alias, decide)

    @operation(
        "POST",
        "/models/{name}/aliases/{alias}/rollback",
        on=Target("model", "name"),
        role=Role.MAINTAINER,
    )
    def rollback(self, principal: Principal, name: str, alias: str, body: Rollback) -> Alias:
        """Point the alias back at the version it had before its last move (skipping no
        gate: rollback is the emergency path). Rolling back again goes further back."""

        def decide(session: Session, model: RegisteredModelRow, row: ModelAliasRow | None) -> _Move:
            if row is None or row.version_id is None:
                alias_target(session, model, alias)
                raise AssertionError("unreachable")
            current = session.get(ModelVersionRow, row.version_id)
            assert current is not None
            last = session.scalar(
                select(AliasMoveRow)
                .where(
                    AliasMoveRow.model_id == model.id,
                    AliasMoveRow.alias == alias,
                    AliasMoveRow.action.in_(("set", "override")),
                    AliasMoveRow.to_version == current.number,
                    AliasMoveRow.rolled_back.is_(False),
                )
                .order_by(AliasMoveRow.id.desc())
                .limit(1)
            )
            if last is None or last.from_version is None:
                raise Conflict(
                    f"alias {alias!r} of {name} has no earlier version to roll back to "
                    f"(it points at v{current.number}; `dockyard models history {name} {alias}` "
                    "shows its moves)"
                )
            try:
                target = find_version(session, model, last.from_version)
            except NotFound:
                raise Conflict(
                    f"the version before v{current.number}, v{last.from_version}, was deleted; "
                    "set the alias to a version explicitly"
                ) from None
            last.rolled_back = True
            return _Move(target, "rollback", body.reason, None)

        return self._move(principal, name, alias, decide)

    @operation("GET", "/models/{name}/aliases/{alias}/history", on=Target("model", "name"))
    def history(self, principal: Principal, name: str, alias: str) -> Moves:
        """Every move of the alias, newest first: who, when, from and to which version, why."""

        def fetch(session: Session) -> Moves:
            model = find_model(session, name)
            rows = session.scalars(
                select(AliasMoveRow)
                .where(AliasMoveRow.model_id == model.id, AliasMoveRow.alias == alias)
                .order_by(AliasMoveRow.id.desc())
            )
            moves = [to_move(model, r) for r in rows]
            if not moves and session.get(ModelAliasRow, (model.id, alias)) is None:
                alias_target(session, model, alias)
            return moves

        return self.db.query(fetch)

    @operation("GET", "/models/{name}/history", on=Target("model", "name"))
    def model_history(self, principal: Principal, name: str) -> Moves:
        """Every event of the model, newest first: alias moves, traffic changes, freezes."""
        return self.db.query(lambda s: traffic.history(s, name))

    # -- traffic and the Andon cord (rules in registry/traffic.py) ---------------------

    @operation("PUT", "/models/{name}/traffic", on=Target("model", "name"), role=Role.MAINTAINER)
    def set_traffic(self, principal: Principal, name: str, body: TrafficSet) -> Traffic:
        """Split the model's requests between aliases (weights in percent; shadows get a
        copy, their answers logged, never returned). Every alias named must point at a
        version; the change is recorded in the model's history."""
        return self.db.write(lambda s: traffic.set_traffic(s, principal, name, body))

    @operation(
        "DELETE",
        "/models/{name}/traffic",
        status=204,
        on=Target("model", "name"),
        role=Role.MAINTAINER,
    )
    def clear_traffic(self, principal: Principal, name: str, reason: str = "") -> None:
        """Remove the traffic split: servers answer with the alias they were started on."""
        self.db.write(lambda s: traffic.clear_traffic(s, principal, name, reason))

    @operation("POST", "/models/{name}/freeze", on=Target("model", "name"), role=Role.MAINTAINER)
    def freeze(self, principal: Principal, name: str, body: FreezeSet) -> Freeze:
        """Pull the Andon cord: no alias of the model moves and its traffic stays until it
        is unfrozen (servers stay put). The reason is shown to whoever is refused."""
        return self.db.write(lambda s: traffic.freeze(s, principal, name, body))

    @operation(
        "POST",
        "/models/{name}/unfreeze",
        status=204,
        on=Target("model", "name"),
        role=Role.MAINTAINER,
    )
    def unfreeze(self, principal: Principal, name: str, body: Unfreeze) -> None:
        """Let the model's aliases and traffic change again."""
        self.db.write(lambda s: traffic.unfreeze(s, principal, name, body))

    @operation(
        "PUT", "/models/{name}/aliases/{alias}/policy", on=Target("model", "name"), role=Role.OWNER
    )
    def set_policy(self, principal: Principal, name: str, alias: str, body: PolicySet) -> Alias:
        """Set (or with null, remove) the gates a version must pass to get this alias."""
        check_alias(alias)

        def store(session: Session) -> Alias:
            model = find_model(session, name)
            row = session.get(ModelAliasRow, (model.id, alias))
            if row is None:
                row = ModelAliasRow(model_id=model.id, alias=alias, version_id=None)
                session.add(row)
            row.policy = body.policy.model_dump_json() if body.policy else None
            row.updated_by = principal.name
            row.updated_at = utcnow()
            session.flush()
            return to_alias(session, model, row)

        return self.db.write(store)

    @operation("GET", "/models/{name}/aliases/{alias}/check", on=Target("model", "name"))
    def check(self, principal: Principal, name: str, alias: str, version: str) -> GateReport:
        """Would this version pass the alias's gates now? (Moves nothing.)"""

        def evaluate(session: Session) -> GateReport:
            model = find_model(session, name)
            target = find_version(session, model, version)
            row = session.get(ModelAliasRow, (model.id, alias))
            if row is None or row.policy is None:
                return GateReport(passed=True, checks=[])
            current = session.get(ModelVersionRow, row.version_id) if row.version_id else None
            policy = AliasPolicy.model_validate_json(row.policy)
            return gates.check_policy(session, model, target, current, policy)

        return self.db.query(evaluate)


def _target_of(session: Session, row: ModelAliasRow | None) -> ModelVersionRow | None:
    if row is None or row.version_id is None:
        return None
    return session.get(ModelVersionRow, row.version_id)


class _Move:
    """What a change of an alias does: the new target, the kind of move, why, the gates."""

    def __init__(
        self,
        target: ModelVersionRow | None,
        action: str,
        reason: str,
        report: GateReport | None,
    ) -> None:
        self.target = target
        self.action = action
        self.reason = reason
        self.report = report
