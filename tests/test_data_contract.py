"""Datasets through both transports on both databases: versions, dedup, append, rules,
diff, lineage, deletion and GC, and bad input that leaves earlier versions intact."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dockyard as dy
from dockyard.client.client import Client
from dockyard.core.errors import InvalidInput, NotFound
from dockyard.sdk.data import DatasetHandle


def transactions(start: int, n: int) -> pd.DataFrame:
    ids = range(start, start + n)
    return pd.DataFrame(
        {
            "id": list(ids),
            "amount": [float(i % 97) * 3.5 for i in ids],
            "card": [f"c{i % 13}" for i in ids],
            "fraud": [i % 17 == 0 for i in ids],
        }
    )


@pytest.fixture
def ds(client: Client) -> DatasetHandle:
    return dy.dataset("transactions", project="fraud", client=client)


def test_issue_example(ds: DatasetHandle, client: Client) -> None:
    df = transactions(0, 1000)
    v = ds.add_version(df, message="October extract")
    assert (v.number, v.rows, v.info.created, v.info.status) == (1, 1000, True, "unchecked")
    assert [(c.name, c.type) for c in v.columns] == [
        ("id", "int64"),
        ("amount", "double"),
        ("card", "string"),
        ("fraud", "bool"),
    ]
    assert v.info.created_by and v.info.message == "October extract"
    picked = v.to_pandas(columns=["id", "amount"], filter="amount > 100")
    expected = df.loc[df.amount > 100, ["id", "amount"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(picked.sort_values("id").reset_index(drop=True), expected)
    assert v.to_arrow().num_rows == 1000
    assert sum(b.num_rows for b in v.iter_batches(batch_size=100)) == 1000
    assert v.to_duckdb().aggregate("count(*)").fetchall() == [(1000,)]
    assert ds.version("latest").number == ds.version(1).number == 1
    assert ds.version(f"sha256:{v.digest[:10]}").number == 1
    stats = {s.name: s for s in v.stats}
    assert stats["amount"].min == 0.0 and stats["amount"].max == 96 * 3.5
    assert stats["amount"].mean == pytest.approx(df.amount.mean())
    assert stats["card"].distinct == pytest.approx(13, abs=1)
    assert stats["id"].nulls == 0 and stats["id"].count == 1000
    info = ds.info()
    assert (info.versions, info.latest) == (1, 1)
    assert "<table>" in v._repr_html_()


def test_same_content_twice_is_one_version(ds: DatasetHandle, tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    transactions(0, 500).to_csv(csv, index=False)
    first = ds.add_version(csv)
    again = ds.add_version(str(csv), message="same file again")
    assert again.number == first.number == 1
    assert again.info.created is False
    assert len(ds.versions()) == 1


def test_append_shares_the_unchanged_files(ds: DatasetHandle, client: Client) -> None:
    day1 = ds.add_version(transactions(0, 300), message="day 1")
    day2 = ds.add_version(transactions(300, 200), append=True, message="day 2")
    assert (day2.number, day2.rows, day2.info.parents) == (2, 500, [1])
    assert [f.digest for f in day2.info.files[: len(day1.info.files)]] == [
        f.digest for f in day1.info.files
    ]
    assert sorted(day2.to_pandas(columns=["id"]).id) == list(range(500))
    diff = ds.diff(1, 2, key=["id"])
    assert diff.shared_files == len(day1.info.files)
    assert diff.rows == (300, 500)
    assert diff.row_diff is not None
    assert (diff.row_diff.added, diff.row_diff.removed, diff.row_diff.changed) == (200, 0, 0)
    # a schema that does not match is refused and changes nothing
    other = pd.DataFrame({"id": [1], "amount": ["not a number"], "card": ["c"], "fraud": [True]})
    with pytest.raises(InvalidInput, match="amount"):
        ds.add_version(other, append=True)
    assert ds.version("latest").number == 2


def test_diff_with_key_finds_added_removed_and_changed_rows(ds: DatasetHandle) -> None:
    base = transactions(0, 100)
    ds.add_version(base)
    target = base[base.id >= 10].copy()  # 10 removed
    target.loc[target.id == 50, "amount"] = -1.0  # 1 changed
    target = pd.concat([target, transactions(100, 5)])  # 5 added
    target["extra"] = 1  # a new column
    ds.add_version(target.reset_index(drop=True))
    diff = ds.diff(1, 2, key=["id"])
    assert [c.name for c in diff.schema_changes.added] == ["extra"]
    assert diff.row_diff is not None
    assert (diff.row_diff.added, diff.row_diff.removed, diff.row_diff.changed) == (5, 10, 1)
    assert diff.row_diff.unchanged == 89
    amount = next(c for c in diff.columns if c.name == "amount")
    assert amount.mean[0] == pytest.approx(base.amount.mean())
    with pytest.raises(InvalidInput, match="nope"):
        ds.diff(1, 2, key=["nope"])


RULES = [
    {"check": "column", "column": "amount", "type": "double"},
    {"check": "not_null", "column": "card"},
    {"check": "range", "column": "amount", "min": 0, "max": 1000},
    {"check": "unique", "columns": ["id"]},
    {"check": "row_count", "min": 10},
    {"check": "sql", "name": "cards look right", "expression": "card LIKE 'c%'"},
]


def test_a_version_failing_validation_never_becomes_latest(ds: DatasetHandle) -> None:
    ds.set_rules(RULES)
    good = ds.add_version(transactions(0, 100))
    assert good.info.status == "passed"
    assert good.validation is not None and good.validation.passed
    bad_df = transactions(100, 100)
    bad_df.loc[3, "amount"] = -5.0
    bad = ds.add_version(bad_df, message="has a negative amount")
    assert bad.info.status == "failed"
    assert bad.validation is not None
    failed = [r for r in bad.validation.results if not r.passed]
    assert [r.rule.check for r in failed] == ["range"]
    assert failed[0].failing_rows == 1
    assert ds.version("latest").number == good.number
    assert ds.info().latest == good.number
    assert ds.version(bad.number).info.status == "failed"  # still there, by number
    forced = ds.add_version(bad_df.assign(id=bad_df.id + 1000), force=True)
    assert forced.info.status == "failed" and forced.info.forced
    assert ds.version("latest").number == forced.number
    # rules changed: re-validate the old version
    ds.set_rules([{"check": "row_count", "max": 50}])
    report = ds.validate(good.number)
    assert report is not None and not report.passed
    assert ds.version(good.number).info.status == "failed"


def test_freshness_and_allowed_values(ds: DatasetHandle) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    df = pd.DataFrame(
        {"ts": [now - dt.timedelta(days=3), now - dt.timedelta(hours=1)], "kind": ["a", "b"]}
    )
    ds.set_rules(
        [
            {"check": "freshness", "column": "ts", "max_age": "1d"},
            {"check": "allowed_values", "column": "kind", "values": ["a", "b"]},
        ]
    )
    assert ds.add_version(df).info.status == "passed"
    stale = df.assign(ts=df.ts - dt.timedelta(days=5))
    assert ds.add_version(stale).info.status == "failed"


def test_lineage_records_runs_reading_and_writing_versions(client: Client) -> None:
    raw = dy.dataset("raw", project="fraud", client=client)
    raw.add_version(transactions(0, 50))
    with dy.start_run(project="fraud", client=client, capture=dy.Capture.off()) as run:
        df = raw.version("latest").to_pandas()
        features = dy.dataset("features", project="fraud", client=client)
        written = features.add_version(df.assign(big=df.amount > 100))
    assert written.info.run_id == run.id
    io = {(x.direction, x.label) for x in client.runs.io(run.id)}
    assert io == {("input", "fraud/raw@1"), ("output", "fraud/features@1")}
    graph = features.lineage(1, direction="upstream")
    labels = {n.id: n.label for n in graph.nodes}
    edges = {(labels[e.source], e.relation, labels[e.target]) for e in graph.edges}
    run_label = next(n.label for n in graph.nodes if n.kind == "run")
    assert edges == {
        ("fraud/raw@1", "read", run_label),
        (run_label, "wrote", "fraud/features@1"),
    }
    down = raw.lineage(1, direction="downstream")
    assert {n.label for n in down.nodes} == {"fraud/raw@1", run_label, "fraud/features@1"}
    assert raw.lineage(1, direction="upstream").edges == []


def test_delete_version_and_dataset_then_gc_frees_only_unshared_files(
    ds: DatasetHandle, client: Client
) -> None:
    ds.add_version(transactions(0, 100))
    ds.add_version(transactions(100, 100), append=True)  # shares version 1's file
    client.gc(grace_seconds=0)
    ds.delete_version(1)
    assert client.gc(grace_seconds=0).blobs_deleted == 0  # version 2 still uses it
    assert ds.version("latest").to_pandas().shape[0] == 200
    with pytest.raises(NotFound):
        ds.version(1)
    ds.delete()
    assert client.gc(grace_seconds=0).blobs_deleted == 2
    with pytest.raises(NotFound):
        ds.info()


def test_bad_files_get_clear_errors_and_leave_versions_intact(
    ds: DatasetHandle, tmp_path: Path
) -> None:
    ds.add_version(transactions(0, 10))
    broken = tmp_path / "broken.csv"
    broken.write_text("id,amount\n1,2.5\n2,3.5,extra\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("id,amount\n1,2.5\n" + "".join(f"{i},{i}.5\n" for i in range(2, 50)))
    with pytest.raises(InvalidInput):
        ds.add_version(broken)
    with pytest.raises(InvalidInput, match="empty"):
        ds.add_version(empty)
    with pytest.raises(InvalidInput):
        ds.add_version(tmp_path / "missing.csv")
    with pytest.raises(InvalidInput):
        ds.add_version(
            "s3://no-such-bucket-dockyard/x.csv",
            storage_options={
                "client_kwargs": {"endpoint_url": "http://127.0.0.1:9"},
                "anon": True,
                "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
            },
        )
    assert [v.number for v in ds.versions()] == [1]
    assert ds.version("latest").rows == 10


def test_bad_requests(ds: DatasetHandle, client: Client, tmp_path: Path) -> None:
    ds.add_version(transactions(0, 10))
    with pytest.raises(NotFound):
        dy.dataset("nope", project="fraud", client=client).version("latest")
    with pytest.raises(NotFound):
        ds.version(7)
    with pytest.raises(InvalidInput, match="version"):
        ds.version("seven")
    with pytest.raises(InvalidInput, match="not uploaded"):
        client.datasets.commit("fraud", "transactions", [{"digest": "0" * 64}])  # type: ignore[list-item]
    not_parquet = client.blobs.put(b"id,amount\n1,2\n")
    with pytest.raises(InvalidInput, match="Parquet"):
        client.datasets.commit(
            "fraud",
            "transactions",
            [{"digest": not_parquet.digest}],  # type: ignore[list-item]
        )
    with pytest.raises(InvalidInput):
        ds.set_rules([{"check": "sql", "expression": "1=1; DROP TABLE data"}])
    with pytest.raises(InvalidInput):
        ds.set_rules([{"check": "range", "column": "amount"}])
    with pytest.raises(InvalidInput):
        ds.set_rules([{"check": "no_such_check"}])
    with pytest.raises(InvalidInput):
        ds.version(1).to_pandas(filter="no_such_column > 1")
    # a rule that cannot be evaluated fails the version with a message, not a crash
    ds.set_rules([{"check": "sql", "expression": "no_such_column > 1"}])
    v = ds.add_version(transactions(0, 11))
    assert v.info.status == "failed"
    assert v.validation is not None and "no_such_column" in v.validation.results[0].message


def test_a_version_written_by_pyarrow_files(client: Client, tmp_path: Path) -> None:
    table = pa.table({"x": list(range(10)), "y": [str(i) for i in range(10)]})
    pq.write_table(table, tmp_path / "a.parquet")
    pq.write_table(table.slice(5), tmp_path / "b.parquet")
    ds = dy.dataset("parts", project="fraud", client=client)
    v = ds.add_version(str(tmp_path / "*.parquet"))
    assert v.rows == 15
    assert sorted(v.to_arrow(columns=["x"]).column("x").to_pylist()) == sorted(
        list(range(10)) + list(range(5, 10))
    )
