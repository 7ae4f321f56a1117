"""Schemathesis over the whole REST API: no request, however malformed, gets a 5xx, and
every answer has a status, content type and body the OpenAPI document declares.

A real server (uvicorn in a thread) over a store seeded with real objects (a project,
experiment, run with params, metrics and an artifact, a dataset with a version, a model with
a version and an alias, a pipeline run, a schedule, a materialized feature view, a model
server's heartbeat and a logged prediction), so path parameters hit real objects as well as
generated ones. Every operation gets a few seeded examples in four flavours: valid
and invalid data (schemathesis' positive and negative modes), each with the real path
parameters and with generated ones. All requests share one keep-alive session, so a
response that leaves the connection unusable shows up as a failure too.

More examples: ``DOCKYARD_FUZZ_EXAMPLES=50 pytest tests/test_api_fuzz.py -q -s``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import sys
import tempfile
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import numpy as np
import pandas as pd
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sklearn.linear_model import LogisticRegression

import dockyard as dy
from conftest import ADMIN_TOKEN
from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings
from dockyard.core.ids import new_id
from dockyard.pipelines.schemas import PipelineRunCreate
from dockyard.server.app import create_app
from dockyard.server.runner import RunningServer, serve_in_thread
from dockyard.services import Services
from dockyard.serving.predlog import Entry, PredictionLog
from dockyard.serving.schemas import InstanceState

EXAMPLES = int(os.environ.get("DOCKYARD_FUZZ_EXAMPLES", "4"))
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
SEED = 20261206
FLOW = """
import dockyard as dy

@dy.step
def stamp(tag: str) -> str:
    return tag

@dy.pipeline
def nightly(tag: str = "t"):
    stamp(tag)
"""


def seed_store(client: Client, flow: Path) -> dict[str, str]:
    """Real objects for every kind of path parameter; returns parameter name -> value."""
    client.projects.create("fuzz", description="seeded for the fuzz run")
    client.experiments.create("fuzz", "exp")
    x = pd.DataFrame({"a": np.arange(20, dtype=float), "b": np.arange(20, dtype=float) % 3})
    y = (x.a > 9).astype(int).to_numpy()
    with dy.start_run(
        project="fuzz", experiment="exp", client=client, capture=dy.Capture.off()
    ) as run:
        dy.log_params({"lr": 0.1, "depth": 3})
        dy.log_metrics({"loss": 0.5, "acc": 0.9}, step=1)
        dy.log_model(LogisticRegression().fit(x, y), "model", input_example=x.head())
    client.runs.upload_artifact(run.id, "table.csv", _bytes(x.to_csv(index=False)))
    dy.dataset("tx", project="fuzz", client=client).add_version(x)
    mv = dy.register_model(run, "model", name="det", client=client)
    dy.set_alias("det", "champion", mv.version, client=client)
    flow.write_text(textwrap.dedent(FLOW))
    client.schedules.create("fuzz", "det", f"{flow}:nightly", cron="0 3 * * *")
    schedule = client.schedules.get("fuzz", "det")
    pipeline_run = client.runs.create("fuzz", experiment="pipe", name="pipe")
    client.pipelines.create(
        PipelineRunCreate(run_id=pipeline_run.id, project="fuzz", pipeline="pipe")
    )
    digest = client.runs.artifacts(run.id)[0].digest
    return {
        "project": "fuzz",
        "experiment": "exp",
        "run_id": run.id,
        "dataset": "tx",
        "version": "1",
        "name": "det",
        "alias": "champion",
        "digest": digest,
        "schedule_id": schedule.id,
        "view": _seed_features(client),
        **_seed_serving(client, x.head(3)),
        PIPELINE_RUNS + "run_id": pipeline_run.id,
    }


PIPELINE_RUNS = "/api/v1/pipelines/runs"
"""Paths under this take the pipeline run's id for ``run_id`` (a tracked run's elsewhere)."""


def _seed_features(client: Client) -> str:
    """A materialized feature view over a dataset of events; returns the view's name."""
    now = pd.Timestamp.now(tz="UTC")
    events = pd.DataFrame(
        {
            "card": [f"c{i % 4}" for i in range(20)],
            "ts": [now - pd.Timedelta(minutes=5 * i) for i in range(20)],
            "amount": np.linspace(1.0, 20.0, 20),
        }
    )
    dy.dataset("events", project="fuzz", client=client).add_version(events)
    view = dy.FeatureView(
        "card_spend",
        entities=[dy.Entity("card", keys=["card"])],
        source="events",
        timestamp="ts",
        features=[dy.Field("amount"), dy.Aggregate("amount", "sum", window="24h")],
    )
    dy.features.apply([view], project="fuzz", client=client)
    dy.features.materialize("card_spend", project="fuzz", client=client)
    return "card_spend"


