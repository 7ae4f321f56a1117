"""Point-in-time per-entity features for each transaction, vectorised.

A transaction's features use only what was known when it happened: purchases strictly
before its timestamp, and of their labels only those whose ``label_available_at`` is
strictly before it (a chargeback that arrives tomorrow cannot explain today). The same
function serves training and scoring, so there is no second implementation to drift.

Every aggregate is one "sum of the values of the same entity's events strictly before this
time" (:func:`sum_before`): events and queries are sorted together by entity and time, with
queries first among equal times, and summed cumulatively within each entity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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

_DAY_US = 86_400 * 1_000_000
_Z_CLIP = 100.0


def build_features(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row of features per transaction, in the input's order, next to :data:`KEEP`.

    Needs the columns ts, user_id, user_registered_at, seller_id, item_count, amount,
    card_hash, country, device_id, is_fraud and label_available_at.
    """
    df = transactions
    ts = _micros(df["ts"])
    labelled = _micros(df["label_available_at"])
    fraud = df["is_fraud"].to_numpy(dtype=bool)
    user = _codes(df["user_id"])
    card = _codes(df["card_hash"])
    seller = _codes(df["seller_id"])
    amount = df["amount"].to_numpy(dtype=float)
    count = df["item_count"].to_numpy(dtype=float)
    n = len(df)
    ones = np.ones((n, 1))

    user_moments = sum_before(user, ts, _moments(amount), user, ts)
    past = user_moments[:, 0]
    # A fraud counts from the moment its label is known, not from when it happened.
    user_frauds = sum_before(user[fraud], labelled[fraud], ones[fraud], user, ts)[:, 0]
    card_reports = sum_before(card[fraud], labelled[fraud], ones[fraud], card, ts)[:, 0]
    card_window = sum_before(
        card, ts, ones, np.concatenate([card, card]), np.concatenate([ts, ts - _DAY_US])
    )[:, 0]
    seller_moments = sum_before(seller, ts, _moments(count), seller, ts)
    user_device = _pair(user, df["device_id"])
    device_seen = sum_before(user_device, ts, ones, user_device, ts)
    user_country = _pair(user, df["country"])
    country_seen = sum_before(user_country, ts, ones, user_country, ts)

    tenure = (ts - _micros(df["user_registered_at"])) / _DAY_US
    out = pd.DataFrame({column: df[column].to_numpy() for column in KEEP})
    features = {
        "user_tenure_days": tenure,
        "user_past_purchases": past,
        "user_fraud_share": np.divide(user_frauds, past, out=np.zeros(n), where=past > 0),
        "amount": amount,
        "amount_zscore_user": _zscore(amount, user_moments),
        "card_reports": card_reports,
        "card_purchases_24h": card_window[:n] - card_window[n:],
        "item_count": count,
        "item_count_zscore_seller": _zscore(count, seller_moments),
        "user_device_purchases": device_seen[:, 0],
        "user_country_purchases": country_seen[:, 0],
        "hour": pd.DatetimeIndex(df["ts"]).hour.to_numpy(dtype=float),
    }
    for name in FEATURES:
        out[name] = np.asarray(features[name], dtype=float)
    return out


def sum_before(
    keys: np.ndarray,
    times: np.ndarray,
    values: np.ndarray,
    query_keys: np.ndarray,
    query_times: np.ndarray,
) -> np.ndarray:
    """For each query, the column sums of ``values`` over events of the same key at an
    earlier time (strictly). ``values`` has one row per event; returns one row per query."""
    n_events, n_queries = len(keys), len(query_keys)
    values = np.asarray(values, dtype=float).reshape(n_events, -1)
    all_keys = np.concatenate([keys, query_keys])
    all_times = np.concatenate([times, query_times])
    is_event = np.concatenate([np.ones(n_events, np.int8), np.zeros(n_queries, np.int8)])
    order = np.lexsort((is_event, all_times, all_keys))  # queries first among equal times
    padded = np.zeros((n_events + n_queries, values.shape[1]))
    padded[:n_events] = values
    sums = pd.DataFrame(padded[order]).groupby(all_keys[order], sort=False).cumsum()
    result = np.empty((n_queries, values.shape[1]))
    position = order >= n_events
    result[order[position] - n_events] = sums.to_numpy()[position]
    return result


def _micros(column: pd.Series) -> np.ndarray:
    return np.asarray(column.to_numpy(dtype="datetime64[us]").view(np.int64))


def _codes(column: pd.Series) -> np.ndarray:
    codes, _ = pd.factorize(column)
    return np.asarray(codes, dtype=np.int64)


def _pair(first: np.ndarray, second: pd.Series) -> np.ndarray:
    """One key for each (first, second) combination."""
    codes = _codes(second)
    return np.asarray(first * (int(codes.max(initial=0)) + 1) + codes)


def _moments(values: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(values)), values, values * values])


def _zscore(values: np.ndarray, moments: np.ndarray) -> np.ndarray:
    """How many standard deviations ``values`` is from the mean of the earlier values
    (NaN with fewer than two); the spread is floored at 5% of the mean so that a history
    of identical values does not divide by zero."""
    n, total, squares = moments[:, 0], moments[:, 1], moments[:, 2]
    enough = n >= 2
    mean = np.divide(total, n, out=np.zeros(len(n)), where=n > 0)
    variance = np.divide(squares - n * mean * mean, n - 1, out=np.zeros(len(n)), where=enough)
    spread = np.maximum(np.sqrt(np.maximum(variance, 0.0)), 0.05 * np.abs(mean) + 1e-9)
    z = np.clip((values - mean) / spread, -_Z_CLIP, _Z_CLIP)
    return np.where(enough, z, np.nan)
