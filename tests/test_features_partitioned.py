"""A training set split by entity and joined in partitions (in this process, in a process
pool, on a real local Ray) equals the single-process one: the same columns, types and row
order, the same values (sums, means and standard deviations to the last bits, which DuckDB's
window aggregates round in an order that varies between single-process runs too)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dockyard.compute.executor import Executor
from dockyard.compute.inprocess import InProcessExecutor
from dockyard.compute.registry import open_executor
from dockyard.core.errors import InvalidInput
from dockyard.features import Aggregate, FeatureView, Field, OnDemand
from dockyard.features.offline import training_set
from dockyard.features.partitioned import partition_ids, split
from features_support import (
    CARD,
    fraud_views,
    labels_table,
    random_labels,
    same,
    to_table,
    transactions,
)

ROUNDED = ("sum", "mean", "std")  # float aggregates whose last bits depend on DuckDB's order
REFS = ["card_activity:*", "merchant_activity:*", "card_recent:*"]


def _unpicklable_ratio() -> Any:
    """An on-demand function that cannot be pickled (it holds a lock): the partitions must
    never carry on-demand functions, which run in the caller's process."""
    lock = threading.Lock()

    def ratio(recent: float | None, top: float | None) -> float | None:
        with lock:
            return None if recent is None or not top else recent / top

    return ratio


def _views(bucket: str | None) -> list[FeatureView]:
    recent = FeatureView(
        "card_recent",  # a second view of the card entity: joined in the same shares
        entities=[CARD],
        source="transactions",
        timestamp="ts",
        features=[
            Field("amount", name="recent_amount"),
            Aggregate("merchant_id", "last", window="30m", name="recent_merchant"),
            OnDemand(
                "recent_vs_top",
                _unpicklable_ratio(),
                inputs=["card_recent:recent_amount", "card_activity:amount_max_all"],
            ),
            OnDemand("label_plus_one", lambda label: label + 1, inputs=["label_id"]),
        ],
        ttl="10m",
    )
    return [*fraud_views(bucket=bucket), recent]


def _with_nulls(table: pa.Table, column: str, every: int) -> pa.Table:
    """``column`` with a null in every ``every``-th row (a null key names no entity)."""
    mask = pa.array(np.arange(table.num_rows) % every == 0)
    values = table.column(column)
    nulled = pc.if_else(mask, pa.scalar(None, values.type), values)
    return table.set_column(table.schema.get_field_index(column), column, nulled)


def _case(seed: int) -> tuple[pa.Table, pa.Table]:
    """Random purchases and labels: ties at one time, labels exactly at purchases' times,
    null card and merchant keys on both sides, and merchant ids of another integer width in
    the labels than in the events."""
    events = transactions(seed, rows=1500, cards=12)
    labels = labels_table(random_labels(seed + 100, events, 400))
    labels = _with_nulls(labels, "card_hash", 23)
    index = labels.schema.get_field_index("merchant_id")
    labels = labels.set_column(index, "merchant_id", labels.column("merchant_id").cast(pa.int32()))
    return labels, _with_nulls(to_table(events), "card_hash", 31)


def _rounded(views: list[FeatureView]) -> set[str]:
    return {
        f.name for v in views for f in v.features if isinstance(f, Aggregate) and f.fn in ROUNDED
    }


def assert_same_training_set(got: pa.Table, want: pa.Table, rounded: set[str]) -> None:
    assert got.schema == want.schema  # names, order and types
    for name in want.column_names:
        if name in rounded:
            pairs = zip(got[name].to_pylist(), want[name].to_pylist(), strict=True)
            assert all(same(a, b) for a, b in pairs), name
        else:
            assert got[name].equals(want[name]), name


@pytest.fixture(scope="module", params=[(1, None), (2, "5m")], ids=["seed1", "seed2-bucket5m"])
def case(request: pytest.FixtureRequest) -> tuple[pa.Table, pa.Table, list[FeatureView], pa.Table]:
    seed, bucket = request.param
    labels, events = _case(seed)
    views = _views(bucket)
    single = training_set(labels, views, {"transactions": events}, REFS)
    return labels, events, views, single


@pytest.mark.parametrize("partitions", [1, 3, 7])
def test_partitions_in_process_equal_one_process(
    case: tuple[pa.Table, pa.Table, list[FeatureView], pa.Table], partitions: int
) -> None:
    labels, events, views, single = case
    assert single.column("label_plus_one").to_pylist() == [
        i + 1 for i in labels.column("label_id").to_pylist()
    ]
    got = training_set(
        labels,
        views,
        {"transactions": events},
        REFS,
        executor=InProcessExecutor(),
        partitions=partitions,
    )
    assert_same_training_set(got, single, _rounded(views))