def _seed_serving(client: Client, rows: pd.DataFrame) -> dict[str, str]:
    """A model server's heartbeat and one logged request; returns the instance's id and
    a prediction's id."""
    instance = new_id()
    client.serving.heartbeat(instance, InstanceState(address="127.0.0.1:8080", pid=1))
    ids = [new_id() for _ in range(len(rows))]
    log = PredictionLog(client, instance, flush_seconds=0.05)
    log.start()
    log.offer(
        Entry(
            ids=ids,
            at=dt.datetime.now(dt.UTC),
            model="det",
            version=1,
            alias="champion",
            shadow=False,
            latency_ms=1.0,
            inputs={name: rows[name].tolist() for name in rows.columns},
            outputs=[0] * len(rows),
        )
    )
    log.close()
    assert log.logged == len(rows)
    return {"instance_id": instance, "prediction_id": ids[0]}


def _bytes(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


@dataclass
class Outcome:
    """What the fuzz run saw: requests sent, and the failures by kind."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        top = "\n".join(self.failures[:40])
        return f"{self.requests} requests, {len(self.failures)} failures\n{top}"


def _destructive_last(label: str) -> tuple[int, str]:
    method, _, path = label.partition(" ")
    late = method == "DELETE" or path.endswith(("/purge", "/cancel"))
    return (1 if late else 0, label)


def fuzz(
    base_url: str,
    real: dict[str, str],
    examples: int,
    seed: int = SEED,
    token: str | None = None,
    secret: str | None = None,
) -> Outcome:
    """Run every operation of the server at ``base_url`` with ``examples`` cases a flavour
    (with ``token``: the server's admin token, so that administration is fuzzed too, or an
    account's); an answer that holds ``secret`` (a value only another project has) fails."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    outcome = Outcome()
    session = requests.Session()
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    api = base_url
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: _destructive_last(op.label),
    )
    for op in operations:
        names = [p.name for p in op.path_parameters]
        prefix = PIPELINE_RUNS if op.path.startswith(PIPELINE_RUNS) else ""
        fixed = {name: real.get(prefix + name, real[name]) for name in names if name in real}
        flavours: list[tuple[GenerationMode, dict[str, str] | None]] = []
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if fixed:
                flavours.append((mode, fixed))
            flavours.append((mode, None))
        for mode, path_parameters in flavours:
            strategy = op.as_strategy(generation_mode=mode, path_parameters=path_parameters)
            _run_cases(
                strategy, lambda case: _send(case, session, api, outcome, secret), examples, seed
            )
    session.close()
    return outcome


def _run_cases(strategy: Any, send: Callable[[Case], None], examples: int, seed: int) -> None:
    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Case) -> None:
        send(case)

    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        run()


