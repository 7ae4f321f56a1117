"""The feature service through both transports on both databases: versioned definitions,
materialization, online lookups, pushes that also extend the source, and bad input."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pyarrow as pa
import pytest

import dockyard as dy
from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings
from dockyard.core.errors import InvalidInput, NotFound
from dockyard.features import service as feature_service

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)

card = dy.Entity("card", keys=["card_hash"])


def activity(**changes: Any) -> dy.FeatureView:
    spec: dict[str, Any] = {
        "entities": [card],
        "source": "transactions",
        "timestamp": "ts",
        "features": [
            dy.Aggregate("amount", "sum", window="24h"),
            dy.Aggregate("amount", "count", window="24h"),
            dy.Field("amount", name="last_amount"),
        ],
        "ttl": "30d",
    }
    spec.update(changes)
    return dy.FeatureView("card_activity", **spec)


def transactions(rows: list[tuple[str, dt.datetime, float]]) -> pa.Table:
    return pa.table(
        {
            "card_hash": pa.array([r[0] for r in rows], pa.string()),
            "ts": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
            "amount": pa.array([r[2] for r in rows], pa.float64()),
        }
    )


@pytest.fixture
def project(client: Client) -> str:
    name = client.projects.create("fraud").name
    client.datasets.ingest(
        name,
        "transactions",
        transactions([("c1", T0, 10.0), ("c1", T0 + HOUR, 5.0), ("c2", T0 + HOUR, 7.0)]),
    )
    return name


def apply(client: Client, project: str, *objects: Any) -> Any:
    entities = [o.canonical() for o in objects if isinstance(o, dy.Entity)]
    views = [o.canonical() for o in objects if isinstance(o, dy.FeatureView)]
    return client.features.apply(project, entities=entities, views=views)


def test_apply_versions_only_what_changed(client: Client, project: str) -> None:
    first = apply(client, project, card, activity())
    assert [(i.kind, i.name, i.version, i.status) for i in first.items] == [
        ("entity", "card", 1, "created"),
        ("view", "card_activity", 1, "created"),
    ]
    again = apply(client, project, card, activity())
    assert [i.status for i in again.items] == ["unchanged", "unchanged"]
    changed = apply(client, project, activity(ttl="7d"))
    (item,) = changed.items
    assert (item.version, item.status, item.changes) == (2, "changed", ["ttl: 30d -> 7d"])
    versions = client.features.view_versions(project, "card_activity")
    assert [v.version for v in versions] == [2, 1]
    assert versions[0].fingerprint == activity(ttl="7d").fingerprint()
    info = client.features.view(project, "card_activity")
    assert (info.version, info.keys, info.source) == (2, ["card_hash"], "transactions")
    assert info.features == ["amount_sum_24h", "amount_count_24h", "last_amount"]
    assert [e.name for e in client.features.entities(project)] == ["card"]


def test_a_feature_cannot_change_its_kind_of_values_under_one_name(
    client: Client, project: str
) -> None:
    apply(client, project, activity())
    renamed = activity(
        features=[dy.Aggregate("amount", "sum", window="24h", name="amount_count_24h")]
    )
    with pytest.raises(InvalidInput, match=r"amount_count_24h.*integer to float.*another name"):
        apply(client, project, renamed)
    with pytest.raises(InvalidInput, match="key columns"):
        apply(client, project, activity(entities=[dy.Entity("card", keys=["card_id"])]))
    assert client.features.view(project, "card_activity").version == 1  # nothing stored


def test_materialize_then_look_up_then_push(client: Client, project: str) -> None:
    apply(client, project, card, activity())
    report = client.features.materialize(project, "card_activity")
    assert (report.events, report.parts, report.source_version) == (3, 1, 1)
    assert client.features.materialize(project, "card_activity").events == 0  # idempotent
    at = T0 + 2 * HOUR
    values = client.features.online(
        project, {"card_hash": ["c1", "c2", "nobody"]}, ["card_activity:*"], at=at
    ).columns
    assert values == {
        "card_hash": ["c1", "c2", "nobody"],
        "amount_sum_24h": [15.0, 7.0, None],
        "amount_count_24h": [2, 1, 0],
        "last_amount": [5.0, 7.0, None],
    }
    pushed = client.features.push(
        project,
        "card_activity",
        {
            "card_hash": ["c1"],
            "ts": [(T0 + 90 * dt.timedelta(minutes=1)).isoformat()],
            "amount": [100.0],
        },
    )
    assert (pushed.events, pushed.source_version) == (1, 2)
    after = client.features.online(
        project, {"card_hash": ["c1"]}, ["card_activity:amount_sum_24h"], at=at
    ).columns
    assert after["amount_sum_24h"] == [115.0]
    # the push went to the source too, and a materialization does not count it again
    assert client.datasets.version(project, "transactions", "latest").rows == 4
    assert client.features.materialize(project, "card_activity").events == 0
    again = client.features.online(
        project, {"card_hash": ["c1"]}, ["card_activity:amount_sum_24h"], at=at
    ).columns
    assert again["amount_sum_24h"] == [115.0]
    info = client.features.view(project, "card_activity")
    assert info.online is not None and info.online.events == 4 and info.online.parts == 2
    assert info.materialization is not None and info.materialization.source_version == 2


def test_lookups_follow_a_changed_definition_at_once(client: Client, project: str) -> None:
    """The server keeps the definitions between lookups, keyed on the versions the
    metadata says are current: a new version is used by the very next lookup."""
    apply(client, project, card, activity())
    client.features.materialize(project, "card_activity")
    at = T0 + 2 * HOUR
    first = client.features.online(project, {"card_hash": ["c1"]}, ["card_activity:*"], at=at)
    assert list(first.columns) == ["card_hash", "amount_sum_24h", "amount_count_24h", "last_amount"]
    apply(client, project, activity(features=[dy.Aggregate("amount", "max", window="24h")]))
    with pytest.raises(NotFound, match="has no feature 'amount_sum_24h'"):
        client.features.online(project, {"card_hash": ["c1"]}, ["card_activity:amount_sum_24h"])
    with pytest.raises(InvalidInput, match="another definition"):
        client.features.online(project, {"card_hash": ["c1"]}, ["card_activity:*"], at=at)
    client.features.materialize(project, "card_activity", reset=True)
    project_id = client.projects.get(project).id  # a project named by its id: the same values
    for ref in (project, project_id):
        after = client.features.online(ref, {"card_hash": ["c1"]}, ["card_activity:*"], at=at)
        assert after.columns == {"card_hash": ["c1"], "amount_max_24h": [10.0]}


def test_a_retried_push_adds_nothing(client: Client, project: str) -> None:
    apply(client, project, card, activity())
    client.features.materialize(project, "card_activity")
    events = {"card_hash": ["c2"], "ts": [int((T0 + 2 * HOUR).timestamp() * 1e6)], "amount": [1.0]}
    assert client.features.push(project, "card_activity", events).events == 1
    assert client.features.push(project, "card_activity", events).events == 0
    assert client.datasets.version(project, "transactions", "latest").rows == 4


def test_bad_lookups_and_pushes_say_what_to_fix(client: Client, project: str) -> None:
    apply(client, project, card, activity())
    client.features.materialize(project, "card_activity")
    with pytest.raises(NotFound, match="no feature view 'nope'"):
        client.features.materialize(project, "nope")
    with pytest.raises(NotFound, match="has no feature 'nope'"):
        client.features.online(project, {"card_hash": ["c1"]}, ["card_activity:nope"])
    with pytest.raises(InvalidInput, match="key column"):
        client.features.online(project, {"card": ["c1"]}, ["card_activity:*"])
    with pytest.raises(InvalidInput, match="missing \\['amount'\\]"):
        client.features.push(project, "card_activity", {"card_hash": ["c1"], "ts": [0]})
    with pytest.raises(InvalidInput, match="does not fit"):
        client.features.push(
            project, "card_activity", {"card_hash": ["c1"], "ts": ["soon"], "amount": [1.0]}
        )
    late = (T0 - 5 * HOUR).isoformat()
    with pytest.raises(InvalidInput, match="lateness"):
        client.features.push(
            project, "card_activity", {"card_hash": ["c1"], "ts": [late], "amount": [1.0]}
        )
    assert client.datasets.version(project, "transactions", "latest").rows == 3  # nothing written
    with pytest.raises(InvalidInput, match="not valid"):
        client.features.apply(project, views=[{**activity().canonical(), "ttl": "soon"}])
    with pytest.raises(InvalidInput, match="nothing to apply"):
        client.features.apply(project)


def test_on_demand_features_are_stored_as_descriptions_and_never_run_here(
    client: Client, project: str
) -> None:
    def ratio(amount: float, total: float | None) -> float | None:
        return None if not total else amount / total

    share = dy.OnDemand("amount_share", ratio, inputs=["amount", "card_activity:amount_sum_24h"])
    view = activity(features=[*activity().features, share])
    apply(client, project, card, view)
    stored = client.features.view_versions(project, "card_activity")[0].definition
    assert stored["features"][-1]["function"].endswith("ratio")
    assert (
        client.features.view_versions(project, "card_activity")[0].fingerprint == view.fingerprint()
    )
    client.features.materialize(project, "card_activity")
    with pytest.raises(InvalidInput, match="on-demand feature"):
        client.features.online(project, {"card_hash": ["c1"]}, ["card_activity:amount_share"])
    # the stored features of the view still answer
    values = client.features.online(project, {"card_hash": ["c1"]}, ["card_activity:*"])
    assert "amount_share" not in values.columns


def test_training_sets_are_recorded_with_their_recipe(client: Client, project: str) -> None:
    apply(client, project, card, activity())
    labels = client.datasets.ingest(
        project, "labels", pa.table({"card_hash": ["c1"], "ts": pa.array([T0 + 2 * HOUR])})
    )
    built = client.datasets.ingest(project, "train", pa.table({"x": [1.0]}))
    recorded = client.features.record_training_set(
        project,
        dataset="train",
        version=built.number,
        labels=labels.ref,
        features=["card_activity:*"],
        views={"card_activity": 1},
        sources={"transactions": 1},
    )
    assert (recorded.dataset, recorded.version, recorded.views) == (
        "train",
        1,
        {"card_activity": 1},
    )
    assert [t.dataset for t in client.features.training_sets(project, view="card_activity")] == [
        "train"
    ]
    assert client.features.training_sets(project, view="other") == []
    with pytest.raises(NotFound):
        client.features.record_training_set(
            project,
            dataset="train",
            version=1,
            labels=labels.ref,
            features=["x:y"],
            views={"card_activity": 9},
            sources={},
        )


def test_lookups_see_a_definition_applied_by_another_process(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lookups check the definitions at most every RECHECK_SECONDS; one naming a feature the
    kept definitions lack checks at once, and the others follow within that time."""
    monkeypatch.setattr(feature_service, "RECHECK_SECONDS", 0.5)
    reader, writer = connect_with(settings), connect_with(settings)  # two services
    try:
        name = writer.projects.create("fraud").name
        writer.datasets.ingest(
            name, "transactions", transactions([("c1", T0, 10.0), ("c1", T0 + HOUR, 5.0)])
        )
        apply(writer, name, card, activity())
        writer.features.materialize(name, "card_activity")
        at = T0 + 2 * HOUR
        keys = {"card_hash": ["c1"]}
        before = reader.features.online(name, keys, ["card_activity:*"], at=at)
        assert "amount_sum_24h" in before.columns

        apply(writer, name, activity(features=[dy.Aggregate("amount", "max", window="24h")]))
        writer.features.materialize(name, "card_activity", reset=True)
        # a feature only the new definition has: the reader checks again at once
        new = reader.features.online(name, keys, ["card_activity:amount_max_24h"], at=at)
        assert new.columns["amount_max_24h"] == [10.0]
        time.sleep(0.6)
        # and a feature the new definition dropped is refused after the recheck time
        with pytest.raises(NotFound, match="has no feature 'amount_sum_24h'"):
            reader.features.online(name, keys, ["card_activity:amount_sum_24h"], at=at)
    finally:
        reader.close()
        writer.close()
