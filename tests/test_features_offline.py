"""Training sets from DuckDB agree with the brute-force reference of the semantics."""

from __future__ import annotations

import pandas as pd
import pytest

from dockyard.features.offline import training_set
from features_support import (
    fraud_views,
    labels_table,
    random_labels,
    reference,
    same,
    to_table,
    transactions,
)


@pytest.mark.parametrize(("seed", "bucket"), [(1, None), (2, "5m"), (3, None)])
def test_training_set_matches_reference(seed: int, bucket: str | None) -> None:
    events = transactions(seed, rows=900, cards=10)
    labels = random_labels(seed + 100, events, 250)
    views = fraud_views(bucket=bucket)
    refs = ["card_activity:*", "merchant_activity:*"]
    out = training_set(labels_table(labels), views, {"transactions": to_table(events)}, refs)
    assert out.column("label_id").to_pylist() == [x["label_id"] for x in labels]
    mismatches = []
    for view in views:
        keys = view.keys
        for feature in view.features:
            got = out.column(feature.name).to_pylist()
            for row, label in enumerate(labels):
                want = reference(
                    view, feature, events, tuple(label[k] for k in keys), label["event_time"]
                )
                if not same(got[row], want):
                    mismatches.append((feature.name, row, got[row], want))
    assert not mismatches, mismatches[:10]


def test_pandas_labels_and_row_order_kept() -> None:
    events = transactions(7, rows=200, cards=3)
    labels = random_labels(8, events, 50)
    frame = labels_table(labels).to_pandas()
    frame["extra"] = range(len(frame))
    out = training_set(
        frame,
        fraud_views(),
        {
            "transactions": pd.DataFrame(events).assign(
                ts=lambda d: pd.to_datetime(d.ts, unit="us", utc=True),
                label_available_at=lambda d: pd.to_datetime(
                    d.label_available_at, unit="us", utc=True
                ),
            )
        },
        ["card_activity:amount_sum_1h"],
    )
    assert out.column("extra").to_pylist() == list(range(len(frame)))
    assert out.column_names[-1] == "amount_sum_1h"
