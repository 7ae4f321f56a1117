"""Downsampled metric history: raw points for short series, min/max rollups for long ones."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from conftest import PostgresDatabases
from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings
from dockyard.services import Services
from dockyard.store.db import Database
from dockyard.store.migrate import HEAD, current_revision, upgrade
from dockyard.store.tables import (
    ExperimentRow,
    MetricSeriesRow,
    ProjectRow,
    RunRow,
    metric_points,
    metric_rollups,
)
from dockyard.tracking import metrics, rollups
from dockyard.tracking.schemas import MetricBatch, MetricSeries

Point = tuple[int, int, float]  # (step, ts, value)


def _wave(n: int, spike_at: int, seed: int = 1) -> list[Point]:
    """A noisy decaying curve with one spike up and one dip down."""
    rng = random.Random(seed)
    points = [(s, 1_000_000 + s, math.exp(-s / n) + 0.05 * rng.random()) for s in range(n)]
    points[spike_at] = (spike_at, 1_000_000 + spike_at, 50.0)
    points[n // 3] = (n // 3, 1_000_000 + n // 3, -7.5)
    return points


def _log_shuffled(
    client: Client, run_id: str, points: list[Point], batches: int, seed: int
) -> None:
    """Log ``points`` in ``batches`` batches sent in random order, each in random order."""
    rng = random.Random(seed)
    size = -(-len(points) // batches)
    chunks = [points[i : i + size] for i in range(0, len(points), size)]
    rng.shuffle(chunks)
    for chunk in chunks:
        chunk = list(chunk)
        rng.shuffle(chunk)
        steps, stamps, values = (list(column) for column in zip(*chunk, strict=True))
        series = MetricSeries(steps=steps, timestamps=stamps, values=values)
        client.runs.log_batch(run_id, MetricBatch(series={"loss": series}))


def _expected_from_rollups(points: list[Point], max_points: int) -> list[Point]:
    """What the rollup path must return, computed from the raw points: the level it reads,
    max_points // 2 groups of its buckets, each group's lowest and highest (value, step, ts)."""
    steps = [s for s, _, _ in points]
    level = rollups.choose_level(len(points), min(steps), max(steps), max_points)
    first, last = min(steps) >> level, max(steps) >> level
    span, groups = last - first + 1, max_points // 2
    members: dict[int, list[tuple[float, int, int]]] = defaultdict(list)
    for step, ts, value in points:
        bucket = (step >> level) - first
        members[bucket * groups // span if span > groups else bucket].append((value, step, ts))
    picked = set()
    for group in members.values():
        for value, step, ts in (min(group), max(group)):
            picked.add((step, ts, value))
    return sorted(picked)


def _check_downsampled(points: list[Point], got: list[Point], max_points: int) -> None:
    real = set(points)
    assert got == sorted(set(got)) and len(got) <= max_points
    assert all(p in real for p in got)  # every kept point is a real point
    values = [v for _, _, v in got]
    assert min(values) == min(v for _, _, v in points) == -7.5
    assert max(values) == max(v for _, _, v in points) == 50.0


def _history(client: Client, run_id: str, max_points: int) -> list[Point]:
    history = client.runs.history(run_id, "loss", max_points=max_points)
    assert history.downsampled
    return list(zip(history.steps, history.timestamps, history.values, strict=True))


def test_long_series_through_rollups_and_raw_points(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.projects.create("p")
    run = client.runs.create("p")
    points = _wave(50_000, spike_at=31_337)
    _log_shuffled(client, run.id, points, batches=23, seed=2)
    summary = client.runs.get(run.id).metrics["loss"]
    assert (summary.count, summary.min, summary.max) == (50_000, -7.5, 50.0)
    assert (summary.step, summary.last) == (49_999, points[-1][2])

    def unused(*args: object) -> None:
        raise AssertionError("the other path was taken")

    with monkeypatch.context() as patch:  # long for 1,000 points: rollups, never raw points
        patch.setattr(metrics, "_minmax_buckets", unused)
        got = _history(client, run.id, 1000)
        _check_downsampled(points, got, 1000)
        assert got == _expected_from_rollups(points, 1000)
        assert (31_337, 1_031_337, 50.0) in got
        assert len(got) > 900  # the resolution asked for, not a coarser one
        tiny = _history(client, run.id, 3)
        _check_downsampled(points, tiny, 3)
    with monkeypatch.context() as patch:  # short enough for 10,000 points: raw points
        patch.setattr(metrics, "_from_rollups", unused)
        got = _history(client, run.id, 10_000)
        _check_downsampled(points, got, 10_000)
        assert (31_337, 1_031_337, 50.0) in got
    whole = client.runs.history(run.id, "loss")
    assert not whole.downsampled and whole.steps == list(range(50_000))


def _rollup_rows(services: Services, series_id: int) -> list[tuple[object, ...]]:
    c = metric_rollups.c
    columns = ("level", "bucket", "count", "min_value", "min_step", "min_ts", "max_value")
    query = (
        sa.select(*(c[name] for name in columns), c.max_step, c.max_ts)
        .where(c.series_id == series_id)
        .order_by(c.level, c.bucket)
    )
    return services.db.query(lambda s: [tuple(row) for row in s.execute(query)])


def _series_id(services: Services, run_id: str, key: str = "loss") -> int:
    query = sa.select(MetricSeriesRow.id).where(
        MetricSeriesRow.run_id == run_id, MetricSeriesRow.key == key
    )
    found: int = services.db.query(lambda s: s.scalar(query))
    return found


def test_rollups_count_every_point_once_and_go_with_the_run(
    client: Client, services: Services
) -> None:
    client.projects.create("p")
    run = client.runs.create("p")
    points = [(s * 7, s, float(s % 13)) for s in range(5000)]
    steps, stamps, values = (list(c) for c in zip(*points, strict=True))
    batch = MetricBatch(
        batch_id="once",
        series={"loss": MetricSeries(steps=steps, timestamps=stamps, values=values)},
    )
    assert client.runs.log_batch(run.id, batch).points == 5000
    assert client.runs.log_batch(run.id, batch).duplicate  # a retry: nothing counted twice
    rows = _rollup_rows(services, _series_id(services, run.id))
    for level in rollups.LEVELS:
        counts = [row[2] for row in rows if row[0] == level]
        assert sum(counts) == 5000  # type: ignore[arg-type]
        assert len(counts) == len({(s >> level) for s in steps})
    client.runs.delete(run.id)
    client.runs.purge(run.id)
    left = services.db.query(
        lambda s: s.scalar(sa.select(sa.func.count()).select_from(metric_rollups))
    )
    assert left == 0


def test_rollup_rows_do_not_depend_on_arrival_order(client: Client, services: Services) -> None:
    client.projects.create("p")
    rng = random.Random(4)
    # few distinct values: many ties, broken by (step, ts) whatever the order of arrival
    points = [
        (rng.randrange(-3000, 60_000), rng.randrange(5), float(rng.randrange(4)))
        for _ in range(8000)
    ]
    runs = []
    for seed, batches in ((1, 1), (2, 17), (3, 40)):
        run = client.runs.create("p")
        _log_shuffled(client, run.id, points, batches=batches, seed=seed)
        runs.append(_rollup_rows(services, _series_id(services, run.id)))
    assert runs[0] == runs[1] == runs[2]


def _merge(rows: list[tuple[object, ...]]) -> dict[tuple[object, ...], tuple[object, ...]]:
    """Rollup rows merged per (level, bucket) as the database merges them."""
    merged: dict[tuple[object, ...], tuple[object, ...]] = {}
    for _, level, bucket, count, *low_high in rows:
        low, high = tuple(low_high[:3]), tuple(low_high[3:])
        seen = merged.get((level, bucket))
        if seen is not None:
            count = seen[0] + count  # type: ignore[operator]
            low = min(seen[1], low)  # type: ignore[type-var]
            high = max(seen[2], high)  # type: ignore[type-var]
        merged[(level, bucket)] = (count, low, high)
    return merged


@given(
    points=st.lists(
        st.tuples(
            st.integers(-(2**20), 2**20), st.integers(0, 3), st.sampled_from([0.0, 1.5, -2.0])
        ),
        min_size=1,
        max_size=300,
    ),
    cuts=st.lists(st.integers(0, 300), max_size=6),
)
def test_batch_rollups_merge_like_one_batch(points: list[Point], cuts: list[int]) -> None:
    def rows_of(part: list[Point]) -> list[tuple[object, ...]]:
        steps, stamps, values = (list(c) for c in zip(*part, strict=True))
        series = MetricSeries.model_construct(steps=steps, timestamps=stamps, values=values)
        return rollups.batch_rollups(1, series)

    bounds = sorted({0, len(points), *(c for c in cuts if c < len(points))})
    parts = [points[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    split = [row for part in parts for row in rows_of(part)]
    assert _merge(split) == _merge(rows_of(points))
    whole = _merge(rows_of(points))
    for (level, bucket), (count, low, high) in whole.items():
        inside = [(v, s, t) for s, t, v in points if s >> level == bucket]  # type: ignore[operator]
        assert (count, low, high) == (len(inside), min(inside), max(inside))


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, not yet migrated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        databases: PostgresDatabases = request.getfixturevalue("postgres")
        yield databases.create()


def _seed_at_0003(db: Database, series: dict[str, list[Point]]) -> str:
    """A run with metric points written as dockyard did at revision 0003 (no rollups)."""
    now = dt.datetime.now(dt.UTC)
    ids = {"project": "1" * 32, "experiment": "2" * 32, "run": "3" * 32}
    with db.write_connection() as conn:
        conn.execute(
            sa.insert(ProjectRow.__table__),
            [
                {"id": ids["project"], "name": "old", "description": "", "created_by": "t"}
                | {"created_at": now, "updated_at": now}
            ],
        )
        conn.execute(
            sa.insert(ExperimentRow.__table__),
            [
                {"id": ids["experiment"], "project_id": ids["project"], "name": "default"}
                | {"description": "", "created_by": "t", "created_at": now, "deleted_at": None}
            ],
        )
        conn.execute(
            sa.insert(RunRow.__table__),
            [
                {"id": ids["run"], "project_id": ids["project"], "experiment_id": ids["experiment"]}
                | {"parent_id": None, "name": "r", "status": "finished", "user": "t", "note": ""}
                | {"start_time": now, "end_time": now, "heartbeat_at": now, "deleted_at": None}
            ],
        )
        for key, points in series.items():
            last = max(points, key=lambda p: (p[0], p[1]))
            values = [v for _, _, v in points]
            series_id = conn.execute(
                sa.insert(MetricSeriesRow.__table__).returning(MetricSeriesRow.__table__.c.id),
                {"run_id": ids["run"], "key": key, "count": len(points)}
                | {"last_step": last[0], "last_ts": last[1], "last_value": last[2]}
                | {"min_value": min(values), "max_value": max(values)},
            ).scalar_one()
            conn.execute(
                sa.insert(metric_points),
                [{"series_id": series_id, "step": s, "ts": t, "value": v} for s, t, v in points],
            )
    return ids["run"]


def test_upgrading_a_database_with_points_backfills_the_rollups(
    fresh_db_url: str, tmp_path: Path
) -> None:
    rng = random.Random(9)
    long = _wave(30_000, spike_at=12_345)
    ties = [
        (rng.randrange(-500, 9000), rng.randrange(3), float(rng.randrange(3))) for _ in range(4000)
    ]
    db = Database(fresh_db_url)
    try:
        assert upgrade(db, "0003") == "0003"
        old_run = _seed_at_0003(db, {"loss": long, "ties": ties})
        assert upgrade(db, "0004") == "0004"
        with db.engine.connect() as conn:
            assert current_revision(conn) == "0004"
        assert upgrade(db) == HEAD
    finally:
        db.dispose()
    settings = Settings(home=tmp_path, db=fresh_db_url, blobs=str(tmp_path / "b"))
    services = Services.open(settings)
    try:
        _check_migrated_run(services, old_run, long, ties)
    finally:
        services.close()


def _check_migrated_run(
    services: Services, old_run: str, long: list[Point], ties: list[Point]
) -> None:
    with connect_with(services.settings) as client:
        got = _history(client, old_run, 1000)  # from the backfilled rollups
        _check_downsampled(long, got, 1000)
        assert got == _expected_from_rollups(long, 1000)
        assert (12_345, 1_012_345, 50.0) in got
        # the backfill wrote exactly the rows that logging the same points writes
        fresh = client.runs.create("old")
        _log_shuffled(client, fresh.id, long, batches=7, seed=5)
        assert _rollup_rows(services, _series_id(services, old_run)) == _rollup_rows(
            services, _series_id(services, fresh.id)
        )
        fresh = client.runs.create("old")
        steps, stamps, values = (list(c) for c in zip(*ties, strict=True))
        series = MetricSeries(steps=steps, timestamps=stamps, values=values)
        client.runs.log_batch(fresh.id, MetricBatch(series={"ties": series}))
        assert _rollup_rows(services, _series_id(services, old_run, "ties")) == _rollup_rows(
            services, _series_id(services, fresh.id, "ties")
        )
