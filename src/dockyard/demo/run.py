"""The whole demo as one call: generate the data, ingest it as a dataset version, run the
fraud pipeline, and gather what happened for the report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from dockyard.client.client import Client
from dockyard.core.errors import InvalidInput, NotFound
from dockyard.data.schemas import Version
from dockyard.demo.generate import generate
from dockyard.demo.online import card_online
from dockyard.demo.pipeline import ALIAS, DATASET, MODEL, PROJECT, fraud_training
from dockyard.demo.serving import serve_champion
from dockyard.pipelines.schemas import StepRecord
from dockyard.sdk.data import dataset
from dockyard.sdk.pipelines import PipelineResult, run

Event = Callable[[str, StepRecord], None]


@dataclass
class DemoResult:
    """What the demo did, for the report."""

    version: Version
    new_version: bool
    patterns: dict[str, int]
    generate_seconds: float
    ingest_seconds: float
    pipeline_seconds: float
    pipeline: PipelineResult
    evaluation: dict[str, Any] | None
    promotion: dict[str, Any] | None
    scoring: dict[str, Any] | None
    online: dict[str, Any] | None = None
    serving: dict[str, Any] | None = None
    champion: dict[str, Any] | None = None
    """The evaluation of the champion the new version was compared with (none at first)."""

    @property
    def succeeded(self) -> bool:
        return self.pipeline.status == "succeeded"


def run_demo(
    client: Client,
    *,
    size: int = 200_000,
    days: int = 90,
    seed: int = 0,
    executor: str = "process",
    holdout_days: int = 14,
    n_estimators: int = 200,
    on_event: Event | None = None,
    say: Callable[[str], None] | None = None,
) -> DemoResult:
    """Generate ``size`` transactions over ``days`` days (``seed``), add them as a version of
    dataset ``transactions`` in project ``fraud`` and run the fraud pipeline on it.

    Running it again with the same arguments finds the same version and reuses every step.
    ``on_event`` sees each step's changes; ``say`` gets a line as each phase starts.
    """
    tell = say or (lambda _: None)
    tell(f"generating {size:,} transactions over {days} days (seed {seed})")
    started = time.perf_counter()
    frame = generate(size, days=days, seed=seed)
    generated = time.perf_counter()
    handle = dataset(DATASET, project=PROJECT, client=client)
    known = _version_numbers(client)
    tell(f"ingesting them as a version of dataset {DATASET} in project {PROJECT}")
    version = handle.add_version(
        frame, message=f"synthetic transactions: {size:,} over {days} days, seed {seed}"
    )
    ingested = time.perf_counter()
    tell(f"running pipeline {fraud_training.name} on {version.ref} (executor {executor})")
    result = run(
        fraud_training,
        project=PROJECT,
        executor=executor,
        client=client,
        on_event=on_event,
        data=f"{DATASET}@{version.number}",
        holdout_days=holdout_days,
        n_estimators=n_estimators,
    )
    finished = time.perf_counter()
    online = None
    if result.status == "succeeded":
        tell("materializing the card features, looking a card up online, pushing a purchase")
        online = card_online(client, PROJECT, DATASET, version.number)
    served = None
    if result.status == "succeeded" and (result.output("promote") or {}).get("champion"):
        tell(f"serving {MODEL}@{ALIAS} and sending it live purchases")
        served = serve_champion(client, result.output("featurize"))
    return DemoResult(
        version=version.info,
        new_version=version.number not in known,
        patterns=_patterns(frame),
        generate_seconds=generated - started,
        ingest_seconds=ingested - generated,
        pipeline_seconds=finished - ingested,
        pipeline=result,
        evaluation=_output(result, "evaluate"),
        promotion=_output(result, "promote"),
        scoring=_output(result, "score"),
        online=online,
        serving=served,
        champion=_output(result, "evaluate_champion"),
    )


def _version_numbers(client: Client) -> set[int]:
    try:
        return {v.number for v in dataset(DATASET, project=PROJECT, client=client).versions()}
    except NotFound:
        return set()


def _patterns(frame: pd.DataFrame) -> dict[str, int]:
    counts = frame["fraud_pattern"].value_counts()
    return {str(name): int(count) for name, count in counts.items()}


def _output(result: PipelineResult, node: str) -> dict[str, Any] | None:
    try:
        record = result.step(node)
    except InvalidInput:
        return None
    if record.status not in ("succeeded", "cached") or record.output is None:
        return None
    value = result.output(node)
    return value if isinstance(value, dict) else None
