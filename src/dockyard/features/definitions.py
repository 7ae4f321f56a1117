"""Feature definitions as code: entities, feature views and their features.

A feature view reads one source table (a dataset, named by ``source``) whose rows are events
of the view's entities at the time in its ``timestamp`` column. Each feature of the view is
one of three kinds:

- :class:`Field`: the latest value of a column as of the time asked (the view's ``ttl``
  turns a value older than that into null);
- :class:`Aggregate`: ``count``, ``sum``, ``mean``, ``std`` (population standard
  deviation), ``min``, ``max``, ``last`` or ``distinct_count`` of a column over a window
  of time (or all history);
- :class:`OnDemand`: a Python function of request values and looked-up features, run in the
  caller's own process at request time (and on the label rows of a training set). The
  function is never stored: a definition records only its name and a digest of its source.

The exact meaning of "as of time t" and of a window is in :mod:`dockyard.features.windows`.
Every definition has a canonical JSON form and a sha256 ``fingerprint`` of it, so a
versioning layer can tell when a definition (or one feature of it) changed.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator
from pydantic import Field as PydanticField

from dockyard.features.durations import parse_duration
from dockyard.features.errors import InvalidDefinition

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}\Z")

AGGREGATIONS = ("count", "sum", "mean", "std", "min", "max", "last", "distinct_count")
"""The aggregation functions an :class:`Aggregate` can apply."""

GATED_AGGREGATIONS = ("count", "sum", "mean")
"""The aggregations that accept ``available_at`` (their partials can be subtracted; ``std``
is kept as stable moments, which cannot)."""

BUCKETS_PER_WINDOW = 24
"""A window is cut in this many buckets unless the view sets ``bucket``."""


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use letters, digits and underscores, starting "
            "with a letter or underscore, at most 128 characters"
        )
    return value


def _check_column(value: str) -> str:
    if not value or len(value) > 256 or value.startswith("__"):
        raise ValueError(
            f"{value!r} is not a usable column name: it must be 1-256 characters and not "
            "start with '__' (reserved for the feature store's own columns)"
        )
    return value


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


Name = Annotated[str, AfterValidator(_check_name)]
Column = Annotated[str, AfterValidator(_check_column)]
Duration = Annotated[str, AfterValidator(_check_duration)]


class _Definition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def _build(self, what: str, fields: dict[str, Any]) -> None:
        try:
            BaseModel.__init__(self, **fields)
        except ValidationError as exc:
            raise InvalidDefinition(f"{what} is not valid: {_problems(exc)}") from None

    def canonical(self) -> dict[str, Any]:
        """The definition as plain JSON values, with every default spelled out."""
        return self.model_dump(mode="json")

    def canonical_json(self) -> str:
        """The canonical form as compact JSON with sorted keys: equal definitions give
        equal strings."""
        return json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))

    def fingerprint(self) -> str:
        """The sha256 (hex) of :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()
    )


class Entity(_Definition):
    """What features describe, identified by the values of its key columns."""

    name: Name
    keys: Annotated[list[Column], PydanticField(min_length=1)]

    def __init__(
        self, name: str | None = None, /, keys: Sequence[str] | None = None, **extra: Any
    ) -> None:
        name = extra.pop("name", None) if name is None else name  # from a record: keywords
        fields = dict(name=name, keys=None if keys is None else list(keys), **extra)
        self._build(f"entity {name!r}", fields)

    @model_validator(mode="after")
    def _unique_keys(self) -> Entity:
        if len(set(self.keys)) != len(self.keys):
            raise ValueError(f"the keys {self.keys} repeat a column")
        return self


class Field(_Definition):
    """The latest value of ``column`` as of the time asked (null when none, or when it is
    older than the view's ``ttl``). Named after the column unless ``name`` is given."""

    kind: Literal["field"] = "field"
    column: Column
    name: Name

    def __init__(self, column: str | None = None, /, name: str | None = None, **extra: Any) -> None:
        column = extra.pop("column", None) if column is None else column
        fields = {"column": column, "name": column if name is None else name, **extra}
        self._build(f"field {column!r}", fields)