def _send(
    case: Case,
    session: requests.Session,
    base_url: str,
    outcome: Outcome,
    secret: str | None = None,
) -> None:
    outcome.requests += 1
    label = f"{case.operation.label} ({case.meta.generation.mode.value if case.meta else '?'})"
    try:
        response = case.call(base_url=base_url, session=session, timeout=60)
    except requests.RequestException as exc:
        outcome.failures.append(f"{label}: connection failed: {exc!r:.200}")
        return
    outcome.statuses[response.status_code] += 1
    if secret is not None and secret.encode() in response.content:
        outcome.failures.append(f"{label}: the answer shows another project's data")
    if response.status_code >= 500:
        outcome.failures.append(
            f"{label}: HTTP {response.status_code} {response.text[:200]!r} "
            f"for {case.as_curl_command()[:400]}"
        )
        return
    try:  # the status is one the operation declares, the body matches its schema
        case.validate_response(response, checks=CONFORMANCE)
    except (AssertionError, BaseExceptionGroup) as exc:  # one failure, or several
        outcome.failures.append(f"{label}: not as documented: {str(exc)[:300]}")


Seeded = tuple[RunningServer, dict[str, str]]


@pytest.fixture
def fuzz_server(services: Services, tmp_path: Path) -> Iterator[Seeded]:
    local = connect_with(services.settings)
    real = seed_store(local, tmp_path / "fuzz_flow.py")
    local.close()
    running = serve_in_thread(create_app(services=services, token=ADMIN_TOKEN))
    yield running, real
    running.stop()


def test_no_request_gets_a_server_error(fuzz_server: Seeded) -> None:
    running, real = fuzz_server
    outcome = fuzz(running.url, real, EXAMPLES, token=ADMIN_TOKEN)
    print(f"\nfuzz: {outcome.requests} requests, statuses {dict(sorted(outcome.statuses.items()))}")
    assert outcome.requests > 0
    assert not outcome.failures, outcome.summary()


def test_an_editor_gets_no_server_error_and_nothing_of_another_project(tmp_path: Path) -> None:
    """The same fuzz with the token of an account that is an editor of the seeded project
    only, on SQLite, with half the examples: a project it may not read holds a run whose
    param value no answer may contain."""
    home = tmp_path / "editor"
    services = Services.open(
        Settings(home=home, db=f"sqlite:///{tmp_path / 'meta.db'}", blobs=str(home / "b"))
    )
    local = connect_with(services.settings)
    real = seed_store(local, tmp_path / "fuzz_flow.py")
    secret = "never-shown-" + new_id()
    with dy.start_run("secret", client=local, capture=dy.Capture.off()) as run:
        run.log_param("marker", secret)
        run.set_tags({"marker": secret})
    local.identity.create_user("root")  # the first account is an admin
    editor = local.identity.create_user("ed", token=True).token or ""
    local.identity.grant("fuzz", "editor", user="ed")
    local.close()
    running = serve_in_thread(create_app(services=services, token=ADMIN_TOKEN))
    try:
        outcome = fuzz(running.url, real, max(1, EXAMPLES // 2), token=editor, secret=secret)
    finally:
        running.stop()
        services.close()
    print(f"\nfuzz: {outcome.requests} requests, statuses {dict(sorted(outcome.statuses.items()))}")
    assert outcome.statuses[403] > 0 and outcome.statuses[200] > 0
    assert not outcome.failures, outcome.summary()


def main() -> None:
    """Run the fuzz outside pytest: ``python tests/test_api_fuzz.py sqlite|DB_URL EXAMPLES``."""
    db, examples = sys.argv[1], int(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        db_url = db if db != "sqlite" else f"sqlite:///{home / 'meta.db'}"
        services = Services.open(Settings(home=home, db=db_url, blobs=str(home / "blobs")))
        local = connect_with(services.settings)
        real = seed_store(local, home / "fuzz_flow.py")
        running = serve_in_thread(create_app(services=services, token=ADMIN_TOKEN))
        try:
            outcome = fuzz(running.url, real, examples, token=ADMIN_TOKEN)
        finally:
            running.stop()
            services.close()
    print(f"statuses {dict(sorted(outcome.statuses.items()))}")
    kinds = Counter(f.split(": ", 1)[0] + ": " + f.split(": ", 2)[1][:60] for f in outcome.failures)
    for kind, n in kinds.most_common():
        print(f"{n:5d}  {kind}")
    print(outcome.summary())


if __name__ == "__main__":
    main()
