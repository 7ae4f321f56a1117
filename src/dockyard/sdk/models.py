"""``dy.log_model``, ``dy.register_model``, ``dy.set_alias``, ``dy.load_model``: models from
Python, whatever the framework; ``dy.set_traffic`` and ``dy.freeze`` for the servers.

Loading a registered version inside ``dy.start_run`` records it as the run's input, so an
evaluation run counts as evidence for promotion gates.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.client.client import Client, connect
from dockyard.core.errors import InvalidInput
from dockyard.registry.manifest import FeatureLookup, ModelManifest, Signature
from dockyard.registry.schemas import (
    Alias,
    AliasMove,
    AliasPolicy,
    Freeze,
    GateReport,
    ModelCard,
    ModelVersion,
    Traffic,
)
from dockyard.registry.uris import RegistryRef, RunRef, parse_model_uri
from dockyard.sdk.runs import _ACTIVE, ActiveRun
from dockyard.tracking.schemas import Run

if TYPE_CHECKING:
    from dockyard.registry.packaging import LoadedModel


@dataclass(frozen=True)
class LoggedModel:
    """A model logged into a run's artifacts; register it with :func:`register_model`."""

    run_id: str
    path: str
    manifest: ModelManifest

    @property
    def uri(self) -> str:
        return f"runs:/{self.run_id}/{self.path}"


@contextmanager
def _client(client: Client | None) -> Iterator[Client]:
    """The given client, else the active run's, else a new one closed afterwards."""
    if client is not None:
        yield client
        return
    stack = _ACTIVE.get()
    if stack:
        yield stack[-1].client
        return
    made = connect()
    try:
        yield made
    finally:
        made.close()


def log_model(
    model: Any,
    artifact_path: str = "model",
    *,
    input_example: Any = None,
    signature: Signature | None = None,
    flavor: str | None = None,
    requirements: list[str] | None = None,
    code_paths: list[str | Path] | None = None,
    artifacts: Mapping[str, str | Path] | None = None,
    trusted: bool = False,
    registered_name: str | None = None,
    features: FeatureLookup | None = None,
) -> LoggedModel:
    """Save ``model`` with its flavor (detected, or ``flavor``), signature (inferred from
    ``input_example``) and requirements into the active run's artifacts at ``artifact_path``.

    scikit-learn models are stored with skops; ``trusted=True`` stores them with pickle
    instead (loading then also needs ``trusted=True``). With ``registered_name`` the model
    is registered as that model's next version too. ``features``
    (``dy.FeatureLookup(project="fraud", features=["card_activity:*"])``) names the feature-store
    features the model takes: ``dockyard serve`` then looks them up for each request, so
    callers send entity keys and request values only.
    """
    from dockyard.registry.packaging import save_model

    stack = _ACTIVE.get()
    if not stack:
        raise InvalidInput(
            "log_model needs an active run: call it inside `with dy.start_run(...):`"
        )
    run = stack[-1]
    path = artifact_path.strip("/")
    if not path:
        raise InvalidInput("artifact_path must name a folder, e.g. 'model'")
    with tempfile.TemporaryDirectory(prefix="dockyard-model-") as tmp:
        folder = Path(tmp) / "model"
        manifest = save_model(
            model,
            folder,
            flavor=flavor,
            input_example=input_example,
            signature=signature,
            requirements=requirements,
            trusted=trusted,
            code_paths=[Path(p) for p in code_paths or []],
            artifacts={k: Path(v) for k, v in (artifacts or {}).items()},
            features=features,
        )
        run.client.runs.log_artifact(run.id, folder, path)
    logged = LoggedModel(run.id, path, manifest)
    if registered_name:
        run.client.models.register(run.id, path, registered_name)
    return logged


def _run_id(run: ActiveRun | Run | LoggedModel | LoadedModel | str) -> tuple[str, str | None]:
    if isinstance(run, LoggedModel):
        return run.run_id, run.path
    if not isinstance(run, ActiveRun | Run | str):  # a loaded model
        if run.origin is None:
            raise InvalidInput(
                "this model was not loaded from a run, so it has no run to register it from: "
                "log it with dy.log_model inside a run and register what that returns"
            )
        return run.origin.run_id, run.origin.path
    if isinstance(run, ActiveRun | Run):
        return run.id, None
    if run.startswith("runs:/"):
        ref = parse_model_uri(run)
        assert isinstance(ref, RunRef)
        return ref.run_id, ref.path
    return run, None


def register_model(
    run: ActiveRun | Run | LoggedModel | LoadedModel | str,
    path: str | None = None,
    *,
    name: str,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    client: Client | None = None,
) -> ModelVersion:
    """Register the model logged at ``path`` (default ``model``) in ``run`` as the next
    version of ``name``; the version names that run as the one that made it.

    ``run`` is a run, its id, a ``runs:/`` URI, what :func:`log_model` returned, or a model
    loaded from a run: in a pipeline, the model an upstream step returned, whose run is that
    step's run (its output folder unless ``path`` names another folder of that run, such as
    where the step logged the model with ``dy.log_model``).
    """
    run_id, logged_path = _run_id(run)
    if path is not None and not isinstance(run, LoggedModel | ActiveRun | Run | str):
        logged_path = path  # another folder of the run the loaded model came from
    with _client(client) as c:
        return c.models.register(
            run_id, logged_path or path or "model", name, description=description, tags=tags
        )


