"""Monitoring through both transports and both databases: windows of a prediction log
compared with the model's training data, labels that arrive later, alerts and their actions
(a rollback recorded in the model's history, a webhook delivered to a real local HTTP
receiver), runners that never compute a window twice, and bad input."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression
from sqlalchemy.orm import Session

import dockyard as dy
from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings
from dockyard.monitoring import label_blocks
from dockyard.monitoring.actions import deliver
from dockyard.registry.records import find_model
from dockyard.services import Services
from dockyard.serving.logformat import segment_table
from dockyard.store.migrate import HEAD, upgrade
from dockyard.store.tables import PredictionLabelBlockRow, PredictionLabelRow

HOUR = dt.timedelta(hours=1)


def _id(at: dt.datetime) -> str:
    millis = int(at.timestamp() * 1000)
    return f"{millis:012x}" + os.urandom(10).hex()


def _frame(n: int, rng: np.random.Generator, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": rng.normal(50 + shift, 10, n),
            "reports": rng.integers(0, 4, n).astype(float),
            "channel": rng.choice(["web", "shop", "app"], n),
        }
    )


def _train(client: Client, name: str = "fraud") -> int:
    """Register two versions of a classifier trained on the dataset shop/train (read inside
    the training run, so it is the versions' reference); the alias champion moves v1 -> v2."""
    rng = np.random.default_rng(0)
    data = _frame(2000, rng)
    data["label"] = (data.amount + rng.normal(0, 5, len(data)) > 55).astype(int)
    dy.dataset("train", project="shop", client=client).add_version(data)
    version = 0
    for _ in range(2):
        with dy.start_run(project="shop", capture=dy.Capture.off(), client=client):
            frame = dy.dataset("train", project="shop", client=client).version().to_pandas()
            x = frame[["amount", "reports"]]
            logged = dy.log_model(
                LogisticRegression().fit(x, frame.label), "model", input_example=x
            )
        version = dy.register_model(logged, name=name, client=client).version
        client.models.set_alias(name, "champion", version)
    return version


def _log(
    client: Client,
    model: str,
    version: int,
    start: dt.datetime,
    frame: pd.DataFrame,
    scores: np.ndarray,
) -> list[str]:
    """Write ``frame`` as one segment of the model's prediction log, spread over the hour
    from ``start``; returns the prediction ids."""
    n = len(frame)
    times = [start + dt.timedelta(seconds=3500 * i / n) for i in range(n)]
    ids = sorted(_id(t) for t in times)
    columns = {
        "prediction_id": ids,
        "at": times,
        "model": [model] * n,
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
        model=model,
        instance_id="0" * 32,
        digest=blob.digest,
        hour=start,
        rows=n,
        first_id=ids[0],
        last_id=ids[-1],
        versions=[version],
    )
    return ids


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict], list[int]]]:
    """A real HTTP server on loopback that records what it receives; ``codes`` is the list
    of statuses it answers with, in turn (then 200)."""
    received: list[dict] = []
    codes: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(codes.pop(0) if codes else 200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received, codes
    server.shutdown()


@pytest.fixture(autouse=True)
def _clear_of_the_hour() -> None:
    """The tests place traffic in the last few whole hours: wait while the hour turns (and
    for the 30 s a window is left open after it ends), so every test sees one clock hour."""
    now = dt.datetime.now(dt.UTC)
    if now.minute == 59 and now.second >= 30:
        time.sleep(60 - now.second + 35)
    elif now.minute == 0 and now.second < 35:
        time.sleep(35 - now.second)


def _hours_ago(n: int) -> dt.datetime:
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return now - n * HOUR


def test_drift_is_found_in_the_shifted_window_and_the_alert_rolls_back(client: Client) -> None:
    version = _train(client)
    rng = np.random.default_rng(1)
    calm, shifted = _hours_ago(3), _hours_ago(2)
    _log(client, "fraud", version, calm, _frame(1500, rng), rng.uniform(0, 1, 1500))
    _log(client, "fraud", version, shifted, _frame(1500, rng, shift=25), rng.uniform(0, 1, 1500))
    monitor = client.monitoring.put(
        "fraud", window="1h", backfill="6h", on_alert=[{"kind": "rollback", "rules": ["drift"]}]
    )
    assert monitor.project == "shop" and monitor.window == "1h"

    result = client.monitoring.run("fraud")
    by_start = {w.start: w for w in result.windows}
    assert set(by_start) == {calm, shifted}
    assert by_start[calm].drifted == [] and by_start[calm].rows == 1500
    assert by_start[shifted].drifted == ["amount"]
    assert {d.column for d in by_start[shifted].drift} == {"amount", "reports", "channel"}

    (alert,) = result.alerts
    assert alert.rule == "drift" and alert.window_start == shifted
    assert alert.actions[0].kind == "rollback" and alert.actions[0].status == "done"
    assert client.models.aliases("fraud")[0].version == version - 1
    moves = client.models.history("fraud")
    assert moves[0].action == "rollback" and moves[0].actor == "monitor fraud/default"
    assert "amount" in moves[0].reason

    again = client.monitoring.run("fraud")  # nothing new ended: nothing computed twice
    assert again.windows == [] and again.alerts == []
    stored = client.monitoring.windows("fraud", since=calm - HOUR)
    assert [w.start for w in stored] == [calm, shifted]
    assert [a.id for a in client.monitoring.alerts(model="fraud")] == [alert.id]

    text = client.monitoring.metrics()
    labels = f'model="fraud",monitor="default",version="{version}"'
    assert f"dockyard_monitor_drifted_columns{{{labels}}} 1.0" in text
    assert f"dockyard_monitor_window_rows{{{labels}}} 1500.0" in text
    assert 'dockyard_monitor_alerts_total{model="fraud",monitor="default",rule="drift"} 1.0' in text

    # the period's report merges the two windows' summaries: half the traffic shifted
    report = client.monitoring.report("fraud", since=calm - HOUR)
    (summary,) = report.versions
    assert summary.version == version and summary.windows == 2 and summary.rows == 3000
    assert summary.reference == "shop/train@1" and summary.drifted == ["amount"]
    assert summary.windows_drifted == 1 and report.alerts == 1


def test_late_labels_give_realised_performance_and_a_performance_alert(client: Client) -> None:
    version = _train(client)
    rng = np.random.default_rng(2)
    first, second = _hours_ago(3), _hours_ago(2)
    scores = rng.uniform(0, 1, 400)
    ids = _log(client, "fraud", version, first, _frame(400, rng), scores)
    later = rng.uniform(0, 1, 400)
    ids2 = _log(client, "fraud", version, second, _frame(400, rng), later)
    client.monitoring.put(
        "fraud",
        window="1h",
        backfill="6h",
        drift=None,
        performance={"metric": "auc", "min": 0.8, "min_labels": 50},
    )
    # the windows that ended an hour ago (the last one is left for later)
    result = client.monitoring.run("fraud", until=_hours_ago(1) + dt.timedelta(seconds=31))
    assert len(result.windows) == 2 and not result.alerts

    # good labels for the first hour (they follow the scores), random ones for the second
    good = {pid: float(rng.uniform() < s) for pid, s in zip(ids, scores, strict=True)}
    stored = client.monitoring.log_labels("fraud", good)
    assert stored.stored == 400 and stored.replaced == 0
    noise = {pid: float(rng.uniform() < 0.5) for pid in ids2[:300]}
    client.monitoring.log_labels("fraud", noise)
    again = client.monitoring.log_labels("fraud", dict(list(noise.items())[:10]))
    assert again.replaced == 10 and again.stored == 0

    windows = client.monitoring.windows("fraud", since=first - HOUR)
    one, two = windows
    assert one.performance.labelled == 400 and one.performance.coverage == 1.0
    assert two.performance.labelled == 300 and two.performance.coverage == pytest.approx(0.75)
    assert one.performance.realised["auc"] > 0.8 > two.performance.realised["auc"]
    assert one.performance.estimated == {}  # nothing labelled before it to calibrate on
    (period,) = client.monitoring.report("fraud", since=first - HOUR).versions
    assert period.performance.labelled == 700
    auc = period.performance.realised["auc"]
    assert two.performance.realised["auc"] < auc < one.performance.realised["auc"]

    # the next run sees the labels that arrived and raises the performance alert once
    _log(client, "fraud", version, _hours_ago(1), _frame(200, rng), rng.uniform(0, 1, 200))
    result = client.monitoring.run("fraud")
    (alert,) = [a for a in result.alerts if a.rule == "performance"]
    assert alert.window_start == second and "auc" in alert.message
    (third,) = result.windows  # estimated from the 700 labelled predictions before it
    assert third.performance.labelled == 0 and 0.5 < third.performance.estimated["auc"] < 1
    assert client.monitoring.run("fraud").alerts == []


def test_a_label_for_an_unknown_prediction_stores_nothing(client: Client) -> None:
    version = _train(client)
    rng = np.random.default_rng(3)
    ids = _log(client, "fraud", version, _hours_ago(2), _frame(50, rng), rng.uniform(0, 1, 50))
    unknown = _id(_hours_ago(2) + dt.timedelta(minutes=5))
    with pytest.raises(dy.NotFound, match="1 of 3 labels name no prediction"):
        client.monitoring.log_labels("fraud", {ids[0]: 1.0, ids[1]: 0.0, unknown: 1.0})
    client.monitoring.put("fraud", drift=None, performance={"metric": "auc"}, backfill="6h")
    client.monitoring.run("fraud")
    (window,) = client.monitoring.windows("fraud", since=_hours_ago(5))
    assert window.performance.labelled == 0
    with pytest.raises(dy.InvalidInput):
        client.monitoring.log_labels("fraud", {"not-an-id": 1.0})
    with pytest.raises(dy.NotFound, match="no registered model"):
        client.monitoring.log_labels("nobody", {ids[0]: 1.0})


def test_bad_monitors_are_refused_with_what_to_fix(client: Client) -> None:
    _train(client)
    with pytest.raises(dy.NotFound, match="no registered model"):
        client.monitoring.put("nobody")
    with pytest.raises(dy.InvalidInput, match="does not divide a day"):
        client.monitoring.put("fraud", window="7m")
    with pytest.raises(dy.InvalidInput, match="is not a window"):
        client.monitoring.put("fraud", window="soon")
    with pytest.raises(dy.NotFound, match="no schedule 'nightly'"):
        client.monitoring.put("fraud", on_alert=[{"kind": "retrain", "schedule": "nightly"}])
    with pytest.raises(dy.InvalidInput, match="lower-is-better"):
        client.monitoring.put("fraud", performance={"metric": "log_loss", "min": 0.3})
    with pytest.raises(dy.InvalidInput):
        client.monitoring.put("fraud", drift={"method": "magic"})
    with pytest.raises(dy.InvalidInput):
        client.monitoring.put("fraud", on_alert=[{"kind": "webhook", "url": "file:///etc/passwd"}])
    with pytest.raises(dy.NotFound, match="no monitor 'default'"):
        client.monitoring.run("fraud")
    with pytest.raises(dy.NotFound, match="no monitor 'default'"):
        client.monitoring.report("fraud")
    assert client.monitoring.list() == []


def test_a_window_without_traffic_and_a_model_without_reference(client: Client) -> None:
    rng = np.random.default_rng(4)
    x = _frame(100, rng)[["amount", "reports"]]
    with dy.start_run(project="shop", capture=dy.Capture.off(), client=client):
        logged = dy.log_model(
            LogisticRegression().fit(x, (x.amount > 50).astype(int)), "model", input_example=x
        )
    version = dy.register_model(logged, name="bare", client=client).version
    client.monitoring.put("bare", backfill="6h")
    assert client.monitoring.run("bare").windows == []  # no traffic at all: nothing to say
    _log(client, "bare", version, _hours_ago(2), _frame(200, rng), rng.uniform(0, 1, 200))
    client.monitoring.put("bare", backfill="6h", window="30m")
    with pytest.raises(dy.InvalidInput, match="recorded no dataset version"):
        client.monitoring.run("bare")
    assert "recorded no dataset version" in client.monitoring.get("bare").last_error


def test_drift_settings_that_name_a_column_the_reference_lacks(client: Client) -> None:
    version = _train(client)
    rng = np.random.default_rng(8)
    _log(client, "fraud", version, _hours_ago(2), _frame(300, rng), rng.uniform(0, 1, 300))
    client.monitoring.put("fraud", backfill="6h", drift={"thresholds": {"nope": 0.1}})
    with pytest.raises(dy.InvalidInput, match=r"do not fit the reference.*'nope'"):
        client.monitoring.run("fraud")
    assert client.monitoring.windows("fraud", since=_hours_ago(6)) == []
    client.monitoring.put("fraud", backfill="6h", drift={"thresholds": {"amount": 0.5}})
    (window,) = client.monitoring.run("fraud").windows  # the window was not skipped
    assert window.rows == 300 and window.drift[0].threshold in (0.5, 0.1, 0.05)


def test_prometheus_scrapes_the_monitors_figures(services: object, server: object) -> None:
    import httpx

    from dockyard.client.client import connect_with

    local = connect_with(services.settings)  # type: ignore[attr-defined]
    try:
        version = _train(local)
        rng = np.random.default_rng(9)
        ids = _log(local, "fraud", version, _hours_ago(2), _frame(300, rng), rng.uniform(0, 1, 300))
        local.monitoring.put("fraud", backfill="6h", performance={"metric": "auc"})
        local.monitoring.run("fraud")
        local.monitoring.log_labels("fraud", {pid: float(i % 2) for i, pid in enumerate(ids)})
    finally:
        local.close()
    answer = httpx.get(f"{server.url}/api/v1/monitoring/metrics")  # type: ignore[attr-defined]
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    labels = f'model="fraud",monitor="default",version="{version}"'
    assert f"dockyard_monitor_label_coverage{{{labels}}} 1.0" in answer.text
    assert f'dockyard_monitor_performance{{kind="realised",metric="auc",{labels}}}' in answer.text


def test_runners_claim_a_due_monitor_once(client: Client) -> None:
    _train(client)
    client.monitoring.put("fraud")
    (claimed,) = client.monitoring.due()
    assert claimed.model == "fraud"
    assert client.monitoring.due() == []
    assert client.monitoring.get("fraud").next_run_at > dt.datetime.now(dt.UTC)


def test_webhooks_reach_a_real_receiver_and_failures_are_recorded(
    client: Client, receiver: tuple[str, list[dict], list[int]]
) -> None:
    from dockyard.sdk.monitor_runner import deliver_alerts

    url, received, _ = receiver
    version = _train(client)
    rng = np.random.default_rng(5)
    _log(
        client, "fraud", version, _hours_ago(2), _frame(500, rng, shift=40), rng.uniform(0, 1, 500)
    )
    client.monitoring.put(
        "fraud", backfill="6h", on_alert=[{"kind": "webhook", "url": url}, {"kind": "freeze"}]
    )
    (alert,) = client.monitoring.run("fraud").alerts
    assert [a.status for a in alert.actions] == ["pending", "done"]
    assert client.models.get("fraud").frozen is not None
    for thread in deliver_alerts(client, [alert]):
        thread.join(timeout=30)
    assert received and received[0]["id"] == alert.id and received[0]["rule"] == "drift"
    (stored,) = client.monitoring.alerts(model="fraud")
    assert stored.actions[0].status == "done" and stored.actions[0].attempts == 1


def test_webhook_delivery_retries_server_errors_and_not_refusals(
    receiver: tuple[str, list[dict], list[int]],
) -> None:
    from dockyard.monitoring.schemas import Alert

    url, received, codes = receiver
    alert = Alert(
        id="a" * 32,
        monitor="default",
        model="m",
        rule="drift",
        version=1,
        window_start=dt.datetime.now(dt.UTC),
        message="x",
        details={},
        actions=[],
        raised_at=dt.datetime.now(dt.UTC),
    )
    waits: list[float] = []
    codes.extend([503, 500])
    assert deliver(alert, url, sleep=waits.append) == (True, "HTTP 200", 3)
    assert waits == [1.0, 2.0] and len(received) == 3
    codes.append(400)
    ok, detail, attempts = deliver(alert, url, sleep=waits.append)
    assert not ok and attempts == 1 and detail.startswith("HTTP 400")
    ok, detail, attempts = deliver(
        alert, "http://127.0.0.1:9/nothing", attempts=2, sleep=waits.append
    )
    assert not ok and attempts == 2 and "ConnectError" in detail


def test_a_drift_alert_fires_the_retraining_schedule(client: Client) -> None:
    version = _train(client)
    rng = np.random.default_rng(6)
    client.schedules.create("shop", "retrain", "pipelines_mod:train", cron="0 3 1 1 *", check=False)
    client.schedules.claim()  # nothing is due: next January 1st
    _log(
        client, "fraud", version, _hours_ago(2), _frame(500, rng, shift=40), rng.uniform(0, 1, 500)
    )
    client.monitoring.put(
        "fraud", backfill="6h", on_alert=[{"kind": "retrain", "schedule": "retrain"}]
    )
    (alert,) = client.monitoring.run("fraud").alerts
    assert alert.actions[0].status == "done" and "fires at" in alert.actions[0].detail
    (firing,) = client.schedules.claim()
    assert firing.schedule.name == "retrain" and firing.reason == "cron"
    assert client.schedules.claim() == []  # once


def test_the_cli_adds_runs_and_reports_a_monitor(
    home: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli_support import run_cli

    client = dy.connect()
    try:
        version = _train(client)
        rng = np.random.default_rng(7)
        ids = _log(
            client,
            "fraud",
            version,
            _hours_ago(2),
            _frame(500, rng, shift=40),
            rng.uniform(0, 1, 500),
        )
    finally:
        client.close()
    code, out, err = run_cli(
        capsys, "monitor", "add", "fraud", "--window", "1h", "--metric", "auc", "--min", "0.9"
    )
    assert code == 0, err
    assert "monitor fraud/default: 1h windows" in out
    code, out, err = run_cli(capsys, "monitor", "list")
    assert code == 0 and "drift, quality, performance" in out
    code, out, err = run_cli(capsys, "monitor", "run", "fraud")
    assert code == 0, err
    assert "amount" in out and "1 alert" in out
    labels = home.parent / "labels.csv"  # type: ignore[attr-defined]
    labels.write_text("prediction_id,label\n" + "".join(f"{i},1\n" for i in ids[:20]))
    code, out, err = run_cli(capsys, "monitor", "labels", "fraud", str(labels))
    assert code == 0 and "stored 20 labels" in out
    page = home.parent / "report.html"  # type: ignore[attr-defined]
    code, out, err = run_cli(
        capsys, "monitor", "report", "fraud", "--since", "1d", "--html", str(page)
    )
    assert code == 0 and "20 (4%)" in out
    text = page.read_text()
    assert "<td>amount</td>" in text and "class=bad" in text and "<script" not in text
    frame = dy.monitoring.report("fraud", since=dt.timedelta(days=1))
    assert frame.loc[0, "drifted_columns"] == "amount" and frame.loc[0, "labelled"] == 20
    code, out, err = run_cli(capsys, "monitor", "alerts", "--json")
    assert code == 0 and json.loads(out)[0]["rule"] == "drift"
    code, out, err = run_cli(capsys, "monitor", "add", "fraud", "--window", "7m")
    assert code != 0 and "does not divide a day" in err
    code, out, err = run_cli(capsys, "gc", "--keep-predictions", "1h", "--dry-run")
    assert code == 0, err
    assert "would delete the prediction history before" in out
    assert "1 log segment (500 predictions), 1 monitor window and 20 labels" in out
    code, out, err = run_cli(capsys, "gc", "--keep-predictions", "10m")
    assert code != 0 and "under an hour" in err


def test_labels_by_entity_and_time_find_the_nearest_prediction(client: Client) -> None:
    version = _train(client)
    rng = np.random.default_rng(10)
    start = _hours_ago(2)
    frame = _frame(100, rng)
    frame["card"] = [f"c{i % 10}" for i in range(100)]  # each card paid 10 times in the hour
    ids = _log(client, "fraud", version, start, frame, rng.uniform(0, 1, 100))
    times = [start + dt.timedelta(seconds=3500 * i / 100) for i in range(100)]
    # chargebacks of purchases 3 (card c3) and 47 (card c7), timed 20 s after the purchase
    labels = pd.DataFrame(
        {
            "card": ["c3", "c7"],
            "at": [times[3] + dt.timedelta(seconds=20), times[47] + dt.timedelta(seconds=20)],
            "label": [1, 1],
        }
    )
    result = dy.log_labels("fraud", labels, keys=["card"], client=client)
    assert result.stored == 2 and result.matched == {"0": ids[3], "1": ids[47]}
    client.monitoring.put("fraud", drift=None, performance={"metric": "auc"}, backfill="6h")
    client.monitoring.run("fraud")
    (window,) = client.monitoring.windows("fraud", since=start - HOUR)
    assert window.performance.labelled == 2

    # a card that never paid, or a time far from every purchase: nothing is stored
    far = pd.DataFrame(
        {"card": ["c3", "zz"], "at": [times[3], times[3] - dt.timedelta(hours=5)], "label": [0, 0]}
    )
    with pytest.raises(dy.NotFound, match="1 of 2 labels match no prediction"):
        dy.log_labels("fraud", far, keys=["card"], client=client)
    with pytest.raises(dy.InvalidInput, match="no column 'shop_id'"):
        client.monitoring.log_entity_labels(
            "fraud", [{"keys": {"shop_id": "s1"}, "at": times[0], "label": 1}]
        )
    with pytest.raises(dy.InvalidInput, match="same key columns"):
        client.monitoring.log_entity_labels(
            "fraud",
            [
                {"keys": {"card": "c1"}, "at": times[0], "label": 1},
                {"keys": {"other": "c1"}, "at": times[0], "label": 1},
            ],
        )
    with pytest.raises(dy.InvalidInput, match="keys="):
        dy.log_labels("fraud", labels, client=client)
    assert client.monitoring.windows("fraud", since=start - HOUR)[0].performance.labelled == 2


def test_numeric_entity_keys_match_whatever_form_they_are_given_in(client: Client) -> None:
    """A key logged as a number matches 7, 7.0 and "7" alike (a DataFrame with a missing
    value turns ids into floats); one that is not a number of that kind is refused."""
    version = _train(client)
    rng = np.random.default_rng(14)
    start = _hours_ago(2)
    frame = _frame(40, rng)
    frame["card_id"] = [1000 + i % 4 for i in range(40)]  # integers in the log
    ids = _log(client, "fraud", version, start, frame, rng.uniform(0, 1, 40))
    times = [start + dt.timedelta(seconds=3500 * i / 40) for i in range(40)]
    given = [1001, 1002.0, "1003"]  # purchases 1, 2 and 3
    found = client.monitoring.log_entity_labels(
        "fraud",
        [
            {"keys": {"card_id": key}, "at": times[i + 1] + dt.timedelta(seconds=5), "label": 1}
            for i, key in enumerate(given)
        ],
    )
    assert found.matched == {"0": ids[1], "1": ids[2], "2": ids[3]}
    for bad in (1001.5, "card-7", True):
        with pytest.raises(dy.InvalidInput, match="card_id"):
            client.monitoring.log_entity_labels(
                "fraud", [{"keys": {"card_id": bad}, "at": times[1], "label": 1}]
            )


def _table_labels(services: Services, model: str) -> dict[int, list[tuple[int, float, float]]]:
    """The stored labels per version as (microseconds, label, score), read row by row."""

    def fetch(session: Session) -> list[Any]:
        model_id = find_model(session, model).id
        return session.execute(
            sa.select(
                PredictionLabelRow.version,
                PredictionLabelRow.predicted_at,
                PredictionLabelRow.label,
                PredictionLabelRow.score,
            ).where(PredictionLabelRow.model_id == model_id)
        ).all()

    found: dict[int, list[tuple[int, float, float]]] = {}
    for version, at, label, score in services.db.query(fetch):
        found.setdefault(version, []).append((label_blocks.micros(at), label, score))
    return {v: sorted(items) for v, items in found.items()}


def _block_labels(services: Services, model: str) -> dict[int, list[tuple[int, float, float]]]:
    def fetch(session: Session) -> label_blocks.Labels:
        model_id = find_model(session, model).id
        early = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        return label_blocks.read(session, model_id, early, dt.datetime.now(dt.UTC))

    labels = services.db.query(fetch)
    found: dict[int, list[tuple[int, float, float]]] = {}
    for version, at, label, score in zip(
        labels.version.tolist(),
        labels.at.tolist(),
        labels.label.tolist(),
        labels.score.tolist(),
        strict=True,
    ):
        found.setdefault(version, []).append((at, label, score))
    return found


def test_labels_written_at_once_and_replaced_keep_the_packed_blocks_exact(
    services: Services,
) -> None:
    """Views read labels as hourly blocks; four writers labelling the same hours at once
    (some labels given twice, with other values) leave blocks equal to the stored labels, and
    the period's AUC is the AUC of exactly those labels."""
    from sklearn.metrics import roc_auc_score

    client = connect_with(services.settings)
    version = _train(client)
    rng = np.random.default_rng(5)
    ids: list[str] = []
    for hours in (3, 2):
        ids += _log(
            client, "fraud", version, _hours_ago(hours), _frame(300, rng), rng.uniform(0, 1, 300)
        )
    client.monitoring.put("fraud", window="1h", backfill="6h", performance={"metric": "auc"})
    client.monitoring.run("fraud", until=_hours_ago(1) + dt.timedelta(seconds=31))
    batches = [
        {pid: float(rng.uniform() < 0.5) for pid in ids[i : i + 250]} for i in (0, 150, 300, 350)
    ]
    errors: list[BaseException] = []

    def label(batch: dict[str, float]) -> None:
        try:
            client.monitoring.log_labels("fraud", batch)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=label, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = _table_labels(services, "fraud")
    assert sum(len(v) for v in stored.values()) == 600  # the batches cover every id
    assert _block_labels(services, "fraud") == stored

    (period,) = client.monitoring.report("fraud", since=_hours_ago(4)).versions
    truth = [label for _, label, _ in stored[version]]
    scores = [score for _, _, score in stored[version]]
    assert period.performance.labelled == 600
    assert period.performance.realised["auc"] == pytest.approx(roc_auc_score(truth, scores))

    # a block that does not hold what its count says is read from the label rows instead
    services.db.write(
        lambda session: session.execute(
            sa.update(PredictionLabelBlockRow)
            .where(PredictionLabelBlockRow.hour == _hours_ago(3))
            .values(at=b"\x00" * 12)
        )
    )
    assert _block_labels(services, "fraud") == stored
    client.close()


def test_the_migration_packs_labels_stored_before_it(tmp_path: Path) -> None:
    """A home whose labels were stored before revision 0014 gets the same blocks the
    service writes."""
    services = Services.open(
        Settings(home=tmp_path, db=f"sqlite:///{tmp_path / 'meta.db'}", blobs=str(tmp_path / "b"))
    )
    client = connect_with(services.settings)
    version = _train(client)
    rng = np.random.default_rng(6)
    ids = _log(client, "fraud", version, _hours_ago(3), _frame(200, rng), rng.uniform(0, 1, 200))
    ids += _log(client, "fraud", version, _hours_ago(2), _frame(200, rng), rng.uniform(0, 1, 200))
    client.monitoring.log_labels("fraud", {pid: float(i % 2) for i, pid in enumerate(ids)})
    written = _block_labels(services, "fraud")
    assert sum(len(v) for v in written.values()) == 400
    with services.db.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_runs_start_time")  # 0020
        conn.exec_driver_sql("DROP TABLE project_secrets")  # 0018 (0019's columns go below)
        conn.exec_driver_sql("DROP TABLE audit_events")  # 0017
        for table in ("api_tokens", "project_grants", "team_members", "teams", "users"):
            conn.exec_driver_sql(f"DROP TABLE {table}")  # 0016
        conn.exec_driver_sql("DROP INDEX ix_step_cache_project_id")
        conn.exec_driver_sql("ALTER TABLE step_cache DROP COLUMN project_id")
        conn.exec_driver_sql("DROP TABLE prediction_label_blocks")
        conn.exec_driver_sql("ALTER TABLE monitors DROP COLUMN segments_seen")  # 0015
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0013'")
    assert upgrade(services.db) == HEAD
    assert _block_labels(services, "fraud") == written
    client.close()
    services.close()


def test_the_prediction_history_is_kept_for_a_period(client: Client) -> None:
    """Retention: segments of the log, monitor windows and labels older than the period go
    (a dry run counts them first), the rest stays whole, and gc frees the segments' blobs."""
    version = _train(client)
    rng = np.random.default_rng(11)
    old: list[str] = []
    for hours in (30, 29):
        old += _log(
            client, "fraud", version, _hours_ago(hours), _frame(100, rng), rng.uniform(0, 1, 100)
        )
    recent = _log(client, "fraud", version, _hours_ago(2), _frame(100, rng), rng.uniform(0, 1, 100))
    client.monitoring.put("fraud", window="1h", backfill="2d", performance={"metric": "auc"})
    assert len(client.monitoring.run("fraud").windows) == 3
    client.monitoring.log_labels("fraud", {pid: float(i % 2) for i, pid in enumerate(old)})
    client.monitoring.log_labels("fraud", {pid: float(i % 2) for i, pid in enumerate(recent)})

    with pytest.raises(dy.InvalidInput, match="greater than or equal to 3600"):
        client.prune_predictions(older_than_seconds=60)
    with pytest.raises(dy.InvalidInput, match="less than or equal to"):
        client.prune_predictions(older_than_seconds=10**12)
    counted = client.prune_predictions(older_than_seconds=86_400, dry_run=True)
    assert (counted.segments, counted.predictions, counted.windows, counted.labels) == (
        2,
        200,
        2,
        200,
    )
    assert counted.before == _hours_ago(24)
    assert len(client.monitoring.windows("fraud", since=_hours_ago(40))) == 3  # nothing gone

    pruned = client.prune_predictions(older_than_seconds=86_400)
    assert pruned.model_dump(exclude={"dry_run"}) == counted.model_dump(exclude={"dry_run"})
    (kept,) = client.monitoring.windows("fraud", since=_hours_ago(40))
    assert kept.start == _hours_ago(2) and kept.performance.labelled == 100
    (period,) = client.monitoring.report("fraud", since=_hours_ago(40)).versions
    assert period.windows == 1 and period.performance.labelled == 100
    with pytest.raises(dy.NotFound):
        client.serving.trace(old[0])
    assert client.serving.trace(recent[0]).prediction.prediction_id == recent[0]
    with pytest.raises(dy.NotFound, match="name no prediction"):
        client.monitoring.log_labels("fraud", {old[0]: 1.0})
    freed = client.gc(grace_seconds=0)
    assert freed.blobs_deleted >= 2
    again = client.prune_predictions(older_than_seconds=86_400)
    assert (again.segments, again.windows, again.labels) == (0, 0, 0)


def test_a_server_told_to_keep_a_day_prunes_older_history_itself(services: Services) -> None:
    from dockyard.server.housekeeping import start_pruner

    client = connect_with(services.settings)
    version = _train(client)
    rng = np.random.default_rng(12)
    _log(client, "fraud", version, _hours_ago(30), _frame(50, rng), rng.uniform(0, 1, 50))
    _log(client, "fraud", version, _hours_ago(2), _frame(50, rng), rng.uniform(0, 1, 50))
    assert len(client.serving.segments("fraud", since=_hours_ago(40))) == 2
    stop = start_pruner(services, keep_seconds=86_400, interval=0.05)
    try:
        deadline = time.monotonic() + 30
        while (
            len(client.serving.segments("fraud", since=_hours_ago(40))) > 1
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
    finally:
        stop()
    (left,) = client.serving.segments("fraud", since=_hours_ago(40))
    assert left.hour == _hours_ago(2)
    client.close()


def test_traffic_that_reaches_the_log_late_is_computed_again(client: Client) -> None:
    """A server that flushes after the monitor passed its hour (or was cut off and caught up):
    the next run computes the windows its segment falls in again, replacing what was stored,
    once."""
    version = _train(client)
    rng = np.random.default_rng(13)
    _log(client, "fraud", version, _hours_ago(3), _frame(100, rng), rng.uniform(0, 1, 100))
    client.monitoring.put("fraud", window="1h", backfill="6h", drift=None)
    (first,) = client.monitoring.run("fraud").windows
    assert first.start == _hours_ago(3) and first.rows == 100

    # another server's segment of the same hour, and one of an hour that had no traffic
    _log(client, "fraud", version, _hours_ago(3), _frame(50, rng), rng.uniform(0, 1, 50))
    _log(client, "fraud", version, _hours_ago(4), _frame(30, rng), rng.uniform(0, 1, 30))
    again = client.monitoring.run("fraud").windows
    assert sorted((w.start, w.rows) for w in again) == [(_hours_ago(4), 30), (_hours_ago(3), 150)]
    stored = client.monitoring.windows("fraud", since=_hours_ago(6))
    assert [(w.start, w.rows) for w in stored] == [(_hours_ago(4), 30), (_hours_ago(3), 150)]
    assert client.monitoring.run("fraud").windows == []  # computed again once
    (oldest,) = client.monitoring.windows("fraud", since=_hours_ago(6), limit=1)
    (newest,) = client.monitoring.windows("fraud", since=_hours_ago(6), limit=1, newest=True)
    assert (oldest.start, newest.start) == (_hours_ago(4), _hours_ago(3))
    assert newest.performance == stored[1].performance
    (period,) = client.monitoring.report("fraud", since=_hours_ago(6)).versions
    assert period.rows == 180 and period.windows == 2