class Aggregate(_Definition):
    """``fn`` of the non-null values of ``column`` over the events of a window.

    ``window`` is a duration (``"24h"``) or None for all history. With ``available_at``
    (a timestamp column), an event counts only once that time is strictly before the time
    asked, e.g. a fraud label that is known days after the purchase. The default name is
    ``<column>_<fn>_<window or 'all'>``, e.g. ``amount_sum_24h`` or ``amount_mean_all``.
    """

    kind: Literal["aggregate"] = "aggregate"
    column: Column
    fn: Literal["count", "sum", "mean", "std", "min", "max", "last", "distinct_count"]
    window: Duration | None = None
    available_at: Column | None = None
    name: Name

    def __init__(
        self,
        column: str | None = None,
        fn: str | None = None,
        /,
        window: str | None = None,
        available_at: str | None = None,
        name: str | None = None,
        **extra: Any,
    ) -> None:
        column = extra.pop("column", None) if column is None else column
        fn = extra.pop("fn", None) if fn is None else fn
        if name is None:
            name = f"{column}_{fn}_{window or 'all'}"
        fields = {
            "column": column,
            "fn": fn,
            "window": window,
            "available_at": available_at,
            "name": name,
            **extra,
        }
        self._build(f"aggregate {name!r}", fields)

    @model_validator(mode="after")
    def _gating(self) -> Aggregate:
        if self.available_at is not None and self.fn not in GATED_AGGREGATIONS:
            raise ValueError(
                f"available_at works with {', '.join(GATED_AGGREGATIONS)}, not {self.fn!r}"
            )
        if self.available_at == self.column:
            raise ValueError("available_at must be another column than the aggregated one")
        return self

    @property
    def window_us(self) -> int | None:
        """The window in microseconds (None: all history)."""
        return None if self.window is None else parse_duration(self.window)


def _describe_function(fn: Callable[..., Any]) -> dict[str, str]:
    module = getattr(fn, "__module__", None) or "?"
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        source = ""
    return {
        "function": f"{module}:{qualname}",
        "source_sha256": hashlib.sha256(source.encode()).hexdigest() if source else "",
    }


class OnDemand(_Definition):
    """A feature computed at request time: ``fn(*values)`` with one value per input, in order.

    An input is either a feature reference ``"view:feature"`` (looked up as of the same
    time) or the name of a request value (a column of the label table offline, a request
    field online). ``fn`` is the caller's own code and runs in the caller's process; it is
    never stored, so a definition read back from a record must be given ``fn`` again.

    With ``vectorized=True``, ``fn`` is called once per batch instead of once per row: it
    gets one pandas Series per input (nulls as NaN or None, times as datetimes) and returns
    a sequence of as many values (a Series, an array or a list).
    """

    kind: Literal["on_demand"] = "on_demand"
    name: Name
    inputs: Annotated[list[str], PydanticField(min_length=1)]
    vectorized: bool = False
    fn: Callable[..., Any] = PydanticField(exclude=True)

    def __init__(
        self,
        name: str | None = None,
        fn: Callable[..., Any] | None = None,
        /,
        inputs: Sequence[str] | None = None,
        vectorized: bool = False,
        **extra: Any,
    ) -> None:
        name = extra.pop("name", None) if name is None else name
        fn = extra.pop("fn", None) if fn is None else fn
        fields = {
            "name": name,
            "fn": fn,
            "inputs": None if inputs is None else list(inputs),
            "vectorized": vectorized,
        }
        fields.update(extra)
        self._build(f"on-demand feature {name!r}", fields)

    def canonical(self) -> dict[str, Any]:
        return {**self.model_dump(mode="json"), **_describe_function(self.fn)}

    @property
    def feature_inputs(self) -> list[str]:
        """The inputs that are feature references (``view:feature``)."""
        return [i for i in self.inputs if ":" in i]

    @property
    def request_inputs(self) -> list[str]:
        """The inputs that are request values (no ``:``)."""
        return [i for i in self.inputs if ":" not in i]


Feature = Annotated[Field | Aggregate | OnDemand, PydanticField(discriminator="kind")]