@pytest.fixture(scope="module")
def ray_executor(local_ray: None) -> Iterator[Executor]:
    executor = open_executor("ray")  # joins the session's local Ray, leaves it running
    yield executor
    executor.close()


@pytest.mark.parametrize("partitions", [1, 3, 7])
def test_partitions_on_ray_equal_one_process(
    case: tuple[pa.Table, pa.Table, list[FeatureView], pa.Table],
    partitions: int,
    ray_executor: Executor,
) -> None:
    labels, events, views, single = case
    got = training_set(
        labels, views, {"transactions": events}, REFS, executor=ray_executor, partitions=partitions
    )
    assert_same_training_set(got, single, _rounded(views))


def test_partitions_in_a_process_pool_equal_one_process() -> None:
    labels, events = _case(3)
    views = _views(None)
    single = training_set(labels, views, {"transactions": events}, REFS, full_names=True)
    pool = open_executor("process", max_workers=2, cpus=2)
    try:
        got = training_set(
            labels,
            views,
            {"transactions": events},
            REFS,
            full_names=True,
            executor=pool,
            partitions=3,
            threads=1,
        )
    finally:
        pool.close()
    rounded = {f"{v.name}__{name}" for v in views for name in _rounded([v])}
    assert_same_training_set(got, single, rounded)


def test_no_labels_and_more_partitions_than_entities() -> None:
    labels, events = _case(4)
    views = _views(None)
    for rows in (labels.slice(0, 0), labels.slice(0, 3)):
        single = training_set(rows, views, {"transactions": events}, REFS)
        got = training_set(rows, views, {"transactions": events}, REFS, partitions=7)
        assert_same_training_set(got, single, _rounded(views))


def test_shares_keep_arrival_order_and_each_entity_in_one_share() -> None:
    _, events = _case(5)
    numbered = events.append_column("seq", pa.array(np.arange(events.num_rows)))
    shares = split(numbered, ["country", "merchant_id"], 4)
    assert sum(s.num_rows for s in shares) == events.num_rows
    assert sorted(np.concatenate([s.column("seq").to_numpy() for s in shares])) == list(
        range(events.num_rows)
    )
    owner: dict[tuple[Any, Any], int] = {}
    for p, share in enumerate(shares):
        assert list(share.column("seq").to_numpy()) == sorted(share.column("seq").to_numpy())
        for key in zip(share["country"].to_pylist(), share["merchant_id"].to_pylist(), strict=True):
            assert owner.setdefault(key, p) == p, key  # null merchant ids too
    assert len(set(owner.values())) > 1


KEYS = [0, 1, 7, 2**15 - 1, None, -1]


def _ids(values: list[int | None], kind: pa.DataType) -> list[int]:
    ids: list[int] = partition_ids(pa.table({"k": pa.array(values, kind)}), ["k"], 5).tolist()
    return ids


def test_the_hash_of_a_key_is_the_same_in_another_process_and_for_any_integer_width() -> None:
    here = _ids(KEYS, pa.int64())
    assert _ids(KEYS, pa.int32()) == here and _ids(KEYS, pa.int16()) == here
    assert _ids(KEYS[:-1], pa.uint64()) == here[:-1]
    code = (
        "import pyarrow as pa\n"
        "from dockyard.features.partitioned import partition_ids\n"
        f"keys = pa.table({{'k': pa.array({KEYS!r}, pa.int64())}})\n"
        "print(partition_ids(keys, ['k'], 5).tolist())\n"
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert child.stdout.strip() == str(here)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"partitions": 0}, "partitions must be from 1 to"),
        ({"partitions": -3}, "partitions must be from 1 to"),
        ({"partitions": 10_001}, "partitions must be from 1 to"),
        ({"partitions": 2.5}, "partitions must be a whole number"),
        ({"partitions": "3"}, "partitions must be a whole number"),
        ({"partitions": True}, "partitions must be a whole number"),
        ({"executor": object(), "partitions": 2}, "executor must be a dockyard executor"),
        ({"executor": "ray", "partitions": 2}, "use dy.features.training_set"),
        ({"executor": InProcessExecutor()}, "an executor needs partitions=N"),
        ({"partitions": 2, "threads": 0}, "threads must be a whole number >= 1"),
    ],
)
def test_bad_partitioning_is_refused_with_what_to_fix(
    options: dict[str, Any], message: str
) -> None:
    labels, events = _case(6)
    with pytest.raises(InvalidInput, match=message):
        training_set(labels, _views(None), {"transactions": events}, REFS, **options)


def test_a_failing_partition_says_which() -> None:
    labels, events = _case(7)
    with pytest.raises(Exception, match="Memory must have a number") as failed:
        training_set(
            labels, _views(None), {"transactions": events}, REFS, partitions=3, memory_limit="lots"
        )
    assert "in training set partition 1 of 3" in "\n".join(getattr(failed.value, "__notes__", []))
