"""Purchases after the demo's data: the same customers go on as before, then the world shifts.

``later(past, days, seed, shift)`` continues a transactions frame (one made by
:func:`dockyard.demo.generate.generate`, with its ground truth) for ``days`` more days. The
later weeks replay the habits of the last weeks of ``past``: each purchase of that stretch
happens again ``days`` later, by the same user on the same card and device (amounts vary a
little), fraud patterns included; accounts, cards and devices first seen in the replayed
stretch are new ones the second time (a card-testing account opened for the occasion is a new
account again), so no history leaks from one copy into the other.

From ``shift.after_days`` on, two things change at once:

* **a currency change**: amounts are charged in a currency worth ``1 / shift.currency`` of
  the old one, so every amount is ``shift.currency`` times larger, for everybody;
* **a new fraud ring** around new sellers: young accounts (weeks old, not hours), each with
  its own fresh card and device, buy a few ordinary-looking items at night from a handful of
  sellers that opened after the shift (ordinary customers shop there too). Nothing the
  training data's rings did (shared cards, odd item counts at old sellers) gives them away.

Rows keep the columns of ``generate``; ``fraud_pattern`` of the ring is ``seller_ring``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dockyard.demo.generate import HOUR

RING = "seller_ring"
_OWN_ACCOUNTS = ("card_testing", "fraud_ring")
_FRIENDLY_SHARE = 0.0015


@dataclass(frozen=True)
class Shift:
    """What changes ``after_days`` into the later purchases."""

    after_days: float = 7.0
    currency: float = 4.0
    ring_share: float = 0.02
    """The ring's purchases, as a share of the purchases after the shift."""
    new_sellers: int = 4
    seller_share: float = 0.03
    """The share of ordinary purchases after the shift made at the new sellers."""


def later(
    past: pd.DataFrame, days: float, *, seed: int = 0, shift: Shift | None = None
) -> pd.DataFrame:
    """``days`` days of purchases after the last one of ``past`` (see the module's text),
    in time order, with transaction ids after those of ``past``."""
    if days <= 0:
        raise ValueError("days must be positive")
    rng = np.random.default_rng(seed)
    end = pd.Timestamp(past["ts"].max())
    offset = pd.Timedelta(days=days)
    if end - pd.Timestamp(past["ts"].min()) < offset:
        raise ValueError(f"the past holds less than {days:g} days to go on from")
    start = end - offset
    block = past[past["ts"] > start].copy()
    earlier = past[past["ts"] <= start]
    fraud = block[block["fraud_pattern"] != "none"]
    # fraudsters' own accounts are new ones the second time; stolen cards were reissued
    fraudsters = set(fraud.loc[fraud["fraud_pattern"].isin(_OWN_ACCOUNTS), "user_id"])
    renew = {
        "user_id": ~block["user_id"].isin(set(earlier["user_id"]))
        | block["user_id"].isin(fraudsters),
        "card_hash": ~block["card_hash"].isin(set(earlier["card_hash"]))
        | block["card_hash"].isin(set(fraud["card_hash"])),
        "device_id": ~block["device_id"].isin(set(earlier["device_id"]))
        | block["device_id"].isin(set(fraud["device_id"])),
    }
    for column, fresh in renew.items():
        block.loc[fresh, column] = block.loc[fresh, column] + "r"
    block.loc[renew["user_id"], "user_registered_at"] += offset
    _redraw_friendly_fraud(rng, block)
    block["ts"] += offset
    block["label_available_at"] += offset
    micro = block["amount"] < 5
    jitter = rng.lognormal(0.0, 0.05, len(block))
    block["amount"] = np.where(micro, block["amount"], (block["amount"] * jitter).round(2))
    if shift is not None:
        block = _shifted(rng, block, end + pd.Timedelta(days=shift.after_days), shift)
    block = block.sort_values(["ts", "transaction_id"], kind="stable").reset_index(drop=True)
    first = _next_id(past)
    block["transaction_id"] = [f"t{first + i:08d}" for i in range(len(block))]
    return block


def _redraw_friendly_fraud(rng: np.random.Generator, block: pd.DataFrame) -> None:
    """Other customers charge back other purchases than last time (the same ones would be
    known to the model from their first chargeback)."""
    friendly = block["fraud_pattern"] == "friendly_fraud"
    block.loc[friendly, ["fraud_pattern", "is_fraud"]] = ["none", False]
    block.loc[friendly, "label_available_at"] = block.loc[friendly, "ts"] + pd.Timedelta(days=30)
    ordinary = block.index[block["fraud_pattern"] == "none"]
    chosen = ordinary[rng.random(len(ordinary)) < _FRIENDLY_SHARE]
    delay = np.clip(rng.lognormal(np.log(20.0), 0.4, len(chosen)), 5.0, 90.0)
    block.loc[chosen, ["fraud_pattern", "is_fraud"]] = ["friendly_fraud", True]
    arrives = block.loc[chosen, "ts"] + pd.to_timedelta(np.round(delay * 86_400.0), unit="s")
    block.loc[chosen, "label_available_at"] = arrives.astype("datetime64[us]")


