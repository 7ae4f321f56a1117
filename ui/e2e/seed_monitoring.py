"""The monitoring part of the e2e seed (called from seed.py): the model
``ui-monitored-model`` with a prediction log of a few past hours, late labels, and the monitor
``default`` run over them.

Two versions of a classifier trained on ``retail/orders@1`` (read inside the training runs, so
it is their reference). v1 answered two hours, then v2 three; in v2's middle hour the inputs
shift (``amount`` by 2.5 standard deviations), so that window, and no other, drifts on
``amount``. Labels follow the scores for v1's first hour and v2's first two hours (all of
the first, half of the second) and never arrive for the rest, which so show only the
estimate. The monitor (1 h windows, AUC with a minimum) alerts with a webhook to a closed
port on loopback (delivered here, so it is recorded as failed) and a freeze (done).

The windows' hours are before the seed ran; the e2e tests open the pages with the 30-day
period, so a home seeded up to a few weeks ago still shows them.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from typing import Any

MODEL = "ui-monitored-model"
PROJECT = "retail"
DATASET = "orders"
ROWS = 1200  # over 1000 rows: drift by distances (Wasserstein, Jensen-Shannon), not p-values
UNREACHABLE = "http://127.0.0.1:9/dockyard-e2e-hook"  # the discard port: nothing listens
METRIC = "auc"
MINIMUM = 0.7
HOUR = dt.timedelta(hours=1)


def _frame(n: int, rng: Any, shift: float = 0.0) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "amount": rng.normal(50 + shift, 10, n),
            "reports": rng.integers(0, 4, n).astype(float),
            "channel": rng.choice(["web", "shop", "app"], n),
        }
    )


def _train(client: Any) -> list[int]:
    """Two versions over retail/orders@1; @champion ends on the second."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import dockyard as dy

    rng = np.random.default_rng(0)
    data = _frame(2000, rng)
    data["label"] = (data.amount + rng.normal(0, 5, len(data)) > 55).astype(int)
    dy.dataset(DATASET, project=PROJECT, client=client).add_version(data)
    made = []
    for c in (1.0, 0.3):
        with dy.start_run(
            project=PROJECT, name=f"train-orders-c{c:g}", capture=dy.Capture.off(), client=client
        ):
            frame = dy.dataset(DATASET, project=PROJECT, client=client).version().to_pandas()
            x = frame[["amount", "reports"]]
            logged = dy.log_model(
                LogisticRegression(C=c).fit(x, frame.label), "model", input_example=x
            )
        version = dy.register_model(logged, name=MODEL, client=client).version
        client.models.set_alias(MODEL, "champion", version)
        made.append(version)
    return made


def _id(at: dt.datetime) -> str:
    return f"{int(at.timestamp() * 1000):012x}" + os.urandom(10).hex()


def _log(client: Any, version: int, start: dt.datetime, frame: Any, scores: Any) -> list[str]:
    """``frame`` as one segment of the prediction log spread over the hour from ``start``
    (as tests/test_monitoring_service.py writes them); returns the prediction ids."""
    import pyarrow.parquet as pq

    from dockyard.serving.logformat import segment_table

    n = len(frame)
    times = [start + dt.timedelta(seconds=3500 * i / n) for i in range(n)]
    ids = sorted(_id(t) for t in times)
    columns = {
        "prediction_id": ids,
        "at": times,
        "model": [MODEL] * n,
        "version": [version] * n,
        "alias": ["champion"] * n,
        "shadow": [False] * n,
        "latency_ms": [1.0] * n,
        "inputs": [json.dumps(r) for r in frame.to_dict("records")],
        "features": [None] * n,
        "output": [json.dumps([1 - s, s]) for s in scores],
    }
    buffer = io.BytesIO()
    pq.write_table(segment_table(columns), buffer)
    blob = client.blobs.put(buffer.getvalue())
    client.serving.record_segment(
        model=MODEL,
        instance_id="0" * 32,
        digest=blob.digest,
        hour=start,
        rows=n,
        first_id=ids[0],
        last_id=ids[-1],
        versions=[version],
    )
    return ids


