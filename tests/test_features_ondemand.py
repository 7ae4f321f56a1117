"""On-demand features called per row and vectorized (once per batch, on pandas Series) give
the same values, offline and online; a vectorized function that returns the wrong number of
values is a clear error."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from dockyard.features.definitions import Aggregate, Entity, FeatureView, OnDemand
from dockyard.features.errors import InvalidTable
from dockyard.features.offline import training_set
from dockyard.features.online_values import OnlineFeatures
from dockyard.features.stores.sqlite import SQLiteOnlineStore

US = 1_000_000
BASE = 1_800_000_000 * US


def ratio(amount: float, mean: float | None) -> float:
    return math.nan if mean is None or mean == 0 else amount / mean


def ratio_columns(amount: pd.Series, mean: pd.Series) -> Any:
    mean = mean.astype(float)
    return np.where(mean.isna() | (mean == 0), np.nan, amount.astype(float) / mean)


def view(*extra: OnDemand) -> FeatureView:
    return FeatureView(
        "card_activity",
        entities=[Entity("card", keys=["card_hash"])],
        source="transactions",
        timestamp="ts",
        features=[Aggregate("amount", "mean", window="24h"), *extra],
        lateness="1d",
    )


ROW = OnDemand("ratio", ratio, inputs=["amount", "card_activity:amount_mean_24h"])
BATCH = OnDemand(
    "ratio_v", ratio_columns, inputs=["amount", "card_activity:amount_mean_24h"], vectorized=True
)


def events() -> pa.Table:
    rng = np.random.default_rng(3)
    n = 400
    ts = np.sort(rng.integers(BASE, BASE + 3 * 86_400 * US, n))
    return pa.table(
        {
            "card_hash": [f"c{i}" for i in rng.integers(0, 7, n)],
            "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("us")),
            "amount": rng.uniform(1, 100, n).round(2),
        }
    )


def same(a: list[Any], b: list[Any]) -> bool:
    return all(
        (x is None or (isinstance(x, float) and math.isnan(x)))
        == (y is None or (isinstance(y, float) and math.isnan(y)))
        and (x is None or math.isnan(x) or math.isclose(x, y, rel_tol=1e-12))
        for x, y in zip(a, b, strict=True)
    )


def test_vectorized_and_per_row_agree_offline_and_online(tmp_path: Path) -> None:
    source = events()
    defined = view(ROW, BATCH)
    times = [BASE + 3 * 86_400 * US + k * 60 * US for k in range(20)]
    labels = pa.table(
        {
            "card_hash": [f"c{k % 7}" for k in range(20)],
            "ts": pa.array(times, pa.int64()).cast(pa.timestamp("us")),
            "amount": [float(5 * k + 1) for k in range(20)],
        }
    )
    refs = ["card_activity:ratio", "card_activity:ratio_v"]
    offline = training_set(labels, [defined], {"transactions": source}, refs)
    assert same(offline["ratio"].to_pylist(), offline["ratio_v"].to_pylist())
    assert sum(v is not None and not math.isnan(v) for v in offline["ratio"].to_pylist()) > 10

    store = SQLiteOnlineStore(tmp_path / "online.sqlite")
    online = OnlineFeatures(store, [defined])
    online.materialize("card_activity", source)
    for k in range(20):
        got = online.get(
            {"card_hash": [f"c{k % 7}"]}, refs, at=times[k], request={"amount": [5.0 * k + 1]}
        )
        assert same(got["ratio"], got["ratio_v"])
        assert same(got["ratio"], [offline["ratio"][k].as_py()])
    store.close()


def test_a_vectorized_function_must_return_one_value_per_row() -> None:
    short = OnDemand(
        "short",
        lambda amount, mean: [1.0],
        inputs=["amount", "card_activity:amount_mean_24h"],
        vectorized=True,
    )
    labels = pa.table(
        {
            "card_hash": ["c0", "c1"],
            "ts": pa.array([BASE + 86_400 * US] * 2, pa.int64()).cast(pa.timestamp("us")),
            "amount": [1.0, 2.0],
        }
    )
    with pytest.raises(InvalidTable, match="returned 1 values for 2 rows"):
        training_set(labels, [view(short)], {"transactions": events()}, ["card_activity:short"])


def test_the_flag_is_part_of_the_definition() -> None:
    assert BATCH.canonical()["vectorized"] is True and ROW.canonical()["vectorized"] is False
    assert (
        view(ROW).fingerprint()
        != view(OnDemand("ratio", ratio, inputs=ROW.inputs, vectorized=True)).fingerprint()
    )
