"""The fraud demo: the synthetic data has its fraud patterns, the features are point-in-time
correct (no label or purchase from the future leaks in), and the whole demo runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dockyard as dy
from cli_support import run_cli
from dockyard.demo.features import FEATURES, KEEP, build_features
from dockyard.demo.generate import CHARGEBACK_WINDOW_DAYS, generate

DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return generate(20_000, days=40, seed=3)


# --- generation ---------------------------------------------------------------------------


def test_generation_is_deterministic_by_seed() -> None:
    first = generate(2_000, days=14, seed=11)
    pd.testing.assert_frame_equal(first, generate(2_000, days=14, seed=11))
    assert not first.equals(generate(2_000, days=14, seed=12))


def test_generation_shape(data: pd.DataFrame) -> None:
    assert len(data) == 20_000
    assert data["transaction_id"].is_unique
    assert data["ts"].is_monotonic_increasing
    assert data["ts"].max() - data["ts"].min() <= pd.Timedelta(days=40)
    assert (data["ts"] >= data["user_registered_at"]).all()
    assert (data["label_available_at"] > data["ts"]).all()
    assert (data["amount"] > 0).all() and (data["item_count"] >= 1).all()
    assert data["is_fraud"].dtype == bool
    assert data["is_fraud"].equals(data["fraud_pattern"] != "none")
    assert 0.005 < data["is_fraud"].mean() < 0.03
    assert set(data["fraud_pattern"]) == {
        "none",
        "card_testing",
        "fraud_ring",
        "account_takeover",
        "friendly_fraud",
    }
    # A user registers once.
    assert (data.groupby("user_id")["user_registered_at"].nunique() == 1).all()


def test_card_testing_bursts_then_a_big_purchase(data: pd.DataFrame) -> None:
    testing = data[data["fraud_pattern"] == "card_testing"]
    bursts = 0
    for _, rows in testing.groupby(["card_hash", "user_id"]):
        tiny = rows[rows["amount"] < 3]
        if len(tiny) < 3 or tiny["ts"].max() - tiny["ts"].min() > pd.Timedelta(minutes=30):
            continue
        after = rows[rows["ts"] > tiny["ts"].max()]
        if (after["amount"] > 100).any() and after["ts"].min() - tiny["ts"].max() < DAY:
            bursts += 1
    assert bursts >= 5
    # Stolen cards come back: some cards are tested by more than one account.
    assert (testing.groupby("card_hash")["user_id"].nunique() > 1).any()


def test_fraud_rings_buy_unusual_item_counts_from_colluding_sellers(data: pd.DataFrame) -> None:
    ring = data[data["fraud_pattern"] == "fraud_ring"]
    sellers = ring["seller_id"].unique()
    assert 1 <= len(sellers) <= 4
    ordinary = data[(data["fraud_pattern"] == "none") & data["seller_id"].isin(sellers)]
    assert len(ordinary) > 0, "colluding sellers have ordinary customers too"
    assert ring["item_count"].median() >= 4 * ordinary["item_count"].median()
    # A group of accounts sharing a few cards and devices.
    assert ring["user_id"].nunique() >= 10
    assert ring["card_hash"].value_counts().iloc[0] >= 0.1 * len(ring)
    assert ring["device_id"].nunique() < ring["user_id"].nunique()


def test_account_takeovers_hit_old_accounts_from_new_devices(data: pd.DataFrame) -> None:
    takeovers = data[data["fraud_pattern"] == "account_takeover"]
    assert len(takeovers) > 0
    tenure = takeovers["ts"] - takeovers["user_registered_at"]
    assert (tenure > pd.Timedelta(days=180)).all()
    ordinary = data[data["fraud_pattern"] == "none"]
    for _, row in takeovers.head(20).iterrows():
        history = ordinary[(ordinary["user_id"] == row["user_id"]) & (ordinary["ts"] < row["ts"])]
        assert row["device_id"] not in set(history["device_id"])
    typical = ordinary.groupby("user_id")["amount"].median()
    ratio = takeovers["amount"] / takeovers["user_id"].map(typical)
    assert ratio.median() > 3


def test_labels_arrive_late(data: pd.DataFrame) -> None:
    delay = (data["label_available_at"] - data["ts"]) / DAY
    fraud = data["is_fraud"]
    assert delay[fraud].between(1, 90).all()
    assert delay[fraud].median() > 3
    assert np.allclose(delay[~fraud], CHARGEBACK_WINDOW_DAYS)
    # At the end of the data, some frauds are not known yet.
    end = data["ts"].max()
    assert (fraud & (data["label_available_at"] > end)).sum() > 10


# --- features -----------------------------------------------------------------------------


def _hand_made() -> pd.DataFrame:
    rows = [
        # id, ts, user, registered, seller, count, amount, card, country, device, fraud, label
        ("t1", "2025-01-10 10:00", "A", "2025-01-01", "S", 1, 10.0, "c1", "US", "d1", True,
         "2025-01-10 12:00"),
        ("t2", "2025-01-10 11:00", "A", "2025-01-01", "S", 1, 20.0, "c1", "US", "d1", False,
         "2025-02-09 11:00"),
        ("t3", "2025-01-10 13:00", "A", "2025-01-01", "S", 3, 90.0, "c1", "FR", "d2", False,
         "2025-02-09 13:00"),
        ("t4", "2025-01-11 12:00", "B", "2025-01-11 06:00", "S", 1, 50.0, "c1", "US", "d3", True,
         "2025-01-20 00:00"),
        ("t5", "2025-01-11 12:00", "B", "2025-01-11 06:00", "T", 2, 5.0, "c1", "US", "d3", False,
         "2025-02-10 12:00"),
    ]  # fmt: skip
    frame = pd.DataFrame(
        rows,
        columns=[
            "transaction_id", "ts", "user_id", "user_registered_at", "seller_id", "item_count",
            "amount", "card_hash", "country", "device_id", "is_fraud", "label_available_at",
        ],
    )  # fmt: skip
    for column in ("ts", "user_registered_at", "label_available_at"):
        frame[column] = pd.to_datetime(frame[column], format="ISO8601").astype("datetime64[us]")
    return frame


def test_features_on_a_hand_made_frame() -> None:
    f = build_features(_hand_made()).set_index("transaction_id")
    assert list(f.columns) == [c for c in KEEP if c != "transaction_id"] + FEATURES
    assert f.loc["t3", "user_tenure_days"] == pytest.approx(9 + 13 / 24)
    assert f.loc["t4", "user_tenure_days"] == pytest.approx(0.25)
    assert f["user_past_purchases"].tolist() == [0, 1, 2, 0, 0]
    # t1's fraud is known at 12:00: not yet at t2 (11:00), already at t3 (13:00).
    assert f["user_fraud_share"].tolist() == [0, 0, 0.5, 0, 0]
    assert f["card_reports"].tolist() == [0, 0, 1, 1, 1]
    # Amount against the user's earlier amounts: t3 = 90 against [10, 20].
    assert np.isnan(f.loc[["t1", "t2", "t4", "t5"], "amount_zscore_user"]).all()
    assert f.loc["t3", "amount_zscore_user"] == pytest.approx((90 - 15) / np.std([10, 20], ddof=1))
    # The card's purchases in the 24 h before (t4 and t5 share a second: neither sees the other).
    assert f["card_purchases_24h"].tolist() == [0, 1, 2, 1, 1]
    # Item count against the seller's earlier ones: S saw [1, 1], so 3 is far off (the spread
    # is floored at 5% of the mean); T has no history.
    assert f.loc["t3", "item_count_zscore_seller"] == pytest.approx((3 - 1) / 0.05)
    assert f.loc["t4", "item_count_zscore_seller"] == pytest.approx(
        -2 / 3 / np.std([1, 1, 3], ddof=1)
    )
    assert np.isnan(f.loc["t5", "item_count_zscore_seller"])
    assert f["user_device_purchases"].tolist() == [0, 1, 0, 0, 0]
    assert f["user_country_purchases"].tolist() == [0, 1, 0, 0, 0]
    assert f["hour"].tolist() == [10, 11, 13, 12, 12]
    assert f["amount"].tolist() == [10, 20, 90, 50, 5]


def test_a_label_that_arrives_later_does_not_change_features() -> None:
    frame = _hand_made()
    before = build_features(frame).set_index("transaction_id")
    # t1's chargeback now arrives after t3: t3 may no longer know about it, t4 still does.
    late = frame.assign(
        label_available_at=frame["label_available_at"].where(
            frame["transaction_id"] != "t1", pd.Timestamp("2025-01-10 13:30")
        )
    )
    after = build_features(late).set_index("transaction_id")
    pd.testing.assert_series_equal(after.loc["t2", FEATURES], before.loc["t2", FEATURES])
    assert after.loc["t3", "user_fraud_share"] == 0
    assert after.loc["t3", "card_reports"] == 0
    pd.testing.assert_series_equal(after.loc["t4", FEATURES], before.loc["t4", FEATURES])
    # t1 turning out not to be fraud at all changes nothing before 12:00.
    honest = build_features(frame.assign(is_fraud=frame["transaction_id"] == "t4"))
    honest = honest.set_index("transaction_id")
    pd.testing.assert_frame_equal(
        honest.loc[["t1", "t2"], FEATURES], before.loc[["t1", "t2"], FEATURES]
    )


@pytest.mark.parametrize("quantile", [0.3, 0.7])
def test_features_only_see_the_past(data: pd.DataFrame, quantile: float) -> None:
    """Cut the data at a time: drop later purchases and forget labels not known by then. The
    features of every purchase before the cut must not change."""
    cut = data["ts"].quantile(quantile)
    past = data[data["ts"] < cut].copy()
    unknown = past["label_available_at"] >= cut
    past.loc[unknown, "is_fraud"] = False
    past.loc[unknown, "label_available_at"] = cut + pd.Timedelta(days=365)
    assert unknown.any() and (data.loc[past.index, "is_fraud"] & unknown).any()
    full = build_features(data).loc[past.index, FEATURES]
    pd.testing.assert_frame_equal(build_features(past)[FEATURES], full)


def _brute_force(df: pd.DataFrame) -> pd.DataFrame:
    """The features one row at a time, the slow obvious way."""
    rows = []
    for _, row in df.iterrows():
        earlier = df[df["ts"] < row["ts"]]
        known = df[df["is_fraud"] & (df["label_available_at"] < row["ts"])]
        user = earlier[earlier["user_id"] == row["user_id"]]
        seller = earlier[earlier["seller_id"] == row["seller_id"]]

        def z(value: float, history: pd.Series) -> float:
            if len(history) < 2:
                return np.nan
            spread = max(history.std(ddof=1), 0.05 * abs(history.mean()) + 1e-9)
            return float(np.clip((value - history.mean()) / spread, -100, 100))

        rows.append(
            {
                "user_tenure_days": (row["ts"] - row["user_registered_at"]) / DAY,
                "user_past_purchases": len(user),
                "user_fraud_share": (
                    (known["user_id"] == row["user_id"]).sum() / len(user) if len(user) else 0.0
                ),
                "amount": row["amount"],
                "amount_zscore_user": z(row["amount"], user["amount"]),
                "card_reports": (known["card_hash"] == row["card_hash"]).sum(),
                # The window is the 24 whole hours before the current hour, and that hour up
                # to the purchase (the feature store's bucketed windows, see features/windows.py).
                "card_purchases_24h": (
                    (earlier["card_hash"] == row["card_hash"])
                    & (earlier["ts"] >= row["ts"].floor("h") - DAY)
                ).sum(),
                "item_count": row["item_count"],
                "item_count_zscore_seller": z(row["item_count"], seller["item_count"]),
                "user_device_purchases": (user["device_id"] == row["device_id"]).sum(),
                "user_country_purchases": (user["country"] == row["country"]).sum(),
                "hour": row["ts"].hour,
            }
        )
    return pd.DataFrame(rows, index=df.index).astype(float)


def test_features_match_a_row_by_row_computation() -> None:
    small = generate(600, days=8, seed=5)
    # Make the keyed aggregates bite: few users, cards and sellers, and equal timestamps.
    small["user_id"] = small["user_id"].str[-1]
    small["card_hash"] = small["card_hash"].str[-1]
    small["seller_id"] = small["seller_id"].str[-1]
    small["ts"] = small["ts"].dt.floor("h")
    small["user_registered_at"] = small.groupby("user_id")["ts"].transform("min") - DAY
    expected = _brute_force(small)
    got = build_features(small)[FEATURES]
    pd.testing.assert_frame_equal(got, expected, rtol=1e-6)


# --- the whole demo -----------------------------------------------------------------------


SMALL = ("--size", "20000", "--days", "40", "--holdout-days", "10", "--trees", "60")


def test_the_demo_trains_registers_promotes_and_scores(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "demo", *SMALL, "--json")  # the process executor
    assert code == 0, out + err
    report = json.loads(out)
    assert report["status"] == "succeeded" and report["new_version"]
    assert report["dataset"] == "fraud/transactions@1" and report["rows"] == 20_000
    steps = {s["node"]: s["status"] for s in report["steps"]}
    assert steps == {
        "load-transactions": "succeeded",
        "featurize": "succeeded",
        "train": "succeeded",
        "register": "succeeded",
        "evaluate": "succeeded",
        "evaluate_champion": "succeeded",
        "promote": "succeeded",
        "score": "succeeded",
    }
    metrics = report["evaluation"]["metrics"]
    assert 0.75 < metrics["auc"] <= 1 and 0 <= metrics["precision_at_k"] <= 1
    assert report["promotion"]["promoted"] is True, report["promotion"]
    assert report["scoring"]["scored"] and report["scoring"]["model_version"] == 1
    # The card features online: materialized from the same definitions, and a pushed
    # purchase counts at once and lands in the transactions for the next training.
    online = report["online"]
    assert online["materialized_events"] == 20_000 and online["pushed_events"] == 1
    assert online["after"]["card_purchases_24h"] == online["before"]["card_purchases_24h"] + 1
    assert online["pushed_to"] == "transactions@2"

    with dy.connect() as client:
        trained = client.features.training_sets("fraud", view="card_activity")
        assert [(t.dataset, t.sources) for t in trained] == [
            ("transaction_features", {"transactions": 1})
        ]
        assert client.datasets.version("fraud", "transactions", "latest").rows == 20_001
        champion = client.models.resolve("models:/fraud-detector@champion")
        assert champion.version == 1
        # The evaluate step's run is the evidence the gate counts.
        gate = dy.check_gates("fraud-detector", "champion", 1, client=client)
        assert gate.passed and gate.checks[0].value == pytest.approx(metrics["auc"])
        scores = dy.dataset("fraud_scores", project="fraud", client=client).version("latest")
        frame = scores.to_pandas()
        assert len(frame) == report["scoring"]["rows"] > 0
        assert set(frame.columns) >= {"transaction_id", "score", "flagged", "model_version"}
        assert frame["score"].between(0, 1).all()
        holdout = dy.dataset("transactions", project="fraud", client=client).version(1)
        assert holdout.rows == 20_000

    # The same data again: the same dataset version, and every step reused.
    code, out, err = run_cli(capsys, "demo", *SMALL, "--executor", "inprocess", "--json")
    assert code == 0, out + err
    again = json.loads(out)
    assert again["dataset"] == "fraud/transactions@1" and not again["new_version"]
    assert {s["status"] for s in again["steps"] if s["node"] != "load-transactions"} == {"cached"}
    assert again["evaluation"] == report["evaluation"]
    # nothing new to materialize, and the same purchase is not pushed twice
    assert (again["online"]["materialized_events"], again["online"]["pushed_events"]) == (0, 0)


def test_the_demo_report_for_people(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "demo", *SMALL, "--executor", "inprocess")
    assert code == 0, out + err
    for expected in (
        "fraud/transactions@1",
        "AUC",
        "champion -> v1",
        "fraud/fraud_scores@1",
        "dockyard models card fraud-detector@champion",
        "dockyard runs list -p fraud",
        "card_activity materialized",
        f"export DOCKYARD_HOME={home}",
    ):
        assert expected in out, (expected, out)
