"""schema_diff, column_shifts (with PSI) and row_diff between two versions."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dockyard.core.errors import InvalidInput
from dockyard.data.diff import PSI_EPSILON, column_shifts, psi, row_diff, schema_diff
from dockyard.data.duck import sandbox
from dockyard.data.schemas import Column, ColumnStats
from dockyard.data.stats import compute_stats


def columns_of(table: pa.Table) -> list[Column]:
    return [Column(name=f.name, type=str(f.type)) for f in table.schema]


class Versions:
    """Two versions written as Parquet files, opened as views ``base`` and ``target``."""

    def __init__(self, root: Path, base: pa.Table, target: pa.Table) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.base, self.target = base, target
        self.base_path, self.target_path = root / "base.parquet", root / "target.parquet"
        pq.write_table(base, self.base_path)
        pq.write_table(target, self.target_path)
        self.root = root

    def sandbox(self) -> Any:
        return sandbox(
            [self.base_path],
            views={"base": [self.base_path], "target": [self.target_path]},
            temp_dir=self.root / "tmp",
        )

    def stats(self) -> tuple[list[ColumnStats], list[ColumnStats]]:
        with sandbox([self.base_path]) as con:
            before = compute_stats(con, columns_of(self.base))
        with sandbox([self.target_path]) as con:
            after = compute_stats(con, columns_of(self.target))
        return before, after

    def rows(self, key: list[str], examples: int = 5) -> Any:
        with self.sandbox() as con:
            result = row_diff(con, key, columns_of(self.base), columns_of(self.target), examples)
            con.register("probe", pa.table({"x": [1]}))  # no result left open on the connection
            con.unregister("probe")
        json.dumps(result.model_dump(mode="json"), allow_nan=False)
        return result


# -- schema ----------------------------------------------------------------------------


def test_schema_diff() -> None:
    base = [Column(name="a", type="int64"), Column(name="b", type="string")]
    base.append(Column(name="c", type="double"))
    target = [Column(name="c", type="float"), Column(name="a", type="int64")]
    target.append(Column(name="d", type="bool"))
    diff = schema_diff(base, target)
    assert [c.name for c in diff.added] == ["d"]
    assert [c.name for c in diff.removed] == ["b"]
    assert [(c.name, c.base, c.target) for c in diff.changed] == [("c", "double", "float")]
    same = schema_diff(base, base)
    assert (same.added, same.removed, same.changed) == ([], [], [])


# -- statistics shifts -----------------------------------------------------------------


def expected_psi(base: np.ndarray, target: np.ndarray, edges: list[float]) -> float:
    inner = np.array(edges[1:-1])
    b = np.bincount(np.searchsorted(inner, base, side="right"), minlength=len(inner) + 1)
    t = np.bincount(np.searchsorted(inner, target, side="right"), minlength=len(inner) + 1)
    p = np.maximum(b / b.sum(), PSI_EPSILON)
    q = np.maximum(t / t.sum(), PSI_EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def test_column_shifts(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 5000
    x_base = rng.normal(0, 1, n)
    x_target = rng.normal(0.5, 1.5, n)  # shifted and wider: values beyond base's range too
    same = rng.uniform(0, 10, n)
    base = pa.table(
        {
            "x": x_base,
            "same": same,
            "k": pa.array(np.arange(n) % 10, pa.int64()),
            "s": pa.array(rng.choice(["a", "b"], n)),
            "gone": np.ones(n),
            "retyped": pa.array(np.arange(n), pa.int64()),
        }
    )
    x_with_junk = x_target.copy()
    x_with_junk[:10] = np.nan
    x_with_junk[10:20] = np.inf
    target = pa.table(
        {
            "x": pa.array(x_with_junk, mask=np.arange(n) >= n - 500),
            "same": same,
            "k": pa.array(np.arange(n) % 10, pa.int64()),
            "s": pa.array(rng.choice(["a", "b", None], n)),
            "retyped": pa.array([str(i) for i in range(n)]),
            "new": np.zeros(n),
        }
    )
    versions = Versions(tmp_path, base, target)
    before, after = versions.stats()
    with versions.sandbox() as con:
        shifts = {s.name: s for s in column_shifts(before, after, n, n, con)}
    assert list(shifts) == ["x", "same", "k", "s", "gone", "retyped", "new"]

    x = shifts["x"]
    assert x.null_rate == (0.0, 0.1)
    assert x.mean[0] == pytest.approx(x_base.mean())
    finite_target = x_target[20 : n - 500]
    assert x.mean[1] == pytest.approx(finite_target.mean())
    assert x.std[1] == pytest.approx(finite_target.std(ddof=1))
    assert x.min == (pytest.approx(x_base.min()), pytest.approx(finite_target.min()))
    base_hist = next(s for s in before if s.name == "x").histogram
    assert base_hist is not None
    assert x.psi == pytest.approx(expected_psi(x_base, finite_target, base_hist.edges))
    assert x.psi is not None and x.psi > 0.25  # a large shift

    assert shifts["same"].psi == pytest.approx(0.0, abs=1e-12)
    assert shifts["k"].psi == pytest.approx(0.0, abs=1e-12)
    assert shifts["k"].distinct == (10, 10)
    assert shifts["s"].psi is None  # not numeric
    assert shifts["s"].null_rate[1] == pytest.approx(target.column("s").null_count / n)
    assert shifts["s"].min == ("a", "a")
    gone, new = shifts["gone"], shifts["new"]
    assert (gone.null_rate, gone.mean, gone.psi) == ((0.0, None), (1.0, None), None)
    assert (new.null_rate, new.mean, new.max) == ((None, 0.0), (None, 0.0), (None, 0.0))
    assert shifts["retyped"].psi is None  # int64 became string
    assert shifts["retyped"].max == (n - 1, "999")


def test_column_shifts_without_a_connection(tmp_path: Path) -> None:
    table = pa.table({"x": [1.0, 2.0, None]})
    versions = Versions(tmp_path, table, table)
    before, after = versions.stats()
    (shift,) = column_shifts(before, after, 3, 3)
    assert shift.psi is None
    assert shift.null_rate == (pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert shift.mean == (1.5, 1.5)
    (shift,) = column_shifts(before, [], 3, 0)
    assert shift.null_rate == (pytest.approx(1 / 3), None)


def test_psi_of_a_constant_base(tmp_path: Path) -> None:
    base = pa.table({"x": pa.array([5] * 100, pa.int64())})
    target = pa.table({"x": pa.array([5] * 50 + [1] * 25 + [9] * 25, pa.int64())})
    versions = Versions(tmp_path, base, target)
    before, after = versions.stats()
    with versions.sandbox() as con:
        (shift,) = column_shifts(before, after, 100, 100, con)
    # bins: below 5, exactly 5, above 5
    assert shift.psi == pytest.approx(psi([0, 100, 0], [25, 50, 25]))
    assert shift.psi is not None and shift.psi > 1


def test_psi_with_empty_sides(tmp_path: Path) -> None:
    base = pa.table({"x": pa.array([1.0, 2.0, 3.0])})
    target = pa.table({"x": pa.array([None, float("nan")], pa.float64())})
    versions = Versions(tmp_path, base, target)
    before, after = versions.stats()
    with versions.sandbox() as con:
        (shift,) = column_shifts(before, after, 3, 2, con)
    assert shift.psi is None
    assert psi([0, 0], [1, 1]) is None
    assert psi([10, 0], [10, 0]) == 0.0
    assert math.isfinite(psi([10, 0], [0, 10]) or math.inf)


# -- rows ------------------------------------------------------------------------------


@pytest.fixture
def people(tmp_path: Path) -> tuple[Versions, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(11)
    n = 2000
    base = pd.DataFrame(
        {
            "id": np.arange(n),
            "name": [f"person {i}" for i in range(n)],
            "score": rng.normal(0, 1, n),
            "city": rng.choice(["Paris", "Oslo", None], n),
            "gone": np.ones(n),
        }
    )
    base.loc[base["id"] == 5, "city"] = "Oslo"
    target = base.drop(columns=["gone"]).copy()
    target["joined"] = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    target = target[~target["id"].isin(range(0, 2000, 40))].copy()  # 50 removed
    target.loc[target["id"] % 50 == 1, "score"] += 1.0  # 40 changed scores
    target.loc[target["id"] == 3, "city"] = "Lima"
    target.loc[target["id"] == 3, "name"] = "renamed"
    target.loc[target["id"] == 5, "city"] = None
    added = pd.DataFrame(
        {
            "id": np.arange(n, n + 30),
            "name": [f"new {i}" for i in range(30)],
            "score": np.zeros(30),
            "city": ["Rome"] * 30,
            "joined": dt.datetime(2024, 2, 1, tzinfo=dt.UTC),
        }
    )
    target = pd.concat([target, added], ignore_index=True).sample(frac=1, random_state=1)
    versions = Versions(
        tmp_path,
        pa.Table.from_pandas(base, preserve_index=False),
        pa.Table.from_pandas(target, preserve_index=False),
    )
    return versions, base, target


def expected_rows(base: pd.DataFrame, target: pd.DataFrame, key: list[str]) -> dict[str, int]:
    common = [c for c in base.columns if c in target.columns and c not in key]
    merged = base.merge(target, on=key, how="outer", suffixes=("_b", "_t"), indicator=True)
    both = merged[merged["_merge"] == "both"]
    differs = np.zeros(len(both), bool)
    for c in common:
        b, t = both[f"{c}_b"], both[f"{c}_t"]
        differs |= ~((b == t) | (b.isna() & t.isna())).to_numpy()
    return {
        "added": int((merged["_merge"] == "right_only").sum()),
        "removed": int((merged["_merge"] == "left_only").sum()),
        "changed": int(differs.sum()),
        "unchanged": int((~differs).sum()),
    }


def test_row_diff_counts(people: tuple[Versions, pd.DataFrame, pd.DataFrame]) -> None:
    versions, base, target = people
    result = versions.rows(["id"])
    expected = expected_rows(base, target, ["id"])
    assert expected == {"added": 30, "removed": 50, "changed": 42, "unchanged": 1908}
    assert (result.added, result.removed, result.changed, result.unchanged) == (
        30,
        50,
        42,
        1908,
    )
    assert result.key == ["id"]


def test_row_diff_examples(people: tuple[Versions, pd.DataFrame, pd.DataFrame]) -> None:
    versions, base, _ = people
    result = versions.rows(["id"], examples=3)
    added, removed, changed = (result.examples[k] for k in ("added", "removed", "changed"))
    assert [r["id"] for r in added] == [2000, 2001, 2002]
    assert added[0] == {
        "id": 2000,
        "name": "new 0",
        "score": 0.0,
        "city": "Rome",
        "joined": "2024-02-01T00:00:00+00:00",
    }
    assert [r["id"] for r in removed] == [0, 40, 80]
    assert removed[1]["name"] == "person 40" and removed[1]["gone"] == 1.0
    assert [c["key"] for c in changed] == [{"id": 1}, {"id": 3}, {"id": 5}]
    old_score = float(base.loc[base["id"] == 1, "score"].iloc[0])
    assert changed[0]["changes"] == {
        "score": {"base": old_score, "target": pytest.approx(old_score + 1.0)}
    }
    old_city = base.loc[base["id"] == 3, "city"].iloc[0]
    assert changed[1]["changes"] == {
        "name": {"base": "person 3", "target": "renamed"},
        "city": {"base": old_city, "target": "Lima"},
    }
    assert changed[2]["changes"] == {"city": {"base": "Oslo", "target": None}}
    assert versions.rows(["id"], examples=0).examples == {}


def test_row_diff_composite_and_null_keys(tmp_path: Path) -> None:
    base = pa.table(
        {
            "a": pa.array([1, 1, 2, None, None], pa.int64()),
            "b": pa.array(["x", "y", "x", "x", None]),
            "v": pa.array([1.0, 2.0, 3.0, 4.0, float("nan")]),
        }
    )
    target = pa.table(
        {
            "a": pa.array([1, 1, 2, None, None], pa.int64()),
            "b": pa.array(["x", "y", "z", "x", None]),
            "v": pa.array([1.0, 2.5, 3.0, None, float("nan")]),
        }
    )
    result = Versions(tmp_path, base, target).rows(["a", "b"])
    assert (result.added, result.removed, result.changed, result.unchanged) == (1, 1, 2, 2)
    assert result.examples["added"] == [{"a": 2, "b": "z", "v": 3.0}]
    changed = {json.dumps(c["key"]): c["changes"] for c in result.examples["changed"]}
    assert changed == {
        '{"a": 1, "b": "y"}': {"v": {"base": 2.0, "target": 2.5}},
        '{"a": null, "b": "x"}': {"v": {"base": 4.0, "target": None}},
    }


def test_row_diff_with_retyped_and_nested_columns(tmp_path: Path) -> None:
    base = pa.table(
        {
            "k": pa.array([1, 2, 3], pa.int32()),
            "n": pa.array([10, 20, 30], pa.int32()),
            "t": pa.array([1, 2, 3], pa.int64()),
            "f": pa.array([0.1, 0.2, 0.3], pa.float32()),
            "l": pa.array([[1], [2, 3], None]),
            "at": pa.array([dt.datetime(2024, 1, 1, tzinfo=dt.UTC)] * 3, pa.timestamp("us", "UTC")),
        }
    )
    target = pa.table(
        {
            "k": pa.array([1, 2, 3], pa.int64()),  # the key's type widened
            "n": pa.array([10, 20, 31], pa.int64()),  # same values, wider type
            "t": pa.array(["1", "2", "3"]),  # now text with the same digits
            "f": pa.array([0.1, 0.2, 0.3], pa.float32()).cast(pa.float64()),  # same values
            "l": pa.array([[1], [2, 4], None]),
            "at": pa.array(
                [dt.datetime(2024, 1, 1, tzinfo=dt.UTC)] * 2 + [dt.datetime(2024, 1, 2)],
                pa.timestamp("us", "UTC"),
            ),
        }
    )
    result = Versions(tmp_path, base, target).rows(["k"])
    assert (result.added, result.removed, result.changed, result.unchanged) == (0, 0, 2, 1)
    changed = result.examples["changed"]
    assert changed[0] == {"key": {"k": 2}, "changes": {"l": {"base": [2, 3], "target": [2, 4]}}}
    assert changed[1]["changes"] == {
        "n": {"base": 30, "target": 31},
        "at": {"base": "2024-01-01T00:00:00+00:00", "target": "2024-01-02T00:00:00+00:00"},
    }


def test_row_diff_odd_key_names(tmp_path: Path) -> None:
    name = 'the "id" é'
    base = pa.table({name: [1, 2], "v": [1, 2]})
    target = pa.table({name: [2, 3], "v": [2, 2]})
    result = Versions(tmp_path, base, target).rows([name])
    assert (result.added, result.removed, result.changed, result.unchanged) == (1, 1, 0, 1)
    assert result.examples["added"] == [{name: 3, "v": 2}]


def test_row_diff_without_compared_columns(tmp_path: Path) -> None:
    base = pa.table({"k": [1, 2], "a": [1, 1]})
    target = pa.table({"k": [2, 3], "b": [1, 1]})
    result = Versions(tmp_path, base, target).rows(["k"])
    assert (result.added, result.removed, result.changed, result.unchanged) == (1, 1, 0, 1)


def test_row_diff_empty_versions(tmp_path: Path) -> None:
    empty = pa.table({"k": pa.array([], pa.int64()), "v": pa.array([], pa.string())})
    full = pa.table({"k": pa.array([1, 2], pa.int64()), "v": pa.array(["a", "b"])})
    result = Versions(tmp_path / "a", empty, full).rows(["k"])
    assert (result.added, result.removed, result.changed, result.unchanged) == (2, 0, 0, 0)
    result = Versions(tmp_path / "b", empty, empty).rows(["k"])
    assert (result.added, result.removed, result.changed, result.unchanged) == (0, 0, 0, 0)


def test_row_diff_bad_keys(tmp_path: Path) -> None:
    base = pa.table({"k": [1, 2, 2, 3], "only_base": [1, 2, 3, 4], "v": [1, 1, 1, 1]})
    target = pa.table({"k": [1, 2, 3, 3, 3], "v": [1, 1, 1, 1, 1], "only_target": [0] * 5})
    versions = Versions(tmp_path, base, target)
    with pytest.raises(InvalidInput, match="key column 'only_base' is not in the target version"):
        versions.rows(["only_base"])
    with pytest.raises(InvalidInput, match="key column 'only_target' is not in the base version"):
        versions.rows(["only_target"])
    with pytest.raises(InvalidInput, match="key column 'nope' is not in the base version"):
        versions.rows(["nope"])
    with pytest.raises(InvalidInput, match="at least one key column"):
        versions.rows([])
    with pytest.raises(InvalidInput) as raised:
        versions.rows(["k"])
    assert "not unique in the base version: k=2 appears in 2 rows" in raised.value.message
    unique_base = pa.table({"k": [1, 2, 3], "v": [1, 1, 1]})
    with pytest.raises(InvalidInput) as raised:
        Versions(tmp_path / "t", unique_base, target).rows(["k"])
    assert "not unique in the target version: k=3 appears in 3 rows" in raised.value.message
    text_keys = pa.table({"k": ["1", "2", "x"], "v": [1, 1, 1]})
    with pytest.raises(InvalidInput, match="cannot match rows on k"):
        Versions(tmp_path / "x", unique_base, text_keys).rows(["k"])