def load_model(
    uri: str | ModelVersion, *, trusted: bool = False, client: Client | None = None
) -> LoadedModel:
    """Load ``models:/name/3``, ``models:/name@champion``, ``models:/name/latest`` or
    ``runs:/<id>/model``: one object with ``predict`` (and ``predict_proba`` where the model
    has it) whatever the flavor, its inputs checked against the signature.

    Every file is verified against its sha256 before loading. Inside a run, a registered
    version loaded is recorded as the run's input.
    """
    stack = _ACTIVE.get()
    with _client(client) as c:
        version = uri if isinstance(uri, ModelVersion) else None
        if version is None:
            ref = parse_model_uri(uri)  # type: ignore[arg-type]
            if isinstance(ref, RegistryRef):
                version = c.models.version(ref.name, ref.ref)
        loaded = c.models.load(version or str(uri), trusted=trusted)
        if version is not None and stack:
            c.models.record_use(version.model, version.version, stack[-1].id)
        return loaded


def set_alias(
    name: str,
    alias: str,
    version: int,
    *,
    reason: str = "",
    force: bool = False,
    client: Client | None = None,
) -> Alias:
    """Point ``alias`` (``champion``, ``challenger``...) at ``version`` of model ``name``.

    If the alias has a policy, the version must pass its gates (else :class:`GateFailed`
    with the report); a user allowed to override passes ``force=True`` and a ``reason``.
    """
    with _client(client) as c:
        return c.models.set_alias(name, alias, version, reason=reason, force=force)


def rollback_alias(
    name: str, alias: str, *, reason: str = "", client: Client | None = None
) -> Alias:
    """Point ``alias`` back at the version it had before its last move."""
    with _client(client) as c:
        return c.models.rollback(name, alias, reason=reason)


def set_alias_policy(
    name: str,
    alias: str,
    policy: AliasPolicy | Mapping[str, Any] | None,
    *,
    client: Client | None = None,
) -> Alias:
    """Set the gates a version must pass to get ``alias``, e.g.
    ``{"gates": [{"metric": "auc", "threshold": 0.9, "dataset": "transactions",
    "not_worse_than_current": True}]}``; ``None`` removes them."""
    with _client(client) as c:
        return c.models.set_policy(name, alias, policy)


def alias_history(name: str, alias: str, *, client: Client | None = None) -> list[AliasMove]:
    """Every move of ``alias``, newest first."""
    with _client(client) as c:
        return c.models.history(name, alias)


def set_traffic(
    name: str,
    weights: Mapping[str, int],
    *,
    shadow: Sequence[str] = (),
    sticky: str | None = None,
    reason: str = "",
    client: Client | None = None,
) -> Traffic:
    """Split the requests servers get for model ``name`` between its aliases.

    ``weights`` are whole percentages adding up to 100: ``{"champion": 90, "challenger":
    10}`` is a canary. ``shadow`` aliases get a copy of every request; their answers are
    logged, never returned. With ``sticky="card_hash"`` the value of that request field
    picks the alias, so one card always gets the same arm (an A/B test). Every alias named
    must point at a version; the change is recorded in the model's history.
    """
    with _client(client) as c:
        return c.models.set_traffic(name, weights, shadow=shadow, sticky=sticky, reason=reason)


def clear_traffic(name: str, *, reason: str = "", client: Client | None = None) -> None:
    """Remove the model's traffic split: each server answers with the alias it serves."""
    with _client(client) as c:
        c.models.clear_traffic(name, reason=reason)


def freeze(name: str, *, reason: str, client: Client | None = None) -> Freeze:
    """Pull the Andon cord: no alias of model ``name`` moves and its traffic stays as it is
    (servers stay put) until :func:`unfreeze`. Whoever is refused meanwhile sees ``reason``,
    who froze it and when."""
    with _client(client) as c:
        return c.models.freeze(name, reason=reason)


def unfreeze(name: str, *, reason: str = "", client: Client | None = None) -> None:
    """Let the aliases and traffic of model ``name`` change again."""
    with _client(client) as c:
        c.models.unfreeze(name, reason=reason)


def check_gates(
    name: str, alias: str, version: int | str, *, client: Client | None = None
) -> GateReport:
    """Would ``version`` pass the gates of ``alias`` now? Moves nothing."""
    with _client(client) as c:
        return c.models.check(name, alias, version)


def model_card(uri: str, *, client: Client | None = None) -> ModelCard:
    """The card of a registered version (``.markdown``, ``.html``; shows in Jupyter)."""
    ref = parse_model_uri(uri)
    if not isinstance(ref, RegistryRef):
        raise InvalidInput(f"{uri} is not a registered version; cards are for models:/ URIs")
    with _client(client) as c:
        version = c.models.version(ref.name, ref.ref)
        return c.models.card(version.model, version.version)
