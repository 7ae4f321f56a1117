"""The fraud features, defined once as feature views over the ``transactions`` dataset.

A transaction's features use only what was known when it happened: purchases strictly
before its timestamp, and of their labels only those whose ``label_available_at`` is
strictly before it (a chargeback that arrives tomorrow cannot explain today). The feature
store applies that rule the same way offline (the training set, :func:`build_features`) and
online (``dy.features.online`` for one card, as a server would before scoring it), because
both read these definitions.

The z-scores, the fraud share, the tenure and the hour are on-demand features: small
vectorized functions (pandas columns in, an array out) of the purchase itself (its amount,
item count, time) and of looked-up aggregates, run in the process that asks for them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

import dockyard as dy
from dockyard.features.offline import training_set

FEATURES = [
    "user_tenure_days",
    "user_past_purchases",
    "user_fraud_share",
    "amount",
    "amount_zscore_user",
    "card_reports",
    "card_purchases_24h",
    "item_count",
    "item_count_zscore_seller",
    "user_device_purchases",
    "user_country_purchases",
    "hour",
]
"""The model's input columns, in order."""

KEEP = ["transaction_id", "ts", "is_fraud", "label_available_at"]
"""Columns carried from the transactions into the feature table next to the features."""

REQUEST = ["amount", "item_count", "ts", "user_registered_at"]
"""What a purchase itself brings: the inputs of the on-demand features besides lookups."""

SOURCE = "transactions"
_Z_CLIP = 100.0
_DAY_SECONDS = 86_400.0


def _zscore(value: pd.Series, mean: pd.Series, std: pd.Series, count: pd.Series) -> np.ndarray:
    """How many standard deviations each value is from the mean of the earlier values (NaN
    with fewer than two); the spread (sample standard deviation) is floored at 5% of the
    mean so that a history of identical values does not divide by zero."""
    n = count.astype(float).to_numpy()
    mu = mean.astype(float).to_numpy()
    sigma = std.astype(float).to_numpy()
    enough = n >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        sample = np.sqrt(sigma * sigma * n / np.where(enough, n - 1, 1.0))
        spread = np.maximum(sample, 0.05 * np.abs(mu) + 1e-9)
        z = np.clip((value.astype(float).to_numpy() - mu) / spread, -_Z_CLIP, _Z_CLIP)
    return np.where(enough & ~np.isnan(mu) & ~np.isnan(sigma), z, np.nan)


def _share(frauds: pd.Series, purchases: pd.Series) -> np.ndarray:
    total = frauds.astype(float).fillna(0.0).to_numpy()
    n = purchases.astype(float).to_numpy()
    shares: np.ndarray = np.divide(total, n, out=np.zeros(len(n)), where=n > 0)
    return shares


def _tenure_days(ts: pd.Series, registered: pd.Series) -> np.ndarray:
    seconds = (pd.to_datetime(ts) - pd.to_datetime(registered)).dt.total_seconds()
    return np.asarray(seconds.to_numpy() / _DAY_SECONDS, dtype=float)


def _hour(ts: pd.Series) -> np.ndarray:
    return np.asarray(pd.to_datetime(ts).dt.hour.to_numpy(), dtype=float)


def _or_zero(total: pd.Series) -> np.ndarray:
    """A sum over no events is null; for a count of reports, that is zero."""
    return np.asarray(total.astype(float).fillna(0.0).to_numpy(), dtype=float)


user = dy.Entity("user", keys=["user_id"])
card = dy.Entity("card", keys=["card_hash"])
seller = dy.Entity("seller", keys=["seller_id"])
user_device = dy.Entity("user_device", keys=["user_id", "device_id"])
user_country = dy.Entity("user_country", keys=["user_id", "country"])

