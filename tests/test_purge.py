"""Deletion is real end to end: deleted runs and experiments stay in the bin for the
retention period, purge erases them, and gc then frees their blobs (local folder and S3).
Dataset and model versions, and whole projects, free theirs the same way."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import s3fs
from sqlalchemy import update

import dockyard as dy
from cli_support import run_cli
from dockyard.client.client import Client
from dockyard.core.config import Settings
from dockyard.core.errors import Conflict, InvalidInput, NotFound
from dockyard.core.principal import local_principal
from dockyard.gc.service import GcRequest, PurgeRequest
from dockyard.projects.schemas import ProjectCreate
from dockyard.services import Services
from dockyard.store.tables import ExperimentRow, RunRow, utcnow
from dockyard.tracking.schemas import RunCreate

DAY = 86400


def _deleted_days_ago(services: Services, days: int) -> None:
    """Make everything in the bin look deleted ``days`` days ago."""
    when = utcnow() - dt.timedelta(days=days)

    def age(session: Any) -> None:
        session.execute(
            update(RunRow).where(RunRow.deleted_at.is_not(None)).values(deleted_at=when)
        )
        session.execute(
            update(ExperimentRow)
            .where(ExperimentRow.deleted_at.is_not(None))
            .values(deleted_at=when)
        )

    services.db.write(age)


def _artifact(client: Client, run_id: str, tmp_path: Path, content: bytes) -> str:
    source = tmp_path / f"{uuid.uuid4().hex}.bin"
    source.write_bytes(content)
    (artifact,) = client.runs.log_artifact(run_id, source)
    return artifact.digest


def test_deleted_runs_stay_restorable_until_the_retention_period_ends(
    client: Client, services: Services, tmp_path: Path
) -> None:
    client.projects.create("p")
    parent = client.runs.create("p")
    child = client.runs.create("p", parent_id=parent.id)
    kept = client.runs.create("p")
    doomed = [
        _artifact(client, parent.id, tmp_path, b"parent weights"),
        _artifact(client, child.id, tmp_path, b"child weights"),
    ]
    alive = _artifact(client, kept.id, tmp_path, b"kept weights")
    client.runs.delete(parent.id)

    early = client.purge_deleted()  # default retention: 30 days
    assert (early.runs_purged, early.experiments_purged) == (0, 0)
    assert client.gc(grace_seconds=0).blobs_deleted == 0
    client.runs.restore(parent.id)  # still in the bin
    client.runs.delete(parent.id)

    _deleted_days_ago(services, 31)
    dry = client.purge_deleted(dry_run=True)
    assert (dry.dry_run, dry.runs_purged) == (True, 1)
    assert client.runs.get(parent.id).deleted
    report = client.purge_deleted()
    assert report.runs_purged == 1
    assert report.refs_dropped >= 1  # the child's, gone with its parent
    for run_id in (parent.id, child.id):
        with pytest.raises(NotFound):
            client.runs.get(run_id)
    freed = client.gc(grace_seconds=0)
    assert freed.blobs_deleted == 2
    assert [services.blob_store.exists(d) for d in doomed] == [False, False]
    assert client.blobs.get(alive) == b"kept weights"


def test_purge_with_no_retention_erases_deleted_experiments(
    client: Client, services: Services, tmp_path: Path
) -> None:
    client.projects.create("p")
    client.experiments.create("p", "trials")
    run = client.runs.create("p", experiment="trials")
    digest = _artifact(client, run.id, tmp_path, b"trial output")
    client.experiments.delete("p", "trials")
    report = client.purge_deleted(older_than_seconds=0)
    assert (report.experiments_purged, report.runs_purged) == (1, 0)
    with pytest.raises(NotFound):
        client.runs.get(run.id)
    assert client.gc(grace_seconds=0).blobs_deleted == 1
    assert not services.blob_store.exists(digest)


def test_deleting_a_project_frees_all_its_blobs(
    client: Client, services: Services, tmp_path: Path
) -> None:
    client.projects.create("p")
    run = client.runs.create("p")
    artifact = _artifact(client, run.id, tmp_path, b"project artifact")
    version = dy.dataset("d", project="p", client=client).add_version(
        pd.DataFrame({"x": range(100)})
    )
    client.projects.delete("p")
    assert client.gc(grace_seconds=0).blobs_deleted == 0  # their references remain
    report = client.purge_deleted()
    assert report.refs_dropped >= 2
    assert client.gc(grace_seconds=0).blobs_deleted == 2
    for digest in (artifact, version.info.files[0].digest):
        assert not services.blob_store.exists(digest)


def test_deleted_dataset_and_model_versions_are_freed(
    client: Client, services: Services, tmp_path: Path
) -> None:
    ds = dy.dataset("d", project="p", client=client)
    first = ds.add_version(pd.DataFrame({"x": range(100)}))
    ds.add_version(pd.DataFrame({"x": range(200)}))
    ds.delete_version(first.number)
    assert client.gc(grace_seconds=0).blobs_deleted == 1
    assert not services.blob_store.exists(first.info.files[0].digest)


def test_purge_refuses_bad_input(client: Client) -> None:
    with pytest.raises(InvalidInput, match="older_than_seconds"):
        client.purge_deleted(older_than_seconds=-1)
    client.projects.create("p")
    run = client.runs.create("p")
    with pytest.raises(Conflict, match="not deleted"):
        client.runs.purge(run.id)


@pytest.mark.s3
def test_purge_and_gc_free_s3(tmp_path: Path, s3_server: dict[str, Any]) -> None:
    prefix = f"s3://{s3_server['bucket']}/{uuid.uuid4().hex}"
    settings = Settings(home=tmp_path, db=f"sqlite:///{tmp_path / 'm.db'}", blobs=prefix)
    services = Services.open(settings, blob_options=s3_server["options"])
    who = local_principal()
    try:
        services.projects.create(who, ProjectCreate(name="p"))
        run = services.runs.create(who, RunCreate(project="p"))
        kept = services.runs.create(who, RunCreate(project="p"))
        doomed = services.artifacts.upload(who, run.id, io.BytesIO(b"on s3, doomed"), "a").digest
        alive = services.artifacts.upload(who, kept.id, io.BytesIO(b"on s3, kept"), "a").digest
        services.runs.delete(who, run.id)
        _deleted_days_ago(services, 31)
        assert services.gc.purge(who, PurgeRequest()).runs_purged == 1
        assert services.gc.collect(who, GcRequest(grace_seconds=0)).blobs_deleted == 1
        fs = s3fs.S3FileSystem(**s3_server["options"], skip_instance_cache=True)
        stored = [path.rsplit("/", 1)[-1] for path in fs.find(prefix)]
        assert stored == [alive]
        assert doomed not in stored
    finally:
        services.close()


def test_cli_purge_and_gc(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with dy.connect(home=home) as client:
        client.projects.create("p")
        run = client.runs.create("p")
        kept = client.runs.create("p")
        digest = _artifact(client, run.id, tmp_path, b"cli doomed")
        client.runs.delete(kept.id)

    code, _out, err = run_cli(capsys, "runs", "purge", run.id, "--yes")
    assert code == 4 and "not deleted" in err and "Traceback" not in err
    code, out, _err = run_cli(capsys, "runs", "delete", run.id)
    assert code == 0
    code, out, _err = run_cli(capsys, "runs", "purge", run.id, "--yes")
    assert code == 0 and "purged 1 run" in out

    # gc keeps the bin's recent content by default, and frees what purge released
    code, out, _err = run_cli(capsys, "gc", "--grace", "0s", "--json")
    assert code == 0
    assert '"blobs_deleted": 1' in out and '"runs_purged": 0' in out
    with dy.connect(home=home) as client:
        assert client.runs.get(kept.id).deleted
        with pytest.raises(NotFound):
            client.blobs.info(digest)
    code, out, _err = run_cli(capsys, "gc", "--grace", "0s", "--purge-deleted-older-than", "0s")
    assert code == 0 and "purged 1 runs" in out
    code, _out, err = run_cli(capsys, "gc", "--purge-deleted-older-than", "soon")
    assert code == 2 and "not a duration" in err