def _next_id(past: pd.DataFrame) -> int:
    numbers = pd.to_numeric(past["transaction_id"].str.slice(1, 9), errors="coerce")
    return int(numbers.max()) + 1


def _shifted(
    rng: np.random.Generator, frame: pd.DataFrame, at: pd.Timestamp, shift: Shift
) -> pd.DataFrame:
    after = frame["ts"] >= at
    frame.loc[after, "amount"] = (frame.loc[after, "amount"] * shift.currency).round(2)
    n_after = int(after.sum())
    if n_after == 0:
        return frame
    sellers = np.array([f"s9{i:04d}" for i in range(shift.new_sellers)], dtype=object)
    items = {s: [f"i9{i:02d}{j:03d}" for j in range(8)] for i, s in enumerate(sellers)}
    ordinary = frame.index[after & (frame["fraud_pattern"] == "none")]
    moved = ordinary[rng.random(len(ordinary)) < shift.seller_share]
    chosen = rng.choice(sellers, len(moved))
    frame.loc[moved, "seller_id"] = chosen
    frame.loc[moved, "item_id"] = [items[s][rng.integers(0, 8)] for s in chosen]
    ring = _ring(rng, frame, at, round(n_after * shift.ring_share), sellers, items)
    return pd.concat([frame, ring], ignore_index=True)


def _ring(
    rng: np.random.Generator,
    frame: pd.DataFrame,
    at: pd.Timestamp,
    n: int,
    sellers: np.ndarray,
    items: dict[str, list[str]],
) -> pd.DataFrame:
    """``n`` purchases of the new ring: established customers recruited by the new sellers
    buy gift cards there at night, 3 to 6 times each within three days, on their own cards
    and devices, and charge them back later."""
    before = frame[(frame["ts"] < at) & (frame["fraud_pattern"] == "none")]
    habits = before.groupby("user_id").agg(
        registered=("user_registered_at", "first"),
        card=("card_hash", lambda c: c.mode().iloc[0]),
        device=("device_id", lambda d: d.mode().iloc[0]),
        country=("country", lambda c: c.mode().iloc[0]),
        purchases=("ts", "size"),
    )
    habits = habits[habits["purchases"] >= 3]
    per_member = rng.integers(3, 7, max(1, n // 3))
    per_member = per_member[np.cumsum(per_member) <= max(n, 3)][: len(habits)]
    recruited = habits.iloc[rng.choice(len(habits), len(per_member), replace=False)]
    member = np.repeat(np.arange(len(per_member)), per_member)
    end = pd.Timestamp(frame["ts"].max())
    span = (end - at).total_seconds()
    first_day = np.floor(rng.uniform(0, max(span / 86_400.0 - 3, 1.0), len(per_member)))
    day = first_day[member] + rng.integers(0, 3, len(member))
    night = (1 + rng.random(len(member)) * 4) * HOUR  # 01:00 to 05:00
    seconds = np.minimum(day * 86_400.0 + night, span - 1.0)
    ts = at.floor("D") + pd.to_timedelta(np.floor(seconds), unit="s")
    ts = pd.Series(np.maximum(ts, at)).astype("datetime64[us]")
    seller = rng.choice(sellers, len(member))
    # gift cards of 50, 100 or 200 in the new currency
    amount = rng.choice([50.0, 100.0, 200.0], len(member))
    delay = np.clip(rng.lognormal(np.log(8.0), 0.6, len(member)), 1.0, 60.0)
    return pd.DataFrame(
        {
            "transaction_id": "",
            "ts": ts,
            "user_id": recruited.index.to_numpy()[member],
            "user_registered_at": recruited["registered"].to_numpy()[member],
            "seller_id": seller,
            "item_id": [items[s][rng.integers(0, 8)] for s in seller],
            "item_count": np.ones(len(member), dtype=np.int64),
            "amount": amount,
            "card_hash": recruited["card"].to_numpy()[member],
            "country": recruited["country"].to_numpy()[member],
            "device_id": recruited["device"].to_numpy()[member],
            "is_fraud": True,
            "label_available_at": (
                ts + pd.to_timedelta(np.round(delay * 86_400.0), unit="s")
            ).astype("datetime64[us]"),
            "fraud_pattern": RING,
        }
    )