user_activity = dy.FeatureView(
    "user_activity",
    entities=[user],
    source=SOURCE,
    timestamp="ts",
    features=[
        dy.Aggregate("transaction_id", "count", name="user_past_purchases"),
        dy.Aggregate("is_fraud", "sum", available_at="label_available_at", name="user_frauds"),
        dy.Aggregate("amount", "mean", name="user_amount_mean"),
        dy.Aggregate("amount", "std", name="user_amount_std"),
        dy.OnDemand(
            "user_fraud_share",
            _share,
            inputs=["user_activity:user_frauds", "user_activity:user_past_purchases"],
            vectorized=True,
        ),
        dy.OnDemand(
            "amount_zscore_user",
            _zscore,
            inputs=[
                "amount",
                "user_activity:user_amount_mean",
                "user_activity:user_amount_std",
                "user_activity:user_past_purchases",
            ],
            vectorized=True,
        ),
        dy.OnDemand(
            "user_tenure_days", _tenure_days, inputs=["ts", "user_registered_at"], vectorized=True
        ),
        dy.OnDemand("hour", _hour, inputs=["ts"], vectorized=True),
    ],
)
card_activity = dy.FeatureView(
    "card_activity",
    entities=[card],
    source=SOURCE,
    timestamp="ts",
    features=[
        dy.Aggregate("is_fraud", "sum", available_at="label_available_at", name="card_frauds"),
        dy.Aggregate("transaction_id", "count", window="24h", name="card_purchases_24h"),
        dy.OnDemand(
            "card_reports", _or_zero, inputs=["card_activity:card_frauds"], vectorized=True
        ),
    ],
    lateness="1h",
)
seller_activity = dy.FeatureView(
    "seller_activity",
    entities=[seller],
    source=SOURCE,
    timestamp="ts",
    features=[
        dy.Aggregate("item_count", "count", name="seller_sales"),
        dy.Aggregate("item_count", "mean", name="seller_item_count_mean"),
        dy.Aggregate("item_count", "std", name="seller_item_count_std"),
        dy.OnDemand(
            "item_count_zscore_seller",
            _zscore,
            inputs=[
                "item_count",
                "seller_activity:seller_item_count_mean",
                "seller_activity:seller_item_count_std",
                "seller_activity:seller_sales",
            ],
            vectorized=True,
        ),
    ],
)
user_devices = dy.FeatureView(
    "user_devices",
    entities=[user_device],
    source=SOURCE,
    timestamp="ts",
    features=[dy.Aggregate("transaction_id", "count", name="user_device_purchases")],
)
user_countries = dy.FeatureView(
    "user_countries",
    entities=[user_country],
    source=SOURCE,
    timestamp="ts",
    features=[dy.Aggregate("transaction_id", "count", name="user_country_purchases")],
)

VIEWS = [user_activity, card_activity, seller_activity, user_devices, user_countries]
"""Every feature view of the demo (their entities come with them)."""


def _on_demand(name: str) -> dy.OnDemand:
    for view in VIEWS:
        for feature in view.features:
            if isinstance(feature, dy.OnDemand) and feature.name == name:
                return feature
    raise KeyError(name)


REFS: list[str | dy.OnDemand] = [
    _on_demand("user_tenure_days"),
    "user_activity:user_past_purchases",
    _on_demand("user_fraud_share"),
    _on_demand("amount_zscore_user"),
    _on_demand("card_reports"),
    "card_activity:card_purchases_24h",
    _on_demand("item_count_zscore_seller"),
    "user_devices:user_device_purchases",
    "user_countries:user_country_purchases",
    _on_demand("hour"),
]
"""What the model reads from the feature store (``amount`` and ``item_count`` come with the
purchase itself)."""

LABEL_COLUMNS = list(dict.fromkeys([*KEEP, *REQUEST, "user_id", "card_hash", "seller_id",
                                    "device_id", "country"]))  # fmt: skip
"""The columns of the transactions a training set starts from (its label table)."""


def feature_table(joined: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """The training set's columns as the model reads them: :data:`KEEP` then
    :data:`FEATURES`, every feature as a float."""
    frame = joined.to_pandas() if isinstance(joined, pa.Table) else joined
    out = pd.DataFrame({column: frame[column].to_numpy() for column in KEEP})
    for name in FEATURES:
        out[name] = pd.to_numeric(frame[name], errors="coerce").astype(float).to_numpy()
    return out


def build_features(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row of features per transaction, in the input's order, next to :data:`KEEP`:
    the point-in-time training set of :data:`VIEWS` over these very transactions (each one
    a label at its own time), computed by the feature store's offline engine.

    Needs the columns ts, user_id, user_registered_at, seller_id, item_count, amount,
    card_hash, country, device_id, is_fraud and label_available_at.
    """
    events = pa.Table.from_pandas(transactions, preserve_index=False)
    labels = events.select(LABEL_COLUMNS)
    refs = [r if isinstance(r, str) else _ref(r) for r in REFS]
    return feature_table(training_set(labels, VIEWS, {SOURCE: events}, refs, event_time="ts"))


def _ref(feature: dy.OnDemand) -> str:
    for view in VIEWS:
        if feature in view.features:
            return f"{view.name}:{feature.name}"
    raise KeyError(feature.name)