class FeatureView(_Definition):
    """Features of ``entities`` computed from the events of the ``source`` dataset.

    ``timestamp`` is the events' time column. ``ttl`` makes a :class:`Field` (or ``last``)
    value null once it is older than that. ``bucket`` sets the time resolution of every
    windowed aggregate (each window must be a whole number of buckets); without it each
    window is cut in :data:`BUCKETS_PER_WINDOW` buckets. ``lateness`` is how far behind the
    newest event seen an online push may still deliver an event.
    """

    name: Name
    entities: Annotated[list[Entity], PydanticField(min_length=1)]
    source: Annotated[str, PydanticField(min_length=1, max_length=256)]
    timestamp: Column
    features: Annotated[list[Feature], PydanticField(min_length=1)]
    ttl: Duration | None = None
    bucket: Duration | None = None
    lateness: Duration = "10m"

    def __init__(
        self,
        name: str | None = None,
        /,
        entities: Sequence[Entity] | None = None,
        source: str | None = None,
        timestamp: str | None = None,
        features: Sequence[Field | Aggregate | OnDemand] | None = None,
        ttl: str | None = None,
        bucket: str | None = None,
        lateness: str = "10m",
        **extra: Any,
    ) -> None:
        name = extra.pop("name", None) if name is None else name  # from a record: keywords
        fields = {
            "name": name,
            "entities": None if entities is None else list(entities),
            "source": source,
            "timestamp": timestamp,
            "features": None if features is None else list(features),
            "ttl": ttl,
            "bucket": bucket,
            "lateness": lateness,
            **extra,
        }
        self._build(f"feature view {name!r}", fields)

    def canonical(self) -> dict[str, Any]:
        body = self.model_dump(mode="json", exclude={"features", "entities"})
        body["entities"] = [e.canonical() for e in self.entities]
        body["features"] = [f.canonical() for f in self.features]
        return body

    @model_validator(mode="after")
    def _consistent(self) -> FeatureView:
        names = [f.name for f in self.features]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"feature names repeat: {repeated}; give each a distinct name=")
        keys = self.keys
        if len(set(keys)) != len(keys):
            raise ValueError(f"the entities' key columns {keys} repeat a column")
        if self.timestamp in keys:
            raise ValueError(f"the timestamp column {self.timestamp!r} is also a key column")
        for feature in self.features:
            if isinstance(feature, Aggregate) and feature.window_us is not None:
                self.bucket_us(feature)  # raises when the window cannot be cut in buckets
            if isinstance(feature, Field | Aggregate) and feature.column in keys:
                raise ValueError(
                    f"feature {feature.name!r} reads the key column {feature.column!r}"
                )
        return self

    @property
    def keys(self) -> list[str]:
        """The key columns of the view: every entity's keys, in order."""
        return [k for e in self.entities for k in e.keys]

    @property
    def ttl_us(self) -> int | None:
        """The TTL in microseconds (None: values never expire)."""
        return None if self.ttl is None else parse_duration(self.ttl)

    @property
    def lateness_us(self) -> int:
        """The lateness in microseconds."""
        return parse_duration(self.lateness)

    def bucket_us(self, feature: Aggregate) -> int:
        """The bucket size of a windowed aggregate in microseconds."""
        window = feature.window_us
        if window is None:
            raise ValueError(f"{feature.name!r} covers all history and has no buckets")
        if self.bucket is not None:
            bucket = parse_duration(self.bucket)
            if window % bucket:
                raise ValueError(
                    f"the window {feature.window!r} of {feature.name!r} is not a whole number "
                    f"of buckets of {self.bucket!r}; choose a bucket that divides every window"
                )
            return bucket
        if window % BUCKETS_PER_WINDOW:
            raise ValueError(
                f"the window {feature.window!r} of {feature.name!r} cannot be cut in "
                f"{BUCKETS_PER_WINDOW} whole-microsecond buckets; set bucket= on the view "
                "(e.g. bucket='1s')"
            )
        return window // BUCKETS_PER_WINDOW

    def feature(self, name: str) -> Field | Aggregate | OnDemand:
        """The feature called ``name`` (KeyError when there is none)."""
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    def source_columns(self) -> list[str]:
        """Every column of the source the view reads: keys, timestamp, values, times."""
        columns = [*self.keys, self.timestamp]
        for feature in self.features:
            if isinstance(feature, Field | Aggregate):
                columns.append(feature.column)
            if isinstance(feature, Aggregate) and feature.available_at is not None:
                columns.append(feature.available_at)
        return list(dict.fromkeys(columns))