def seed_monitoring(client: Any, say: Any) -> dict[str, Any]:
    import numpy as np

    from dockyard.monitoring.actions import deliver, pending_webhooks

    say(f"registering {MODEL}, logging five hours of its predictions and monitoring them")
    v1, v2 = _train(client)
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    hours = [now - n * HOUR for n in (6, 5, 4, 3, 2)]
    plan = [(v1, 0.0), (v1, 0.0), (v2, 0.0), (v2, 25.0), (v2, 0.0)]
    labelled_share = [1.0, 0.0, 1.0, 0.5, 0.0]
    rng = np.random.default_rng(1)
    labels: dict[str, float] = {}
    for start, (version, shift), share in zip(hours, plan, labelled_share, strict=True):
        scores = rng.uniform(0, 1, ROWS)
        ids = _log(client, version, start, _frame(ROWS, rng, shift), scores)
        truth = rng.uniform(0, 1, ROWS) < scores  # labels that follow the scores
        for pid, label in list(zip(ids, truth, strict=True))[: int(ROWS * share)]:
            labels[pid] = float(label)
    client.monitoring.log_labels(MODEL, labels)
    client.monitoring.put(
        MODEL,
        window="1h",
        backfill="1d",
        performance={"metric": METRIC, "min": MINIMUM, "min_labels": 50},
        on_alert=[{"kind": "webhook", "url": UNREACHABLE}, {"kind": "freeze"}],
    )
    result = client.monitoring.run(MODEL)
    drifts = [a for a in result.alerts if a.rule == "drift"]
    if len(drifts) != 1 or drifts[0].window_start != hours[3]:
        raise SystemExit(f"seed: expected one drift alert at {hours[3]}, got {result.alerts}")
    for alert in result.alerts:  # what a runner does, with two quick attempts
        for index, url in pending_webhooks(alert):
            ok, detail, attempts = deliver(alert, url, attempts=2, sleep=lambda _s: None)
            client.monitoring.record_delivery(
                alert.id, index, delivered=ok, detail=detail, attempts=attempts
            )
    windows = {(w.version, w.start): w for w in client.monitoring.windows(MODEL)}
    if len(windows) != len(hours):
        raise SystemExit(f"seed: expected {len(hours)} windows of {MODEL}, got {len(windows)}")
    drifted = {w.start.isoformat(): w.drifted for w in windows.values() if w.drifted}
    if drifted != {hours[3].isoformat(): ["amount"]}:
        raise SystemExit(f"seed: expected only 'amount' to drift at {hours[3]}, got {drifted}")

    def performance(version: int, start: dt.datetime) -> dict[str, Any]:
        p = windows[(version, start)].performance
        return {
            "labelled": p.labelled,
            "coverage": p.coverage,
            "realised": p.realised.get(METRIC),
            "estimated": p.estimated.get(METRIC),
        }

    return {
        "monitoring": {
            "model": MODEL,
            "project": PROJECT,
            "monitor": "default",
            "metric": METRIC,
            "minimum": MINIMUM,
            "versions": [v1, v2],
            "windows": [
                {"version": v, "start": s.isoformat(), "end": (s + HOUR).isoformat()}
                for s, (v, _) in zip(hours, plan, strict=True)
            ],
            "shifted": {"version": v2, "start": hours[3].isoformat(), "column": "amount"},
            "columns": sorted({c.column for w in windows.values() for c in w.drift}),
            "performance": [performance(v, s) for s, (v, _) in zip(hours, plan, strict=True)],
            "alerts": [
                {
                    "rule": a.rule,
                    "window_start": a.window_start.isoformat(),
                    "actions": [[o.kind, o.status] for o in stored.actions],
                }
                for a in result.alerts
                for stored in [
                    next(x for x in client.monitoring.alerts(model=MODEL) if x.id == a.id)
                ]
            ],
            "webhook": UNREACHABLE,
        }
    }
