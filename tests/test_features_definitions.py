"""Feature definitions: default names, validation, canonical form and fingerprints."""

from __future__ import annotations

import pytest

from dockyard.core.errors import InvalidInput
from dockyard.features import Aggregate, Entity, FeatureView, Field, OnDemand
from dockyard.features.durations import parse_duration
from dockyard.features.errors import InvalidDefinition

CARD = Entity("card", keys=["card_hash"])


def view(**changes: object) -> FeatureView:
    fields: dict[str, object] = {
        "entities": [CARD],
        "source": "transactions",
        "timestamp": "ts",
        "features": [Aggregate("amount", "sum", window="24h")],
    }
    fields.update(changes)
    return FeatureView("card_activity", **fields)  # type: ignore[arg-type]


def test_default_names() -> None:
    assert Aggregate("amount", "sum", window="24h").name == "amount_sum_24h"
    assert Aggregate("transaction_id", "count", window="1h").name == "transaction_id_count_1h"
    assert Aggregate("amount", "mean").name == "amount_mean_all"
    assert Field("amount").name == "amount"
    assert Field("amount", name="last_amount").name == "last_amount"


@pytest.mark.parametrize(
    ("text", "micros"),
    [("90s", 90_000_000), ("15m", 900_000_000), ("1h", 3_600_000_000), ("7d", 604_800_000_000)],
)
def test_durations(text: str, micros: int) -> None:
    assert parse_duration(text) == micros


@pytest.mark.parametrize("text", ["", "1", "h", "0h", "-1h", "1.5h", "1 h", "1y", "24h\n"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(InvalidDefinition, match="is not a duration: write a positive whole"):
        Aggregate("amount", "sum", window=text)


def test_bucket_derivation_and_override() -> None:
    v = view(
        features=[Aggregate("amount", "sum", window="24h"), Aggregate("amount", "max", window="1h")]
    )
    assert v.bucket_us(v.features[0]) == 3_600_000_000  # type: ignore[arg-type]
    assert v.bucket_us(v.features[1]) == 150_000_000  # type: ignore[arg-type]
    assert view(bucket="5m").bucket_us(Aggregate("amount", "sum", window="24h")) == 300_000_000
    with pytest.raises(InvalidDefinition, match="not a whole number of buckets"):
        view(bucket="7m")
    with pytest.raises(InvalidDefinition, match="set bucket= on the view"):
        view(features=[Aggregate("amount", "sum", window="1s")])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Aggregate("amount", "median"), "fn"),
        (lambda: Aggregate("amount", "max", available_at="known_at"), "available_at works with"),
        (lambda: Aggregate("amount", "std", available_at="known_at"), "not 'std'"),
        (lambda: Entity("card", keys=[]), "keys"),
        (lambda: Entity("bad name", keys=["k"]), "not a valid name"),
        (lambda: Entity("card", keys=["k", "k"]), "repeat"),
        (lambda: view(features=[Field("a"), Field("a")]), "feature names repeat"),
        (lambda: view(timestamp="card_hash"), "also a key column"),
        (lambda: view(features=[Field("card_hash")]), "reads the key column"),
        (lambda: view(features=[Field("__secret")]), "reserved"),
        (lambda: view(ttl="forever"), "not a duration"),
        (lambda: view(features=[]), "features"),
    ],
)
def test_invalid_definitions_are_4xx_errors_that_say_what_to_fix(
    make: object, message: str
) -> None:
    with pytest.raises(InvalidDefinition, match=message) as caught:
        make()  # type: ignore[operator]
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.http_status == 422


def test_fingerprint_tracks_every_part_of_a_definition() -> None:
    base = view()
    assert base.fingerprint() == view().fingerprint()
    assert base.canonical_json() == view().canonical_json()
    others = [
        view(ttl="30d"),
        view(bucket="1h"),
        view(lateness="1h"),
        view(source="payments"),
        view(features=[Aggregate("amount", "sum", window="12h")]),
        view(features=[Aggregate("amount", "mean", window="24h")]),
        view(entities=[Entity("card", keys=["card_id"])]),
    ]
    prints = {base.fingerprint(), *(o.fingerprint() for o in others)}
    assert len(prints) == len(others) + 1
    assert Aggregate("amount", "sum").fingerprint() != Aggregate("amount", "mean").fingerprint()


def test_on_demand_records_its_function_by_name_and_source_digest_only() -> None:
    def zscore(amount: float, mean: float) -> float:
        return amount - mean

    feature = OnDemand("amount_z", zscore, inputs=["amount", "card_activity:amount_mean_all"])
    body = feature.canonical()
    assert body["function"].endswith("zscore")
    assert len(body["source_sha256"]) == 64
    assert "fn" not in body
    assert feature.request_inputs == ["amount"]
    assert feature.feature_inputs == ["card_activity:amount_mean_all"]
    renamed = OnDemand(
        "amount_z", lambda a, m: a - m, inputs=["amount", "card_activity:amount_mean_all"]
    )
    assert renamed.fingerprint() != feature.fingerprint()
