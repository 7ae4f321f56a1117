"""The access matrix, generated from the operations' declarations: every operation x every
role (none, viewer, editor, maintainer, owner, the admin) x the caller's own project and
another project -> allowed or 403, through HTTP, on SQLite and PostgreSQL.

Each account holds its role in ``own`` only. An operation declared on a project's objects is
allowed exactly when the caller holds the role it needs there (in ``other``, never); one on
the server itself only for the admin; one that needs a role anywhere when the caller holds it
in ``own``. "Allowed" means anything but 401 and 403 (a request built to reach the check may
still be refused for what it asks: a 404 or 409 is not a refusal of the caller). Operations
that answer each caller with what they may read (listings, the caller's own account) and
signing in are tested in ``test_access.py``.

A new operation must say where its project is (``on=``); if it needs a body or a query to
reach its check, add one to ``INPUTS`` (the test says which).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import dockyard as dy
from dockyard.catalog import all_operations
from dockyard.client.client import Client, connect_with
from dockyard.core.ids import new_id
from dockyard.core.operations import ANYWHERE, LISTING, PUBLIC, SERVER, Operation
from dockyard.core.principal import RANK, Role
from dockyard.pipelines.schemas import PipelineRunCreate
from dockyard.server.app import API_PREFIX, create_app
from dockyard.server.runner import RunningServer, serve_in_thread
from dockyard.services import Services

ADMIN = "matrix-admin-token-0123456789"
ROLES = ("none", "viewer", "editor", "maintainer", "owner", "admin")
PROJECTS = ("own", "other")


@dataclasses.dataclass
class Place:
    """The objects of one project the requests aim at."""

    project: str
    run_id: str
    pipeline_run_id: str
    model: str
    digest: str


@dataclasses.dataclass
class World:
    server: RunningServer
    local: Client
    tokens: dict[str, str]
    places: dict[str, Place]
    made: Iterator[int] = dataclasses.field(default_factory=itertools.count)

    def fresh_run(self, project: str) -> str:
        return self.local.runs.create(project).id

    def fresh_model(self, place: Place) -> str:
        name = f"gone-{place.project}-{next(self.made)}"
        self.local.models.register(place.run_id, "model", name)
        return name

    def fresh_project(self, project: str) -> str:
        name = f"{project}-gone-{next(self.made)}"
        self.local.projects.create(name)
        if project == "own":
            for role in ROLES[1:5]:
                self.local.identity.grant(name, role, user=f"u-{role}")
        return name


def _seed(local: Client, project: str) -> Place:
    x = pd.DataFrame({"a": np.arange(8, dtype=float), "b": np.arange(8, dtype=float) % 2})
    with dy.start_run(project, experiment="exp", client=local, capture=dy.Capture.off()) as run:
        dy.log_model(LogisticRegression().fit(x, [0, 1] * 4), "model", input_example=x.head(2))
    dy.dataset("tx", project=project, client=local).add_version(x)
    model = f"det-{project}"
    version = dy.register_model(run, "model", name=model, client=local)
    dy.set_alias(model, "champion", version.version, client=local)
    pipeline_run = local.runs.create(project, experiment="pipe", name="pipe")
    local.pipelines.create(
        PipelineRunCreate(run_id=pipeline_run.id, project=project, pipeline="pipe")
    )
    digest = local.runs.artifacts(run.id)[0].digest
    return Place(project, run.id, pipeline_run.id, model, digest)


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    from dockyard.core.config import Settings

    services = Services.open(Settings(home=tmp_path, db=db_url, blobs=str(tmp_path / "blobs")))
    local = connect_with(services.settings)
    places = {project: _seed(local, project) for project in PROJECTS}
    tokens = {"admin": ADMIN}
    local.identity.create_user("root")  # the first account is an admin: not a matrix role
    local.identity.create_user("bystander")
    for role in ROLES[:5]:
        tokens[role] = local.identity.create_user(f"u-{role}", token=True).token or ""
        if role != "none":
            local.identity.grant("own", role, user=f"u-{role}")
    running = serve_in_thread(create_app(services=services, token=ADMIN))
    yield World(running, local, tokens, places)
    running.stop()
    local.close()
    services.close()


def _hour_ids() -> tuple[str, str, str]:
    first, last = new_id(), new_id()
    return first, last, pd.Timestamp.now(tz="UTC").floor("h").isoformat()


# Inputs that reach the check for operations whose project is in their body or query.
INPUTS: dict[str, Callable[[Place], dict[str, Any]]] = {
    "projects.create": lambda p: {"json": {"name": p.project}},
    "experiments.create": lambda p: {"json": {"project": p.project, "name": "e2"}},
    "runs.create": lambda p: {"json": {"project": p.project}},
    "runs.keys": lambda p: {"params": {"projects": [p.project]}},
    "runs.search": lambda p: {"json": {"projects": [p.project]}},
    "datasets.create": lambda p: {"json": {"project": p.project, "name": "d2"}},
    "datasets.record_use": lambda p: {"json": {"run_id": p.run_id}},
    "datasets.commit": lambda p: {"json": {"files": [], "run_id": p.run_id}},
    "models.create": lambda p: {"json": {"name": f"m2-{p.project}", "project": p.project}},
    "models.list": lambda p: {"params": {"project": p.project}},
    "models.register": lambda p: {"json": {"run_id": p.run_id, "path": "model"}},
    "models.record_use": lambda p: {"json": {"run_id": p.run_id}},
    "serving.heartbeat": lambda p: {
        "json": {"address": "127.0.0.1:1", "models": [{"name": p.model, "uri": "models:/x"}]}
    },
    "serving.record_segment": lambda p: {
        "json": dict(
            zip(
                ("first_id", "last_id", "hour"),
                _hour_ids(),
                strict=True,
            ),
            model=p.model,
            instance_id=new_id(),
            digest=p.digest,
            rows=1,
            versions=[1],
        )
    },
    "serving.segments": lambda p: {"params": {"model": p.model}},
    "serving.predictions": lambda p: {"params": {"model": p.model}},
    "monitoring.put": lambda p: {"json": {"model": p.model}},
    "monitoring.list": lambda p: {"params": {"model": p.model}},
    "monitoring.alerts": lambda p: {"params": {"project": p.project}},
    "monitoring.windows": lambda p: {"params": {"model": p.model}},
    "monitoring.report": lambda p: {"params": {"model": p.model}},
    "pipelines.create": lambda p: {
        "json": {"run_id": new_id(), "project": p.project, "pipeline": "pipe"}
    },
    "pipelines.list": lambda p: {"params": {"project": p.project}},
    "pipelines.cache_lookup": lambda p: {"json": {"project": p.project, "keys": []}},
    "pipelines.cache_store": lambda p: {"json": {"project": p.project, "entries": []}},
    "pipelines.cache_clear": lambda p: {"params": {"project": p.project}},
    "schedules.create": lambda p: {
        "json": {"project": p.project, "name": "s", "pipeline": "flow.py:f", "cron": "@daily"}
    },
    "schedules.list": lambda p: {"params": {"project": p.project}},
    "artifacts.upload": lambda p: {"params": {"path": "x.txt"}, "content": b"x"},
    "artifacts.download": lambda p: {"params": {"path": "nope"}},
    "artifacts.table": lambda p: {"params": {"path": "nope"}},
    "blobs.upload": lambda p: {"params": {"digest": "0" * 64}, "content": b"x"},
}


def _destructive(op: Operation) -> bool:
    return op.method == "DELETE" or op.path.endswith("/purge")


def _path_values(world: World, op: Operation, place: Place) -> dict[str, str]:
    """What each path parameter names; objects an allowed call would destroy are made for
    the call (or named where nothing exists, when the check is on the project)."""
    gone = _destructive(op)
    model = place.model
    run_id = place.pipeline_run_id if op.path.startswith("/pipelines/runs") else place.run_id
    project = place.project
    if gone and op.key in ("runs.delete", "runs.purge"):
        run_id = world.fresh_run(place.project)
    if gone and op.key == "models.delete":
        model = world.fresh_model(place)
    if gone and op.key == "projects.delete":
        project = world.fresh_project(place.project)
    return {
        "project": project,
        "experiment": "gone" if op.key.startswith("experiments.") else "exp",
        "dataset": "gone" if gone else "tx",
        "version": "999" if gone else "1",
        "view": "nope",
        "name": model,
        "model": model,
        "alias": "gone" if gone else "champion",
        "run_id": run_id,
        "alert_id": "nope",
        "prediction_id": "0" * 32,
        "instance_id": new_id(),
        "schedule_id": "nope",
        "digest": place.digest,
        "token_id": "nope",
        "user": "bystander",
        "team": "nope",
        "kind": "user",
        "subject": "bystander",
    }


def _needs_input(op: Operation) -> bool:
    """Whether ``op`` can reach its check only with a body or query made for it."""
    if isinstance(op.on, str):
        return False
    roots = {t.at.split(".")[0] for t in op.on}
    named_in_path = {name for name, _ in op.path_params}
    return bool(roots - named_in_path) or op.stream_in is not None


def expected(op: Operation, role: str, project: str) -> bool:
    """Whether a caller with ``role`` in ``own`` may call ``op`` on ``project``."""
    if role == "admin":
        return True
    if op.on == SERVER:
        return False
    held = None if role == "none" else Role(role)
    if op.on == ANYWHERE:
        return held is not None and held.allows(op.role)
    assert not isinstance(op.on, str)
    needed = max((t.role or op.role for t in op.on), key=lambda r: RANK[r])
    return project == "own" and held is not None and held.allows(needed)


def _matrix_ops() -> list[Operation]:
    return [op for op in all_operations() if op.on not in (LISTING, PUBLIC)]


def test_every_operation_can_be_reached_by_the_matrix() -> None:
    """A new operation whose project is in its body or query needs an input here."""
    missing = [op.key for op in _matrix_ops() if _needs_input(op) and op.key not in INPUTS]
    assert missing == [], f"add these to INPUTS in {__file__}: {missing}"


def test_every_operation_allows_exactly_the_roles_it_declares(world: World) -> None:
    wrong: list[str] = []
    calls = 0
    clients = {
        role: httpx.Client(
            base_url=world.server.url + API_PREFIX,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        for role, token in world.tokens.items()
    }
    try:
        for op, project, role in itertools.product(_matrix_ops(), PROJECTS, ROLES):
            place = world.places[project]
            path = op.path.format(**_path_values(world, op, place))
            inputs = INPUTS.get(op.key, lambda _p: {})(place)
            answer = clients[role].request(op.method, path, **inputs)
            calls += 1
            allowed = expected(op, role, project)
            refused = answer.status_code in (401, 403)
            if allowed == refused or (not allowed and answer.status_code != 403):
                wrong.append(
                    f"{op.key} as {role} in {project}: expected "
                    f"{'allowed' if allowed else '403'}, got {answer.status_code} "
                    f"{answer.text[:200]}"
                )
    finally:
        for client in clients.values():
            client.close()
    assert calls > 1000
    assert wrong == [], f"{len(wrong)} of {calls} calls:\n" + "\n".join(wrong)
