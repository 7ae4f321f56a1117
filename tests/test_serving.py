"""``dockyard serve``'s server: several models, the three protocols, bad input, alias moves
under load, a version that fails to load, the prediction log and traces. Each test runs a
real uvicorn on loopback over an embedded home on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import gc
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings
from dockyard.serving import heap
from serving_support import (
    model_server,
    register_classifier,
    register_constant,
    wait_for,
)


@pytest.fixture
def registry(settings: Settings) -> Iterator[Client]:
    client = connect_with(settings)
    yield client
    client.close()


def _factory(settings: Settings):  # type: ignore[no-untyped-def]
    return lambda: connect_with(settings)


def test_one_server_answers_for_several_models_in_every_protocol(
    registry: Client, settings: Settings
) -> None:
    register_constant(registry, "pricer", 7.0, alias="champion")
    register_classifier(registry, "fraud")
    uris = ["models:/pricer@champion", "models:/fraud@champion"]
    with model_server(_factory(settings), uris) as (http, _):
        one = http.post("/v1/models/pricer/predict", json={"inputs": {"amount": 3.0, "reports": 1}})
        assert one.status_code == 200, one.text
        body = one.json()
        assert body["predictions"] == [7.0] and body["version"] == 1
        assert body["alias"] == "champion" and len(body["prediction_ids"][0]) == 32
        records = [{"amount": 1.0, "reports": 0}, {"amount": 30.0, "reports": 2}]
        answer = http.post("/v1/models/fraud/predict", json={"inputs": records}).json()
        assert answer["predictions"] == [0, 1]
        columns = {"amount": [1.0, 30.0], "reports": [0, 2]}
        proba = http.post("/v1/models/fraud/predict", json={"inputs": columns, "proba": True})
        rows = proba.json()["probabilities"]
        assert len(rows) == 2 and rows[0][0] > 0.5 and rows[1][1] > 0.5

        v2 = {
            "id": "r1",
            "inputs": [
                {"name": "amount", "shape": [2], "datatype": "FP64", "data": [1.0, 30.0]},
                {"name": "reports", "shape": [2, 1], "datatype": "INT64", "data": [[0], [2]]},
            ],
        }
        infer = http.post("/v2/models/fraud/infer", json=v2).json()
        assert infer["id"] == "r1" and infer["model_name"] == "fraud"
        assert infer["outputs"][0]["data"] == [0, 1] and infer["outputs"][0]["shape"] == [2]
        tensor = {
            "inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [1, 0, 30, 2]}]
        }
        assert http.post("/v2/models/fraud/infer", json=tensor).json()["outputs"][0]["data"] == [
            0,
            1,
        ]
        meta = http.get("/v2/models/fraud").json()
        assert [t["name"] for t in meta["inputs"]] == ["amount", "reports"]
        assert http.get("/v2/models/fraud/ready").status_code == 200
        assert http.get("/v2/health/ready").status_code == 200

        split = {
            "dataframe_split": {"columns": ["amount", "reports"], "data": [[1.0, 0], [30.0, 2]]}
        }
        assert http.post("/v1/models/fraud/invocations", json=split).json() == {
            "predictions": [0, 1]
        }
        csv = http.post(
            "/v1/models/fraud/invocations",
            content=b"amount,reports\n1.0,0\n30.0,2\n",
            headers={"content-type": "text/csv"},
        )
        assert csv.json() == {"predictions": [0, 1]}
        several = http.post("/invocations", json=split)
        assert several.status_code == 404 and "several models" in several.json()["message"]

        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz").json()
        assert ready == {"ready": True, "models": {"pricer": "ready", "fraud": "ready"}}
        metrics = http.get("/metrics").text
        assert 'dockyard_serve_requests_total{model="fraud",outcome="ok",version="1"}' in metrics
        listed = {m["name"]: m for m in http.get("/v1/models").json()}
        assert listed["pricer"]["versions"][0] == {
            "alias": "champion",
            "version": 1,
            "wanted": 1,
            "state": "serving",
            "error": "",
        }


def test_bad_requests_get_clear_4xx_answers(registry: Client, settings: Settings) -> None:
    register_classifier(registry, "fraud")
    with model_server(_factory(settings), ["models:/fraud@champion"], max_body_bytes=4096) as (
        http,
        _,
    ):
        unknown = http.post("/v1/models/nope/predict", json={"inputs": {"amount": 1.0}})
        assert unknown.status_code == 404 and "serves fraud" in unknown.text
        missing = http.post("/v1/models/fraud/predict", json={"inputs": {"amount": 1.0}})
        assert missing.status_code == 422 and "reports" in missing.json()["error"]["message"]
        wrong = http.post(
            "/v1/models/fraud/predict", json={"inputs": {"amount": "lots", "reports": 1}}
        )
        assert wrong.status_code == 422 and "amount" in wrong.json()["error"]["message"]
        malformed = http.post(
            "/v1/models/fraud/predict",
            content=b'{"inputs": {',
            headers={"content-type": "application/json"},
        )
        assert malformed.status_code == 400 and "JSON" in malformed.json()["error"]["message"]
        huge = http.post(
            "/v1/models/fraud/predict",
            json={"inputs": {"amount": [1.0] * 2000, "reports": [1] * 2000}},
        )
        assert huge.status_code == 413
        for body in (
            {"rows": []},
            {"inputs": []},
            {"inputs": {"amount": [1.0, 2.0], "reports": [1]}},
            {"inputs": {"amount": [1.0], "reports": 1}},
            {"inputs": {"amount": {"nested": 1}, "reports": 1}},
            {"inputs": {"amount": 1.0, "reports": 1}, "proba": "yes"},
            [1, 2, 3],
        ):
            answer = http.post("/v1/models/fraud/predict", json=body)
            assert answer.status_code == 422, (body, answer.text)
        v2 = http.post("/v2/models/fraud/infer", json={"inputs": [{"name": "amount"}]})
        assert v2.status_code == 422 and "error" in v2.json()
        deep: list[object] = [1.0]
        for _ in range(400):  # nested far deeper than the tensor's 2-D shape
            deep = [deep]
        tensor = {"name": "amount", "shape": [1, 1], "datatype": "FP64", "data": deep}
        nested = http.post("/v2/models/fraud/infer", json={"inputs": [tensor]})
        assert nested.status_code == 422 and "deeper" in nested.text, nested.text

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            yield b'{"inputs": {"amount": ['
            for _ in range(1000):
                yield b"1.0, "
            yield b"1.0]}}"

        streamed = http.post(
            "/v1/models/fraud/predict",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
        assert streamed.status_code == 413
        mlflow = http.post("/v1/models/fraud/invocations", json={"dataframe_split": {}})
        assert mlflow.status_code == 422 and mlflow.json()["error_code"] == "BAD_REQUEST"
        assert http.get("/no/such/route").status_code == 404
        not_allowed = http.get("/v1/models/fraud/predict")
        assert not_allowed.status_code == 405 and not_allowed.headers["allow"] == "POST"
        # the server still answers after all of that
        good = http.post(
            "/v1/models/fraud/predict", json={"inputs": {"amount": 30.0, "reports": 1}}
        )
        assert good.json()["predictions"] == [1]


def test_a_batch_with_one_bad_request_fails_only_that_request(
    registry: Client, settings: Settings
) -> None:
    register_classifier(registry, "fraud")
    with model_server(_factory(settings), ["models:/fraud@champion"], max_wait_ms=50) as (http, _):
        results: dict[int, httpx.Response] = {}

        def send(i: int) -> None:
            amount = "bad" if i == 3 else float(i * 5)
            body = {"inputs": {"amount": amount, "reports": 1}}
            results[i] = http.post("/v1/models/fraud/predict", json=body)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results[3].status_code == 422
        for i in set(range(8)) - {3}:
            assert results[i].status_code == 200, results[i].text
            assert results[i].json()["predictions"] == [int(i * 5 > 20)]


def test_an_alias_move_under_load_fails_no_request(registry: Client, settings: Settings) -> None:
    register_constant(registry, "pricer", 1.0, alias="champion")
    register_constant(registry, "pricer", 2.0)
    seen: list[float] = []
    failures: list[str] = []
    stop = threading.Event()
    with model_server(_factory(settings), ["models:/pricer@champion"]) as (http, _):

        def hammer() -> None:
            with httpx.Client(base_url=str(http.base_url), timeout=30) as own:
                while not stop.is_set():
                    answer = own.post(
                        "/v1/models/pricer/predict", json={"inputs": {"amount": 1.0, "reports": 0}}
                    )
                    if answer.status_code != 200:
                        failures.append(answer.text)
                    else:
                        seen.append(answer.json()["predictions"][0])

        workers = [threading.Thread(target=hammer) for _ in range(4)]
        for w in workers:
            w.start()
        wait_for(lambda: len(seen) > 50)
        registry.models.set_alias("pricer", "champion", 2)
        wait_for(lambda: seen[-1] == 2.0 and len(seen) > 0)
        count = len(seen)
        wait_for(lambda: len(seen) > count + 50)
        registry.models.rollback("pricer", "champion")
        wait_for(lambda: seen[-1] == 1.0)
        stop.set()
        for w in workers:
            w.join()
    assert failures == []
    assert set(seen) == {1.0, 2.0}


def test_a_serving_process_settles_its_heap_after_start_and_after_each_swap(
    registry: Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_constant(registry, "pricer", 1.0, alias="champion")
    register_constant(registry, "pricer", 2.0)
    settled: list[int] = []

    def settle() -> None:
        real_settle()
        settled.append(gc.get_freeze_count())

    real_settle = heap.settle
    monkeypatch.setattr(heap, "settle", settle)
    try:
        served = model_server(_factory(settings), ["models:/pricer@champion"], settle_heap=True)
        with served as (http, _):
            body = {"inputs": {"amount": 1.0, "reports": 0}}
            assert len(settled) == 1 and settled[0] > 0  # once the models are loaded
            registry.models.set_alias("pricer", "champion", 2)
            wait_for(
                lambda: (
                    http.post("/v1/models/pricer/predict", json=body).json()["predictions"] == [2.0]
                )
            )
            wait_for(lambda: len(settled) == 2)
            time.sleep(0.5)  # polls that change nothing do not settle again
            assert len(settled) == 2
        with model_server(_factory(settings), ["models:/pricer@champion"]):
            assert len(settled) == 2  # an embedded server leaves its process's heap alone
    finally:
        gc.unfreeze()


def test_settling_collects_garbage_in_cycles_and_freezes_the_rest() -> None:
    class Node:
        other: Any = None

    kept, lost = Node(), Node()
    kept.other, lost.other = kept, lost  # two cycles
    gone = weakref.ref(lost)
    del lost
    try:
        heap.settle()
        assert gone() is None
        assert gc.get_freeze_count() > 0
        assert kept.other is kept
    finally:
        gc.unfreeze()


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(
    registry: Client, settings: Settings
) -> None:
    register_constant(registry, "pricer", 1.0, alias="champion")
    with model_server(_factory(settings), ["models:/pricer@champion"]) as (http, server):
        # stored with pickle: a server not started with --trusted refuses to load it
        version = register_constant(registry, "pricer", 2.0, trusted=True)
        registry.models.set_alias("pricer", "champion", version)
        wait_for(lambda: bool(server.models["pricer"].errors))
        answer = http.post(
            "/v1/models/pricer/predict", json={"inputs": {"amount": 1.0, "reports": 0}}
        )
        assert answer.json()["predictions"] == [1.0]
        state = http.get("/v1/models/pricer").json()["versions"][0]
        assert state["version"] == 1 and state["wanted"] == 2 and state["state"] == "failed"
        assert "trusted" in state["error"], state


def test_every_prediction_is_logged_once_and_traces_to_its_run(
    registry: Client, settings: Settings
) -> None:
    register_classifier(registry, "fraud")
    ids: list[str] = []
    with model_server(_factory(settings), ["models:/fraud@champion"]) as (http, server):
        for i in range(30):
            rows = [{"amount": float(i), "reports": 1}, {"amount": float(i + 20), "reports": 2}]
            answer = http.post("/v1/models/fraud/predict", json={"inputs": rows})
            ids.extend(answer.json()["prediction_ids"])
    # a graceful stop wrote the whole log
    assert server.log is not None and server.log.logged == 60 and server.log.dropped == 0
    page = registry.serving.predictions("fraud", limit=1000)
    assert sorted(p.prediction_id for p in page.predictions) == sorted(ids)
    one = next(p for p in page.predictions if p.prediction_id == ids[1])
    assert one.inputs == {"amount": 20.0, "reports": 2} and one.output == 0
    assert one.version == 1 and one.alias == "champion" and not one.shadow
    trace = registry.serving.trace(ids[1])
    assert trace.prediction.prediction_id == ids[1]
    assert trace.lineage.run is not None and trace.lineage.version.version == 1
    instances = registry.serving.instances()
    assert instances[0].stopped_at is not None
    assert instances[0].state.predictions_logged == 60


def test_a_model_on_feature_store_features_is_called_with_keys_and_request_values(
    registry: Client, settings: Settings
) -> None:
    import datetime as dt

    import numpy as np
    import pandas as pd
    import pyarrow as pa
    from sklearn.linear_model import LinearRegression

    import dockyard as dy

    now = dt.datetime.now(dt.UTC)
    rng = np.random.default_rng(3)
    n = 60
    times = sorted(now - dt.timedelta(minutes=int(m)) for m in rng.integers(5, 2000, n))
    source = pa.table(
        {
            "transaction_id": [f"t{i}" for i in range(n)],
            "card_hash": [f"c{i % 4}" for i in range(n)],
            "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
            "amount": rng.uniform(1, 100, n).round(2),
        }
    )
    registry.projects.create("shop")
    registry.datasets.ingest("shop", "transactions", source)
    card = dy.Entity("card", keys=["card_hash"])
    view = dy.FeatureView(
        "card_activity",
        entities=[card],
        source="transactions",
        timestamp="ts",
        features=[
            dy.Aggregate("amount", "sum", window="24h"),
            dy.Aggregate("transaction_id", "count", window="24h"),
        ],
        ttl="30d",
        lateness="1h",
    )
    dy.features.apply([view], project="shop", client=registry)
    dy.features.materialize("card_activity", project="shop", client=registry)
    # a model whose answer is the card's 24 h sum, so the answer shows what was looked up
    x = pd.DataFrame(
        {
            "amount": rng.uniform(1, 100, 200),
            "amount_sum_24h": rng.uniform(0, 5000, 200),
            "transaction_id_count_24h": rng.integers(0, 40, 200),
        }
    )
    model = LinearRegression().fit(x, x.amount_sum_24h)
    lookup = dy.FeatureLookup(
        project="shop",
        features=["card_activity:amount_sum_24h", "card_activity:transaction_id_count_24h"],
    )
    with dy.start_run(project="shop", capture=dy.Capture.off(), client=registry):
        logged = dy.log_model(model, "model", input_example=x, features=lookup)
    version = dy.register_model(logged, name="spend", client=registry).version
    registry.models.set_alias("spend", "champion", version)

    with model_server(_factory(settings), ["models:/spend@champion"]) as (http, _):
        body = {"inputs": {"card_hash": "c1", "amount": 5.0}, "return_features": True}
        first = http.post("/v1/models/spend/predict", json=body)
        assert first.status_code == 200, first.text
        expected = dy.features.online(
            {"card_hash": ["c1"]}, ["card_activity:amount_sum_24h"], project="shop", client=registry
        )["amount_sum_24h"][0]
        got = first.json()
        assert got["features"]["amount_sum_24h"] == [expected]
        assert abs(got["predictions"][0] - expected) < 1e-6
        meta = http.get("/v2/models/spend").json()
        assert sorted(t["name"] for t in meta["inputs"]) == ["amount", "card_hash"]

        dy.features.push(
            "card_activity",
            pd.DataFrame(
                {
                    "transaction_id": ["late-night"],
                    "card_hash": ["c1"],
                    "ts": [pd.Timestamp(now)],
                    "amount": [1000.0],
                }
            ),
            project="shop",
            client=registry,
        )
        second = http.post("/v1/models/spend/predict", json=body).json()
        assert abs(second["predictions"][0] - (expected + 1000.0)) < 1e-6
        no_key = http.post("/v1/models/spend/predict", json={"inputs": {"amount": 5.0}})
        assert no_key.status_code == 422 and "card_hash" in no_key.json()["error"]["message"]
        ids = second["prediction_ids"]
    logged_one = registry.serving.trace(ids[0]).prediction
    assert logged_one.features is not None
    assert logged_one.features["amount_sum_24h"] == second["features"]["amount_sum_24h"][0]


def test_the_prediction_log_reads_as_an_arrow_table_for_duckdb(
    registry: Client, settings: Settings
) -> None:
    import duckdb

    import dockyard as dy

    register_constant(registry, "pricer", 4.0, alias="champion")
    with model_server(_factory(settings), ["models:/pricer@champion"]) as (http, _):
        for i in range(12):
            rows = {"amount": [float(i), float(i + 1)], "reports": [0, 1]}
            assert http.post("/v1/models/pricer/predict", json={"inputs": rows}).status_code == 200
    log = dy.prediction_log("pricer", client=registry)
    assert log.num_rows == 24
    summary = duckdb.sql(
        "select version, count(*) as n, min(output) as output, "
        "max(cast(json_extract(inputs, '$.amount') as double)) as top from log group by version"
    ).fetchall()
    assert summary == [(1, 24, "4.0", 12.0)]
    assert dy.prediction_log("pricer", since=dt.timedelta(seconds=0), client=registry).num_rows == 0
    assert dy.trace(log["prediction_id"][0].as_py(), client=registry).prediction.output == 4.0
    segments = registry.serving.segments("pricer")
    assert sum(s.rows for s in segments) == 24


def _arms(server: object, name: str) -> list[tuple[str, int]]:
    routes = server.models[name].routes  # type: ignore[attr-defined]
    return [(arm.alias, weight) for arm, weight in routes.arms] if routes else []


def test_canary_weights_hold_sticky_keys_keep_their_arm_and_shadows_never_answer(
    registry: Client, settings: Settings
) -> None:
    register_constant(registry, "pricer", 1.0, alias="champion")
    register_constant(registry, "pricer", 2.0, alias="challenger")
    with model_server(_factory(settings), ["models:/pricer@champion"]) as (http, server):
        registry.models.set_traffic("pricer", {"champion": 80, "challenger": 20})
        wait_for(lambda: _arms(server, "pricer") == [("champion", 80), ("challenger", 20)])
        row = {"inputs": {"amount": 1.0, "reports": 0}}
        answers = [http.post("/v1/models/pricer/predict", json=row).json() for _ in range(600)]
        second = sum(a["predictions"] == [2.0] for a in answers)
        # binomial(600, 0.2): mean 120, sd 9.8; 5 sd either side fails once in ~3.5 million
        assert 71 <= second <= 169, second
        assert {a["alias"] for a in answers} == {"champion", "challenger"}
        assert all(a["version"] == (2 if a["alias"] == "challenger" else 1) for a in answers)

        registry.models.set_traffic(
            "pricer", {"champion": 50, "challenger": 50}, sticky="card_hash"
        )
        wait_for(lambda: server.models["pricer"].routes.sticky == "card_hash")
        arms: dict[str, set[str]] = {}
        for i in range(200):
            for _ in range(2):
                body = {"inputs": {"amount": 1.0, "reports": 0, "card_hash": f"c{i}"}}
                answer = http.post("/v1/models/pricer/predict", json=body).json()
                arms.setdefault(f"c{i}", set()).add(answer["alias"])
        assert all(len(seen) == 1 for seen in arms.values())  # a card keeps its arm
        challenger = sum(seen == {"challenger"} for seen in arms.values())
        assert 50 <= challenger <= 150, challenger  # binomial(200, 0.5): sd 7.1

        registry.models.set_traffic("pricer", {"champion": 100}, shadow=["challenger"])
        wait_for(lambda: _arms(server, "pricer") == [("champion", 100)])
        shadowed = [http.post("/v1/models/pricer/predict", json=row).json() for _ in range(40)]
        assert all(a["predictions"] == [1.0] and a["alias"] == "champion" for a in shadowed)
        answered_ids = {a["prediction_ids"][0] for a in shadowed}
    log = registry.serving.predictions("pricer", limit=10_000).predictions
    shadows = [p for p in log if p.shadow]
    assert len(shadows) == 40 and all(p.version == 2 and p.output == 2.0 for p in shadows)
    assert not answered_ids & {p.prediction_id for p in shadows}
    history = registry.models.history("pricer")
    assert [e.action for e in history if e.action == "traffic"] == ["traffic"] * 3


def test_a_frozen_model_keeps_what_it_serves(registry: Client, settings: Settings) -> None:
    import dockyard as dy

    register_constant(registry, "pricer", 1.0, alias="champion")
    register_constant(registry, "pricer", 2.0)
    with model_server(_factory(settings), ["models:/pricer@champion"]) as (http, server):
        registry.models.freeze("pricer", reason="drift alarm under investigation")
        wait_for(lambda: server.models["pricer"].frozen)
        with pytest.raises(dy.ModelFrozen, match="drift alarm"):
            registry.models.set_alias("pricer", "champion", 2)
        state = http.get("/v1/models/pricer").json()
        assert state["frozen"] is True and state["versions"][0]["version"] == 1
        registry.models.unfreeze("pricer", reason="false alarm")
        registry.models.set_alias("pricer", "champion", 2)
        row = {"inputs": {"amount": 1.0, "reports": 0}}
        wait_for(
            lambda: http.post("/v1/models/pricer/predict", json=row).json()["predictions"] == [2.0]
        )


def test_a_model_server_works_against_a_team_server(
    services: object, admin_server: object, tmp_path: Path
) -> None:
    """Replicas share nothing but the team server's store: the model server reads the
    registry, loads the model and writes its log through the REST API."""
    from conftest import ADMIN_TOKEN

    url = admin_server.url  # type: ignore[attr-defined]

    def remote() -> Client:
        return connect_with(
            Settings(home=tmp_path / "replica", db="", blobs="", url=url, token=ADMIN_TOKEN)
        )

    team = remote()
    register_constant(team, "pricer", 5.0, alias="champion")
    with model_server(remote, ["models:/pricer@champion"]) as (http, _):
        answer = http.post(
            "/v1/models/pricer/predict", json={"inputs": {"amount": 1.0, "reports": 0}}
        )
        assert answer.json()["predictions"] == [5.0]
        register_constant(team, "pricer", 6.0, alias="champion")
        row = {"inputs": {"amount": 1.0, "reports": 0}}
        wait_for(lambda: http.post("/v1/models/pricer/predict", json=row).json()["version"] == 2)
        team.models.remove_alias("pricer", "champion")
        # an alias that points nowhere: the server says so and keeps answering with v2
        wait_for(
            lambda: (
                "points at no version"
                in http.get("/v1/models/pricer").json()["versions"][0]["error"]
            )
        )
        kept = http.post("/v1/models/pricer/predict", json=row)
        assert kept.status_code == 200 and kept.json()["predictions"] == [6.0]
        pid = kept.json()["prediction_ids"][0]
    assert team.serving.trace(pid).prediction.output == 6.0
    team.close()
