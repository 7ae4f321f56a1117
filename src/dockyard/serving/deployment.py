"""What a server holds for one registered model: the loaded versions behind the aliases it
serves, and how a request picks one (the alias it was started on, or the model's traffic
split: weighted arms, sticky by a request field, and shadows that get a copy).

A swap replaces the whole :class:`Routes` object at once; a request takes the routes once,
so it finishes on the version it started on while later requests see the new one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dockyard.core.errors import InvalidInput, Unavailable
from dockyard.registry.traffic import bucket_of
from dockyard.serving.batcher import Batcher
from dockyard.serving.enrich import Enrichment, look_up
from dockyard.serving.inputs import Rows

if TYPE_CHECKING:
    from dockyard.client.client import Client
    from dockyard.registry.packaging import LoadedModel


def _slices(output: Any, counts: Sequence[int]) -> list[Any]:
    """Split a batch's output (array or DataFrame) into one JSON-able list per request."""
    out: list[Any] = []
    start = 0
    if isinstance(output, pd.DataFrame):
        records = output.to_dict(orient="records")
        for n in counts:
            out.append(records[start : start + n])
            start += n
        return out
    array = np.asarray(output)
    for n in counts:
        out.append(array[start : start + n].tolist())
        start += n
    return out


@dataclass
class Answer:
    """What one request gets back: its outputs, and the features looked up for it."""

    outputs: list[Any]
    features: dict[str, list[Any]] | None = None


class Deployment:
    """One loaded version of a model, with a batcher per kind of call."""

    def __init__(
        self,
        name: str,
        version: int,
        model: LoadedModel,
        *,
        max_rows: int,
        max_wait: float,
        enrichment: Enrichment | None = None,
        client: Client | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.model = model
        signature = model.signature
        self.inputs: list[str] | None = (
            [c.name for c in signature.inputs] if signature is not None else None
        )
        self.enrichment = enrichment
        self.client = client
        self._options = {"max_rows": max_rows, "max_wait": max_wait}
        self._batchers: dict[str, Batcher[Rows]] = {}

    @property
    def request_inputs(self) -> list[str] | None:
        """The columns a request must carry: the model's inputs that are not looked up,
        plus the entity keys of the lookup."""
        if self.inputs is None:
            return None
        if self.enrichment is None:
            return self.inputs
        looked_up = set(self.enrichment.columns.values())
        own = [name for name in self.inputs if name not in looked_up]
        return own + [k for k in self.enrichment.keys if k not in own]

    def batcher(self, method: str) -> Batcher[Rows]:
        found = self._batchers.get(method)
        if found is None:
            found = Batcher(
                lambda items: self._predict(method, items),
                size_of=lambda rows: rows.count,
                name=f"{self.name}-v{self.version}",
                **self._options,  # type: ignore[arg-type]
            )
            self._batchers[method] = found
        return found

    def model_columns(self, columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """The columns the model takes (others are logged but not passed); a missing one
        is a 422 naming it."""
        if self.inputs is None:
            return columns
        missing = [name for name in self.inputs if name not in columns]
        if missing:
            raise InvalidInput(
                f"missing input column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                f"model {self.name} v{self.version} takes {', '.join(self.request_inputs or [])}"
            )
        return {name: columns[name] for name in self.inputs}

    def _run(self, method: str, items: Sequence[Rows]) -> list[Answer]:
        """Predict several requests as one batch (features looked up once for all)."""
        counts = [rows.count for rows in items]
        if len(items) == 1:
            columns = items[0].columns
        else:
            names = list(dict.fromkeys(name for rows in items for name in rows.columns))
            columns = {
                name: [v for rows in items for v in rows.columns.get(name, [None] * rows.count)]
                for name in names
            }
        features = None
        if self.enrichment is not None and self.client is not None:
            features = look_up(self.client, self.enrichment, columns)
            columns = {**columns, **features}
        model_input = self.model_columns(columns)
        output = self.model.predict_columns(model_input, proba=method == "proba")
        outputs = _slices(output, counts)
        answers = []
        start = 0
        for n, out in zip(counts, outputs, strict=True):
            part = {k: v[start : start + n] for k, v in features.items()} if features else None
            answers.append(Answer(out, part))
            start += n
        return answers

    def _predict(self, method: str, items: Sequence[Rows]) -> list[Any]:
        """One :class:`Answer` per request, or the exception that request alone caused
        (a batch that fails is retried request by request to find it)."""
        try:
            return self._run(method, items)
        except Exception:
            if len(items) == 1:
                raise
        results: list[Any] = []
        for rows in items:
            try:
                results.append(self._run(method, [rows])[0])
            except Exception as exc:
                results.append(exc)
        return results

    def retire(self) -> None:
        for batcher in self._batchers.values():
            batcher.retire()


@dataclass
class Arm:
    alias: str
    deployment: Deployment


@dataclass
class Routes:
    """How requests for one model are answered right now."""

    arms: list[tuple[Arm, int]]
    """Weighted arms; weights sum to 100 (a single arm: 100)."""
    shadows: list[Arm] = field(default_factory=list)
    sticky: str | None = None

    def pick(self, rows: Rows, rng: random.Random) -> Arm:
        """The arm that answers ``rows``: the bucket (0-99) of the sticky field's first
        value when the traffic names one (the registry's rule, so an entity gets the same
        arm from every server), else a random bucket; arms take buckets in weight order."""
        if len(self.arms) == 1:
            return self.arms[0][0]
        values = rows.columns.get(self.sticky) if self.sticky else None
        bucket = bucket_of(values[0]) if values else rng.randrange(100)
        total = 0
        for arm, weight in self.arms:
            total += weight
            if bucket < total:
                return arm
        return self.arms[-1][0]


@dataclass
class ServedModel:
    """A model a server answers for, named by the URI it was started with."""

    name: str
    uri: str
    alias: str | None
    """The alias followed; None for a pinned version (or ``latest`` with ``follow_latest``)."""
    pinned: int | None = None
    follow_latest: bool = False
    routes: Routes | None = None
    loaded: dict[int, Deployment] = field(default_factory=dict)
    wanted: dict[str, int | None] = field(default_factory=dict)
    """alias -> the version the registry says it points at (as last seen)."""
    errors: dict[int, str] = field(default_factory=dict)
    """version -> why it failed to load (the server keeps what it had)."""
    problem: str = ""
    """What stops the model from following its aliases now (an alias pointing nowhere, an
    unreachable registry); empty when all is well."""
    traffic: dict[str, int] = field(default_factory=dict)
    shadow: list[str] = field(default_factory=list)
    frozen: bool = False

    def current(self) -> Routes:
        if self.routes is None:
            why = self.problem or "; ".join(self.errors.values()) or "it is loading"
            raise Unavailable(f"model {self.name} has no version loaded yet ({why}); see /readyz")
        return self.routes
