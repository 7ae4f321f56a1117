"""The demo's online part: the card features a scoring server would look up for a new
purchase, fresh from the feature store, and a purchase pushed as it happens.

After the pipeline trained on the training set of the same definitions, this materializes
the card view into the online store, looks up the card of the latest purchase as of the end
of the data (timing the lookups), pushes one more purchase on that card, and looks it up
again: its count of purchases in the last 24 hours goes up by one at once, and the pushed
purchase is in the transactions dataset for the next training run.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from typing import Any

import pandas as pd

from dockyard.client.client import Client
from dockyard.demo.features import REFS, card_activity
from dockyard.sdk import features

LOOKUPS = 200
"""How many lookups the demo times (one card, every feature of its view)."""


def card_online(client: Client, project: str, source: str, version: int) -> dict[str, Any]:
    """Materialize the card view, look up the card of the latest purchase of ``version`` of
    the source, push a purchase on it, look again. The pushed purchase is the same every
    time for one version, so running the demo again pushes nothing new."""
    started = time.perf_counter()
    report = features.materialize(card_activity.name, project=project, client=client)
    materialized = time.perf_counter() - started
    latest = _latest_purchase(client, project, source, version)
    card = str(latest["card_hash"])
    at = pd.Timestamp(latest["ts"]).to_pydatetime() + dt.timedelta(minutes=1)
    reports = next(r for r in REFS if not isinstance(r, str) and r.name == "card_reports")
    refs = [f"{card_activity.name}:card_purchases_24h", reports]  # reports: on-demand, run here
    before = features.online({"card_hash": [card]}, refs, project=project, at=at, client=client)
    took = []
    for _ in range(LOOKUPS):
        t0 = time.perf_counter()
        features.online({"card_hash": [card]}, refs, project=project, at=at, client=client)
        took.append(time.perf_counter() - t0)
    took.sort()
    purchase = {**latest, "transaction_id": f"{latest['transaction_id']}-next"}
    purchase["ts"] = pd.Timestamp(latest["ts"]) + pd.Timedelta(seconds=30)
    purchase["label_available_at"] = purchase["ts"] + pd.Timedelta(days=30)
    purchase["is_fraud"] = False
    purchase["fraud_pattern"] = "none"
    pushed = features.push(
        card_activity.name, pd.DataFrame([purchase]), project=project, client=client
    )
    after = features.online({"card_hash": [card]}, refs, project=project, at=at, client=client)
    return {
        "view": card_activity.name,
        "materialized_events": report.events,
        "materialize_seconds": round(materialized, 3),
        "source_version": report.source_version,
        "card": card,
        "at": at.isoformat(),
        "before": {k: v[0] for k, v in before.items() if k != "card_hash"},
        "after": {k: v[0] for k, v in after.items() if k != "card_hash"},
        "pushed_events": pushed.events,
        "pushed_to": f"{pushed.source}@{pushed.source_version}",
        "lookup_ms_p50": round(statistics.median(took) * 1000, 3),
        "lookup_ms_p99": round(took[int(0.99 * (len(took) - 1))] * 1000, 3),
        "transport": "server" if client.is_remote else "in-process",
    }


def _latest_purchase(client: Client, project: str, source: str, number: int) -> dict[str, Any]:
    import pyarrow.compute as pc

    from dockyard.sdk.data import dataset

    version = dataset(source, project=project, client=client).version(number)
    last = pc.max(version.to_arrow(columns=["ts"]).column("ts"))
    frame = version.to_pandas(filter=f"ts = TIMESTAMP '{last.as_py():%Y-%m-%d %H:%M:%S.%f}'")
    row: dict[str, Any] = frame.sort_values("transaction_id").iloc[-1].to_dict()
    return row
