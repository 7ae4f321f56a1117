"""``dy.features`` end to end, embedded and through a server: apply, a recorded
point-in-time training set, materialize, online lookups equal to the training set's values at
the same times (on-demand features included), pushes; and the ``dockyard features`` CLI."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import dockyard as dy
from cli_support import run_cli
from dockyard.client.client import Client, connect
from dockyard.core.errors import InvalidInput
from dockyard.features.offline import training_set as engine_training_set

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
card = dy.Entity("card", keys=["card_hash"])


def share(amount: float, mean: float | None) -> float | None:
    return None if mean is None or mean == 0 else amount / mean


amount_vs_mean = dy.OnDemand(
    "amount_vs_mean", share, inputs=["amount", "card_activity:amount_mean_7d"]
)
activity = dy.FeatureView(
    "card_activity",
    entities=[card],
    source="transactions",
    timestamp="ts",
    features=[
        dy.Aggregate("amount", "sum", window="24h"),
        dy.Aggregate("amount", "mean", window="7d"),
        dy.Aggregate("transaction_id", "count", window="1h"),
        dy.Aggregate("is_fraud", "sum", window="30d", available_at="label_at"),
        dy.Field("amount", name="last_amount"),
        amount_vs_mean,
    ],
    ttl="30d",
    lateness="1h",
)
REFS = [
    "card_activity:amount_sum_24h",
    "card_activity:amount_mean_7d",
    "card_activity:transaction_id_count_1h",
    "card_activity:is_fraud_sum_30d",
    "card_activity:last_amount",
]


def events(n: int, seed: int = 1) -> pa.Table:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        ts = T0 + dt.timedelta(minutes=rng.randrange(0, 3 * 24 * 60))
        fraud = rng.random() < 0.2
        rows.append(
            {
                "transaction_id": f"t{i}",
                "card_hash": f"c{rng.randrange(8)}",
                "ts": ts,
                "amount": round(rng.uniform(1, 500), 2),
                "is_fraud": 1.0 if fraud else 0.0,
                "label_at": ts + dt.timedelta(hours=rng.randrange(1, 48)),
            }
        )
    rows.sort(key=lambda r: r["ts"])
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("transaction_id", pa.string()),
                ("card_hash", pa.string()),
                ("ts", pa.timestamp("us", tz="UTC")),
                ("amount", pa.float64()),
                ("is_fraud", pa.float64()),
                ("label_at", pa.timestamp("us", tz="UTC")),
            ]
        ),
    )


def same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def test_training_set_online_and_push_agree(client: Client) -> None:
    source = events(300)
    client.projects.create("fraud")
    client.datasets.ingest("fraud", "transactions", source)
    report = dy.features.apply([activity], project="fraud", client=client)
    assert [(i.kind, i.status) for i in report.items] == [
        ("entity", "created"),
        ("view", "created"),
    ]

    # online values answer from the newest event minus the lateness on; the parity of past
    # times is the engine's replay test (test_features_parity.py)
    newest = max(source["ts"].to_pylist())
    times = [newest + dt.timedelta(minutes=3 * k) for k in range(16)]
    labels = pa.table(
        {
            "card_hash": [f"c{i % 8}" for i in range(len(times))],
            "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
            "amount": [float(10 + i) for i in range(len(times))],
        }
    )
    built = dy.features.training_set(
        labels, [*REFS, amount_vs_mean], project="fraud", output="train", client=client
    )
    assert isinstance(built, dy.DatasetVersion) and built.rows == len(times)
    table = built.to_arrow()
    # the same as the engine gives for the same definitions and data
    direct = engine_training_set(
        labels, [activity], {"transactions": source}, [*REFS, "card_activity:amount_vs_mean"]
    )
    for name in direct.column_names:
        assert all(
            same(a, b)
            for a, b in zip(table[name].to_pylist(), direct[name].to_pylist(), strict=True)
        ), name
    (recorded,) = client.features.training_sets("fraud", view="card_activity")
    assert (recorded.dataset, recorded.version, recorded.views, recorded.sources) == (
        "train",
        1,
        {"card_activity": 1},
        {"transactions": 1},
    )

    assert dy.features.materialize("card_activity", project="fraud", client=client).events == 300
    for row in range(len(times)):
        key = labels["card_hash"][row].as_py()
        got = dy.features.online(
            {"card_hash": [key]},
            [*REFS, amount_vs_mean],
            project="fraud",
            at=times[row],
            request={"amount": [labels["amount"][row].as_py()]},
            client=client,
        )
        for ref in [*REFS, "card_activity:amount_vs_mean"]:
            name = ref.split(":")[1]
            assert same(got[name][0], table[name][row].as_py()), (row, name)

    extra = {
        "transaction_id": ["new1"],
        "card_hash": ["c1"],
        "ts": [newest + dt.timedelta(minutes=1)],
        "amount": [1000.0],
        "is_fraud": [0.0],
        "label_at": [newest + dt.timedelta(days=2)],
    }
    at = newest + dt.timedelta(minutes=2)
    before = dy.features.online(
        {"card_hash": ["c1"]},
        ["card_activity:amount_sum_24h"],
        project="fraud",
        at=at,
        client=client,
    )
    pushed = dy.features.push("card_activity", pd.DataFrame(extra), project="fraud", client=client)
    assert (pushed.events, pushed.source_version) == (1, 2)
    after = dy.features.online(
        {"card_hash": ["c1"]},
        ["card_activity:amount_sum_24h"],
        project="fraud",
        at=at,
        client=client,
    )
    assert same(after["amount_sum_24h"][0], (before["amount_sum_24h"][0] or 0.0) + 1000.0)
    # a training set sees the pushed purchase too, unless it pins the source's version
    probe = pa.table({"card_hash": ["c1"], "ts": pa.array([at], pa.timestamp("us", tz="UTC"))})
    ref = ["card_activity:amount_sum_24h"]
    latest = dy.features.training_set(probe, ref, project="fraud", client=client)
    pinned = dy.features.training_set(
        probe, ref, project="fraud", source_versions={"transactions": 1}, client=client
    )
    assert isinstance(latest, pa.Table) and isinstance(pinned, pa.Table)
    assert same(latest["amount_sum_24h"][0].as_py(), after["amount_sum_24h"][0])
    assert same(pinned["amount_sum_24h"][0].as_py(), before["amount_sum_24h"][0])


def test_the_cli_defines_materializes_looks_up_and_builds(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = events(120, seed=3)
    csv = tmp_path / "tx.parquet"
    import pyarrow.parquet as pq

    pq.write_table(source, csv)
    assert run_cli(capsys, "data", "ingest", str(csv), "-d", "transactions", "-p", "fraud")[0] == 0
    definitions = tmp_path / "defs.py"
    definitions.write_text(
        "import dockyard as dy\n"
        "card = dy.Entity('card', keys=['card_hash'])\n"
        "card_activity = dy.FeatureView('card_activity', entities=[card], source='transactions',\n"
        "    timestamp='ts', features=[dy.Aggregate('amount', 'sum', window='24h'),\n"
        "    dy.Field('amount', name='last_amount')], ttl='30d')\n"
    )
    code, out, err = run_cli(capsys, "features", "apply", str(definitions), "-p", "fraud")
    assert code == 0, err
    assert "card_activity" in out and "created" in out
    code, out, _ = run_cli(capsys, "features", "apply", str(definitions), "-p", "fraud")
    assert code == 0 and "unchanged" in out
    code, out, _ = run_cli(capsys, "features", "materialize", "card_activity", "-p", "fraud")
    assert code == 0 and "120 events" in out
    code, out, _ = run_cli(capsys, "features", "materialize", "card_activity", "-p", "fraud")
    assert code == 0 and "up to date" in out
    code, out, _ = run_cli(capsys, "features", "list", "-p", "fraud")
    assert code == 0 and "card_activity" in out and "120" in out
    at = (max(source["ts"].to_pylist()) + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    code, out, err = run_cli(
        capsys,
        "features",
        "get",
        "card_activity:*",
        "-k",
        "card_hash=c1",
        "-k",
        "card_hash=zz",
        "--at",
        at,
        "-p",
        "fraud",
        "--json",
    )
    assert code == 0, err
    values = json.loads(out)["columns"]
    assert values["card_hash"] == ["c1", "zz"] and values["amount_sum_24h"][1] is None
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"card_hash": ["c1", "c2"], "ts": [at + "Z", at + "Z"]}).to_csv(
        labels, index=False
    )
    assert run_cli(capsys, "data", "ingest", str(labels), "-d", "labels", "-p", "fraud")[0] == 0
    code, out, err = run_cli(
        capsys,
        "features",
        "training-set",
        "labels@1",
        "-f",
        "card_activity:*",
        "-d",
        "train",
        "-p",
        "fraud",
    )
    assert code == 0, err
    assert "fraud/train@1: 2 rows" in out
    code, out, _ = run_cli(capsys, "features", "show", "card_activity", "-p", "fraud")
    assert code == 0 and "train@1" in out and "sum(amount) over 24h" in out
    code, out, err = run_cli(
        capsys, "features", "get", "nope:*", "-k", "card_hash=c1", "-p", "fraud"
    )
    assert code == 3 and "unknown feature view" in err
    code, _, err = run_cli(capsys, "features", "apply", str(tmp_path / "missing.py"), "-p", "fraud")
    assert code == 2 and "not a Python file" in err


def test_a_training_set_split_by_entity_over_an_executor(client: Client) -> None:
    source = events(400, seed=5)
    client.projects.create("fraud")
    client.datasets.ingest("fraud", "transactions", source)
    dy.features.apply([activity], project="fraud", client=client)
    labels = pa.table(
        {
            "card_hash": [f"c{i % 9}" for i in range(60)],  # c8 has no purchases
            "ts": pa.array(
                [T0 + dt.timedelta(minutes=71 * i) for i in range(60)],
                pa.timestamp("us", tz="UTC"),
            ),
            "amount": [float(i) for i in range(60)],
        }
    )
    features = [*REFS, amount_vs_mean]
    single = dy.features.training_set(labels, features, project="fraud", client=client)
    split = dy.features.training_set(
        labels, features, project="fraud", executor="inprocess", partitions=3, client=client
    )
    assert isinstance(single, pa.Table) and isinstance(split, pa.Table)
    assert split.schema == single.schema
    for name in single.column_names:
        pairs = zip(split[name].to_pylist(), single[name].to_pylist(), strict=True)
        assert all(same(a, b) for a, b in pairs), name
    with pytest.raises(InvalidInput, match="an executor needs partitions=N"):
        dy.features.training_set(labels, features, project="fraud", executor="ray", client=client)
    with pytest.raises(InvalidInput, match="partitions must be from 1 to"):
        dy.features.training_set(labels, features, project="fraud", partitions=0, client=client)


def test_the_cli_splits_a_training_set_over_ray(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], local_ray: None
) -> None:
    import pyarrow.parquet as pq

    source = events(200, seed=4)
    pq.write_table(source, tmp_path / "tx.parquet")
    assert (
        run_cli(capsys, "data", "ingest", str(tmp_path / "tx.parquet"), "-d", "tx", "-p", "f")[0]
        == 0
    )
    definitions = tmp_path / "defs.py"
    definitions.write_text(
        "import dockyard as dy\n"
        "card = dy.Entity('card', keys=['card_hash'])\n"
        "card_activity = dy.FeatureView('card_activity', entities=[card], source='tx',\n"
        "    timestamp='ts', features=[dy.Aggregate('amount', 'max', window='24h'),\n"
        "    dy.Field('amount', name='last_amount')], ttl='30d')\n"
    )
    assert run_cli(capsys, "features", "apply", str(definitions), "-p", "f")[0] == 0
    times = [T0 + dt.timedelta(hours=5 * i) for i in range(12)]
    labels = pa.table(
        {
            "card_hash": [f"c{i % 8}" for i in range(12)],
            "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
        }
    )
    pq.write_table(labels, tmp_path / "labels.parquet")
    assert (
        run_cli(
            capsys, "data", "ingest", str(tmp_path / "labels.parquet"), "-d", "labels", "-p", "f"
        )[0]
        == 0
    )
    build = ["features", "training-set", "labels@1", "-f", "card_activity:*", "-p", "f"]
    code, _, err = run_cli(capsys, *build, "-d", "one")
    assert code == 0, err
    code, out, err = run_cli(
        capsys, *build, "-d", "split", "--executor", "ray", "--partitions", "3"
    )
    assert code == 0, err
    assert "f/split@1: 12 rows" in out
    code, _, err = run_cli(capsys, *build, "-d", "split", "-e", "ray")
    assert code == 2 and "--executor ray needs --partitions N" in err
    with connect() as active:
        one = dy.DatasetHandle(active, "f", "one").version("latest").to_arrow()
        split = dy.DatasetHandle(active, "f", "split").version("latest").to_arrow()
    assert split.equals(one)  # max and a Field: exact
