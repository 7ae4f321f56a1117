"""Run artifacts through both transports on both databases; purge and GC free their blobs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import dockyard as dy
from dockyard.client.client import Client
from dockyard.core.errors import Conflict, InvalidInput, NotFound
from dockyard.services import Services


@pytest.fixture
def run_id(client: Client) -> str:
    client.projects.create("p")
    return client.runs.create("p").id


def test_files_and_folders(client: Client, run_id: str, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text("<h1>ok</h1>")
    plots = tmp_path / "plots"
    (plots / "sub").mkdir(parents=True)
    (plots / "roc.png").write_bytes(b"\x89PNG fake")
    (plots / "sub" / "data.json").write_text('{"a": 1}')
    client.runs.log_artifact(run_id, report)
    client.runs.log_artifact(run_id, plots)
    listed = {a.path: a for a in client.runs.artifacts(run_id)}
    assert sorted(listed) == ["plots/roc.png", "plots/sub/data.json", "report.html"]
    assert listed["report.html"].media_type == "text/html"
    assert listed["plots/roc.png"].media_type == "image/png"
    assert listed["report.html"].size == len("<h1>ok</h1>")
    assert [a.path for a in client.runs.artifacts(run_id, prefix="plots/sub")] == [
        "plots/sub/data.json"
    ]
    with client.runs.open_artifact(run_id, "plots/sub/data.json") as stream:
        assert stream.read() == b'{"a": 1}'
    written = client.runs.download_artifacts(run_id, tmp_path / "out", prefix="plots")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == [
        "plots/roc.png",
        "plots/sub/data.json",
    ]
    assert (tmp_path / "out" / "plots" / "roc.png").read_bytes() == b"\x89PNG fake"


def test_logging_a_path_again_replaces_it(client: Client, run_id: str, tmp_path: Path) -> None:
    file = tmp_path / "model.txt"
    file.write_text("v1")
    client.runs.log_artifact(run_id, file)
    file.write_text("v2")
    client.runs.log_artifact(run_id, file)
    (artifact,) = client.runs.artifacts(run_id)
    with client.runs.open_artifact(run_id, "model.txt") as stream:
        assert stream.read() == b"v2"
    assert artifact.size == 2


@pytest.mark.parametrize("path", ["../escape", "/abs", "a//b", "a/./b", "a/../b", "", "x" * 2000])
def test_bad_artifact_paths(client: Client, run_id: str, path: str) -> None:
    with pytest.raises(InvalidInput, match="artifact path"):
        client.runs.upload_artifact(run_id, path, io.BytesIO(b"x"))
    assert client.runs.artifacts(run_id) == []


def test_unknown_artifacts_and_runs(client: Client, run_id: str, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no artifact"):
        client.runs.open_artifact(run_id, "missing.txt")
    with pytest.raises(NotFound):
        client.runs.artifacts("f" * 32)
    with pytest.raises(InvalidInput, match="neither a file nor a folder"):
        client.runs.log_artifact(run_id, tmp_path / "nope")


def test_purge_then_gc_frees_the_blobs(
    client: Client, services: Services, run_id: str, tmp_path: Path
) -> None:
    file = tmp_path / "weights.bin"
    file.write_bytes(b"w" * 1000)
    (artifact,) = client.runs.log_artifact(run_id, file)
    child = client.runs.create("p", parent_id=run_id)
    client.runs.log_artifact(child.id, file, "copy.bin")
    assert client.gc(grace_seconds=0).blobs_deleted == 0
    with pytest.raises(Conflict, match="not deleted"):
        client.runs.purge(run_id)
    client.runs.delete(run_id)
    client.runs.purge(run_id)
    with pytest.raises(NotFound):
        client.runs.get(child.id)  # children go with their parent
    assert client.gc(grace_seconds=0).blobs_deleted == 1
    assert not services.blob_store.exists(artifact.digest)


def test_active_run_logs_artifacts(client: Client, tmp_path: Path) -> None:
    client.projects.create("p")
    (tmp_path / "notes.md").write_text("# notes")
    with dy.start_run("p", client=client, capture=dy.Capture.off()) as run:
        run.log_artifact(tmp_path / "notes.md", "docs/notes.md")
    assert [a.path for a in client.runs.artifacts(run.id)] == ["docs/notes.md"]
