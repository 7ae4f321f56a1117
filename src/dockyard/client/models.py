"""The model registry from the SDK and CLI: ``client.models``."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.blobs.hashing import file_sha256
from dockyard.client.blobs import BlobsClient
from dockyard.client.tracking import RunsClient
from dockyard.client.transport import Transport
from dockyard.core.errors import DigestMismatch, NotFound
from dockyard.core.operations import build, operations_by_name
from dockyard.core.paths import check_relative_path, confined, confined_name
from dockyard.registry.manifest import MANIFEST_NAME
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
from dockyard.registry.service import ModelRegistry
from dockyard.registry.uris import RegistryRef, RunRef, parse_model_uri

if TYPE_CHECKING:
    from dockyard.registry.packaging import LoadedModel

_OPS = operations_by_name(ModelRegistry)
# Aliases for annotations inside the class, where `list` is a method's name.
Aliases = list[Alias]
Moves = list[AliasMove]
Files = list[tuple[str, str]]


def _ref(version: int | str) -> str:
    return str(version)


class ModelsClient:
    """Registered models, versions, aliases with gates, lineage and cards; loading a model
    downloads its files (verified) into a local cache first."""

    def __init__(
        self, transport: Transport, blobs: BlobsClient, runs: RunsClient, cache_dir: Path
    ) -> None:
        self._transport = transport
        self._blobs = blobs
        self._runs = runs
        self._cache_dir = cache_dir

    def _call(self, op: str, **arguments: Any) -> Any:
        return self._transport.call(_OPS[op], arguments)

    # -- models -------------------------------------------------------------------------

    def create(
        self,
        name: str,
        project: str,
        *,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        body = build(
            ModelCreate, name=name, project=project, description=description, tags=tags or {}
        )
        result: RegisteredModel = self._call("create", body=body)
        return result

    def list(
        self,
        *,
        project: str | None = None,
        name: str | None = None,
        tag: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> ModelPage:
        query = build(ModelQuery, project=project, name=name, tag=tag, limit=limit, cursor=cursor)
        result: ModelPage = self._call("list", query=query)
        return result

    def get(self, name: str) -> RegisteredModel:
        result: RegisteredModel = self._call("get", name=name)
        return result

    def update(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        body = build(ModelUpdate, description=description, tags=dict(tags) if tags else None)
        result: RegisteredModel = self._call("update", name=name, body=body)
        return result

    def delete(self, name: str) -> None:
        self._call("delete", name=name)

    # -- versions -----------------------------------------------------------------------

    def register(
        self,
        run_id: str,
        path: str,
        name: str,
        *,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        project: str | None = None,
    ) -> ModelVersion:
        """Register the model logged at ``path`` in run ``run_id`` as ``name``'s next version."""
        body = build(
            VersionCreate,
            run_id=run_id,
            path=path,
            description=description,
            tags=dict(tags or {}),
            project=project,
        )
        result: ModelVersion = self._call("register", name=name, body=body)
        return result

    def versions(self, name: str, *, limit: int = 100, cursor: str | None = None) -> VersionPage:
        result: VersionPage = self._call("versions", name=name, limit=limit, cursor=cursor)
        return result

    def version(self, name: str, version: int | str = "latest") -> ModelVersion:
        """A version by number, ``"latest"`` or ``"@alias"``."""
        result: ModelVersion = self._call("version", name=name, version=_ref(version))
        return result

    def update_version(
        self,
        name: str,
        version: int | str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        body = build(VersionUpdate, description=description, tags=dict(tags) if tags else None)
        result: ModelVersion = self._call(
            "update_version", name=name, version=_ref(version), body=body
        )
        return result

    def delete_version(self, name: str, version: int | str) -> None:
        self._call("delete_version", name=name, version=_ref(version))

    def record_use(self, name: str, version: int | str, run_id: str) -> None:
        """Record that run ``run_id`` loaded this version (an evaluation counts for gates)."""
        body = build(ModelUse, run_id=run_id)
        self._call("record_use", name=name, version=_ref(version), body=body)

    def lineage(self, name: str, version: int | str = "latest") -> ModelLineage:
        result: ModelLineage = self._call("lineage", name=name, version=_ref(version))
        return result

    def card(self, name: str, version: int | str = "latest") -> ModelCard:
        result: ModelCard = self._call("card", name=name, version=_ref(version))
        return result

    # -- aliases ------------------------------------------------------------------------

    def aliases(self, name: str) -> Aliases:
        result: Aliases = self._call("aliases", name=name)
        return result

    def set_alias(
        self, name: str, alias: str, version: int, *, reason: str = "", force: bool = False
    ) -> Alias:
        """Point ``alias`` at ``version``; raises GateFailed if its policy says no (a user
        allowed to override can pass ``force=True`` with a ``reason``)."""
        body = build(AliasSet, version=version, reason=reason, force=force)
        result: Alias = self._call("set_alias", name=name, alias=alias, body=body)
        return result

    def remove_alias(self, name: str, alias: str, *, reason: str = "") -> None:
        self._call("remove_alias", name=name, alias=alias, reason=reason)

    def rollback(self, name: str, alias: str, *, reason: str = "") -> Alias:
        """Point ``alias`` back at the version it had before its last move."""
        body = build(Rollback, reason=reason)
        result: Alias = self._call("rollback", name=name, alias=alias, body=body)
        return result

    def history(self, name: str, alias: str | None = None) -> Moves:
        """The moves of ``alias``, or without one every event of the model (alias moves,
        traffic changes, freezes), newest first."""
        if alias is None:
            result: Moves = self._call("model_history", name=name)
        else:
            result = self._call("history", name=name, alias=alias)
        return result

    def set_policy(
        self, name: str, alias: str, policy: AliasPolicy | Mapping[str, Any] | None
    ) -> Alias:
        """Set the gates of an alias (``None`` removes them)."""
        body = build(PolicySet, policy=policy)
        result: Alias = self._call("set_policy", name=name, alias=alias, body=body)
        return result

    def check(self, name: str, alias: str, version: int | str) -> GateReport:
        """Would ``version`` pass the gates of ``alias`` now?"""
        result: GateReport = self._call("check", name=name, alias=alias, version=_ref(version))
        return result

    # -- traffic and the Andon cord -------------------------------------------------------

    def set_traffic(
        self,
        name: str,
        weights: Mapping[str, int],
        *,
        shadow: Sequence[str] = (),
        sticky: str | None = None,
        reason: str = "",
    ) -> Traffic:
        """Split requests between aliases: ``{"champion": 90, "challenger": 10}`` (percent);
        ``shadow`` aliases get a copy of each request, their answers logged, never returned."""
        body = build(
            TrafficSet, weights=dict(weights), shadow=list(shadow), sticky=sticky, reason=reason
        )
        result: Traffic = self._call("set_traffic", name=name, body=body)
        return result

    def clear_traffic(self, name: str, *, reason: str = "") -> None:
        self._call("clear_traffic", name=name, reason=reason)

    def freeze(self, name: str, *, reason: str) -> Freeze:
        """Stop every alias move and traffic change of the model until it is unfrozen."""
        body = build(FreezeSet, reason=reason)
        result: Freeze = self._call("freeze", name=name, body=body)
        return result

    def unfreeze(self, name: str, *, reason: str = "") -> None:
        self._call("unfreeze", name=name, body=build(Unfreeze, reason=reason))

    # -- files --------------------------------------------------------------------------

    def resolve(self, uri: str) -> ModelVersion:
        """The registered version a ``models:/`` URI names."""
        ref = parse_model_uri(uri)
        if not isinstance(ref, RegistryRef):
            raise NotFound(f"{uri} names a run's artifacts, not a registered version")
        return self.version(ref.name, ref.ref)

    def download(self, uri: str | ModelVersion, dest: str | Path | None = None) -> Path:
        """The model's folder on local disk: files downloaded and verified against their
        digests (a registered version is cached by its manifest digest)."""
        if isinstance(uri, ModelVersion):
            return self._download_version(uri, dest)
        ref = parse_model_uri(uri)
        if isinstance(ref, RegistryRef):
            return self._download_version(self.version(ref.name, ref.ref), dest)
        return self._download_run(ref, dest)

    def _download_version(self, version: ModelVersion, dest: str | Path | None) -> Path:
        digest = version.manifest_digest
        target = Path(dest) if dest else confined_name(self._cache_dir, digest, "digest")
        if dest is None and (target / MANIFEST_NAME).is_file():
            return target  # loading verifies every file against the manifest again
        files = [(MANIFEST_NAME, version.manifest_digest)] + [
            (f.path, f.digest) for f in version.manifest.files
        ]
        return self._fill(
            target, files, lambda path, digest, out: self._blobs.download(digest, out)
        )

    def _download_run(self, ref: RunRef, dest: str | Path | None) -> Path:
        prefix = f"{ref.path}/"
        listed = self._runs.artifacts(ref.run_id, ref.path)
        artifacts = [a for a in listed if a.path.startswith(prefix)]
        if not any(a.path == f"{ref.path}/{MANIFEST_NAME}" for a in artifacts):
            raise NotFound(f"{ref} holds no logged model ({MANIFEST_NAME} is missing)")
        key = hashlib.sha256(f"{ref.run_id}/{ref.path}".encode()).hexdigest()
        target = Path(dest) if dest else self._cache_dir / "runs" / key
        if target.exists() and dest is None:
            shutil.rmtree(target)  # run artifacts can be replaced: always fetch them again
        files = [(a.path[len(prefix) :], a.digest) for a in artifacts]

        def fetch(path: str, digest: str, out: Path) -> None:
            self._runs.download_artifact(ref.run_id, f"{ref.path}/{path}", out)
            if file_sha256(out) != digest:
                out.unlink()
                raise DigestMismatch(f"artifact {ref}/{path} does not match its digest")

        return self._fill(target, files, fetch)

    def _fill(self, target: Path, files: Files, fetch: Any) -> Path:
        """Download into a private folder, then move it into place in one rename. The file
        paths come from a stored record: each must stay inside the folder."""
        for path, _ in files:
            check_relative_path(path, "model file")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        try:
            for path, digest in files:
                out = confined(staging, path, "model file")
                out.parent.mkdir(parents=True, exist_ok=True)
                fetch(path, digest, out)
            try:
                staging.rename(target)
            except OSError:  # another process finished first, or dest exists
                if not (target / MANIFEST_NAME).is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def load(self, uri: str | ModelVersion, *, trusted: bool = False) -> LoadedModel:
        """Load a model from the registry or a run, verified file by file before loading.

        Only with ``trusted=True`` does a model whose loading runs pickled code load.
        """
        from dockyard.registry.packaging import load_folder

        version = uri if isinstance(uri, ModelVersion) else None
        if version is None:
            ref = parse_model_uri(str(uri))
            if isinstance(ref, RunRef):
                loaded = load_folder(self._download_run(ref, None), trusted=trusted)
                loaded.origin = ref
                return loaded
            version = self.version(ref.name, ref.ref)
        folder = self._download_version(version, None)
        if file_sha256(folder / MANIFEST_NAME) != version.manifest_digest:
            raise DigestMismatch(
                f"the cached manifest in {folder} was changed; delete that folder to fetch "
                "the model again"
            )
        return load_folder(folder, trusted=trusted)
