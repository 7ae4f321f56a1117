"""A flipped bit in a stored blob is refused on every read path, cleanly, leaving nothing.

Each test stores something, flips one bit of the stored blob file (or S3 object), and
reads it back the way users do: artifact download (embedded and over HTTP, SDK and CLI),
dataset reads (pandas, Arrow, DuckDB, ``data download``), the table preview, model
loading, the blob API (what pipeline step values are read through), and a raw HTTP GET.
Every one must raise :class:`CorruptBlob` (a :class:`DigestMismatch`), answer 409 over
HTTP, make the CLI exit non-zero with a message and no traceback, and leave no file or
``.part`` behind.
"""

from __future__ import annotations

import importlib.util
import io
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import s3fs
from sklearn.linear_model import LogisticRegression

import dockyard as dy
from cli_support import run_cli
from dockyard.blobs.store import DIGEST_HEADER, blob_key
from dockyard.client.client import Client, connect_with
from dockyard.client.inprocess import InProcessTransport
from dockyard.core.config import Settings
from dockyard.core.errors import CorruptBlob, DigestMismatch
from dockyard.core.principal import local_principal
from dockyard.server.app import create_app
from dockyard.server.runner import RunningServer, serve_in_thread
from dockyard.services import Services

OFF = dy.Capture.off()
PAYLOAD = bytes(range(256)) * 64  # 16 KiB


def flip(services: Services, digest: str) -> None:
    """Flip one bit in the middle of the stored blob file, in place."""
    path = services.blob_store.backend.disk_path(blob_key(digest))  # type: ignore[attr-defined]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def files_under(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def table_frame(n: int = 500) -> pd.DataFrame:
    return pd.DataFrame({"id": range(n), "amount": [i * 1.5 for i in range(n)]})


@pytest.fixture
def run_id(client: Client) -> str:
    client.projects.create("p")
    return client.runs.create("p").id


def _artifact(client: Client, run_id: str, tmp_path: Path, name: str, data: bytes) -> str:
    source = tmp_path / "src" / name
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    (artifact,) = client.runs.log_artifact(run_id, source)
    return artifact.digest


# --- artifacts ------------------------------------------------------------------------------


def test_artifact_download(client: Client, services: Services, run_id: str, tmp_path: Path) -> None:
    digest = _artifact(client, run_id, tmp_path, "weights.bin", PAYLOAD)
    out = tmp_path / "out"
    assert client.runs.download_artifact(run_id, "weights.bin", out / "a.bin").read_bytes() == (
        PAYLOAD
    )  # read once intact: a verified file must be hashed again once it changes
    (out / "a.bin").unlink()
    flip(services, digest)
    with pytest.raises(CorruptBlob, match=digest):
        client.runs.download_artifact(run_id, "weights.bin", out / "a.bin")
    assert files_under(out) == []
    with pytest.raises(CorruptBlob), client.runs.open_artifact(run_id, "weights.bin") as stream:
        stream.read()
    with pytest.raises(CorruptBlob):
        client.runs.download_artifacts(run_id, tmp_path / "all")
    assert files_under(tmp_path / "all") == []


def test_table_preview(client: Client, services: Services, run_id: str, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    table_frame().to_parquet(buffer)
    digest = _artifact(client, run_id, tmp_path, "rows.parquet", buffer.getvalue())
    assert client.runs.preview_table(run_id, "rows.parquet", limit=5).rows
    flip(services, digest)
    with pytest.raises(CorruptBlob):
        client.runs.preview_table(run_id, "rows.parquet", limit=5)


# --- the blob API (pipeline step values are read through it) --------------------------------


def test_blob_reads(client: Client, services: Services, tmp_path: Path) -> None:
    info = client.blobs.put(PAYLOAD)
    assert client.blobs.get(info.digest) == PAYLOAD
    flip(services, info.digest)
    with pytest.raises(CorruptBlob):
        client.blobs.get(info.digest)
    with pytest.raises(CorruptBlob):
        client.blobs.download(info.digest, tmp_path / "out" / "blob")
    with pytest.raises(CorruptBlob):
        client.blobs.local_copy(info.digest, tmp_path / "cache")
    assert files_under(tmp_path / "out") == []
    assert files_under(tmp_path / "cache") == []


def test_blob_get_over_http_is_a_409_before_any_byte(
    services: Services, server: RunningServer
) -> None:
    digest = services.blob_store.put_bytes(PAYLOAD).digest
    url = f"{server.url}/api/v1/blobs/{digest}"
    ok = httpx.get(url)
    assert ok.status_code == 200 and ok.headers[DIGEST_HEADER] == f"sha256:{digest}"
    flip(services, digest)
    refused = httpx.get(url)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "corrupt_blob"
    assert digest in refused.json()["error"]["message"]


# --- datasets -------------------------------------------------------------------------------


def test_dataset_reads(client: Client, services: Services) -> None:
    version = dy.dataset("t", project="p", client=client).add_version(table_frame())
    (stored,) = version.info.files
    flip(services, stored.digest)
    fresh = dy.dataset("t", project="p", client=client).version(1)
    for read in (fresh.to_pandas, fresh.to_arrow, fresh.to_duckdb, fresh.to_polars):
        with pytest.raises(CorruptBlob):
            read()


def test_an_embedded_dataset_read_rehashes_a_file_changed_since_verified(
    services: Services,
) -> None:
    with connect_with(services.settings) as client:
        version = dy.dataset("t", project="p", client=client).add_version(table_frame())
        assert len(version.to_pandas()) == 500  # verified once; reads are free from now on
        flip(services, version.info.files[0].digest)
        with pytest.raises(CorruptBlob):
            version.to_pandas()
        with pytest.raises(CorruptBlob):
            version.to_duckdb().fetchall()


def test_a_damaged_client_cache_copy_is_fetched_again(
    services: Services, server: RunningServer, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "client", db="", blobs="", url=server.url)
    with connect_with(settings) as client:
        version = dy.dataset("t", project="p", client=client).add_version(table_frame())
        expected = version.to_pandas()
        (cached,) = version.files()
        data = bytearray(cached.read_bytes())
        data[len(data) // 2] ^= 0x01
        cached.write_bytes(bytes(data))
        again = dy.dataset("t", project="p", client=client).version(1)
        pd.testing.assert_frame_equal(again.to_pandas(), expected)


# --- models ---------------------------------------------------------------------------------


def test_model_load(client: Client, services: Services) -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=100), "b": rng.normal(size=100)})
    y = (x.a > 0).to_numpy().astype(int)
    with dy.start_run(project="p", client=client, capture=OFF) as run:
        dy.log_model(LogisticRegression().fit(x, y), "model", input_example=x.head())
    mv = dy.register_model(run, "model", name="m", client=client)
    weights = next(f for f in mv.manifest.files if f.path.endswith(".skops"))
    flip(services, weights.digest)
    with pytest.raises(DigestMismatch):
        dy.load_model("models:/m/1", client=client)
    cache = client.settings.home / "cache" / "models"
    assert not [p for p in cache.rglob("*.part")] if cache.exists() else True


# --- the CLI --------------------------------------------------------------------------------


@pytest.fixture(params=["embedded", "http"])
def cli_target(
    request: pytest.FixtureRequest, services: Services, tmp_path: Path
) -> Iterator[list[str]]:
    """Global CLI options reaching ``services`` embedded, or through a server."""
    if request.param == "embedded":
        s = services.settings
        yield ["--home", str(tmp_path / "cli"), "--db", s.db, "--blobs", s.blobs]
        return
    running = serve_in_thread(create_app(services=services))
    yield ["--home", str(tmp_path / "cli"), "--url", running.url]
    running.stop()


def test_cli_downloads(
    cli_target: list[str],
    services: Services,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with connect_with(services.settings) as client:
        client.projects.create("p")
        run_id = client.runs.create("p").id
        digest = _artifact(client, run_id, tmp_path, "weights.bin", PAYLOAD)
        version = dy.dataset("t", project="p", client=client).add_version(table_frame())
    flip(services, digest)
    flip(services, version.info.files[0].digest)

    dest = tmp_path / "artifacts"
    code, _out, err = run_cli(capsys, *cli_target, "runs", "download", run_id, "--dest", str(dest))
    assert code != 0 and "corrupt" in err and "Traceback" not in err
    assert files_under(dest) == []

    for target in (tmp_path / "data", tmp_path / "data.csv", tmp_path / "data.parquet"):
        code, _out, err = run_cli(
            capsys, *cli_target, "data", "download", "t", "-p", "p", "--dest", str(target)
        )
        assert code != 0 and "corrupt" in err and "Traceback" not in err
        assert not target.exists() or files_under(target) == []
    assert not list((tmp_path / "cli").rglob("*.part"))


# --- S3: the server cannot know before it streams -------------------------------------------


@pytest.fixture
def s3_services(tmp_path: Path, s3_server: dict[str, Any]) -> Iterator[Services]:
    prefix = f"s3://{s3_server['bucket']}/{uuid.uuid4().hex}"
    settings = Settings(home=tmp_path / "srv", db=f"sqlite:///{tmp_path / 'm.db'}", blobs=prefix)
    opened = Services.open(settings, blob_options=s3_server["options"])
    yield opened
    opened.close()


def flip_s3(services: Services, s3_server: dict[str, Any], digest: str) -> None:
    fs = s3fs.S3FileSystem(**s3_server["options"], skip_instance_cache=True)
    path = f"{services.settings.blobs.removeprefix('s3://')}/{blob_key(digest)}"
    data = bytearray(fs.cat_file(path))
    data[len(data) // 2] ^= 0x01
    fs.pipe_file(path, bytes(data))


@pytest.mark.s3
def test_s3_reads(s3_services: Services, s3_server: dict[str, Any], tmp_path: Path) -> None:
    running = serve_in_thread(create_app(services=s3_services))
    try:
        remote = connect_with(Settings(home=tmp_path / "c", db="", blobs="", url=running.url))
        remote.projects.create("p")
        run_id = remote.runs.create("p").id
        digest = _artifact(remote, run_id, tmp_path, "weights.bin", PAYLOAD)
        buffer = io.BytesIO()
        table_frame().to_parquet(buffer)
        table = _artifact(remote, run_id, tmp_path, "rows.parquet", buffer.getvalue())
        version = dy.dataset("t", project="p", client=remote).add_version(table_frame())
        for d in (digest, table, version.info.files[0].digest):
            flip_s3(s3_services, s3_server, d)

        out = tmp_path / "out"
        with pytest.raises(CorruptBlob, match=digest):  # the body streamed, the client refuses
            remote.runs.download_artifact(run_id, "weights.bin", out / "w.bin")
        with pytest.raises(CorruptBlob):
            remote.blobs.get(digest)
        with pytest.raises(CorruptBlob):
            remote.runs.preview_table(run_id, "rows.parquet")
        with pytest.raises(CorruptBlob):
            dy.dataset("t", project="p", client=remote).version(1).to_pandas()
        assert files_under(out) == []
        assert not list((tmp_path / "c").rglob("*.part"))
        remote.close()
        # Embedded on S3, reads go through a verified local copy (made when the version was
        # committed); damaged too, it is fetched again, and S3's bytes are refused.
        (cached,) = (tmp_path / "srv").rglob(version.info.files[0].digest)
        cached.write_bytes(b"damaged" + cached.read_bytes())
        embedded = Client(InProcessTransport(s3_services, local_principal()), s3_services.settings)
        with pytest.raises(CorruptBlob):
            dy.dataset("t", project="p", client=embedded).version(1).to_arrow()
        assert not list((tmp_path / "srv").rglob("*.part"))
    finally:
        running.stop()


# --- pipeline step values -------------------------------------------------------------------

FLOW = """
import pandas as pd
import dockyard as dy

@dy.step
def make(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": range(n)})

@dy.step
def total(df: pd.DataFrame, scale: float = 1.0) -> float:
    return float(df.x.sum() * scale)

@dy.pipeline
def flow(n: int = 10, scale: float = 1.0):
    total(make(n), scale=scale)
"""


def test_pipeline_step_values(services: Services, tmp_path: Path) -> None:
    module_path = tmp_path / "tamper_flow.py"
    module_path.write_text(FLOW)
    spec = importlib.util.spec_from_file_location("tamper_flow", module_path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["tamper_flow"] = module
    spec.loader.exec_module(module)
    with connect_with(services.settings) as client:
        result = dy.run(module.flow, project="p", executor="inprocess", client=client)
        assert result.status == "succeeded"
        output = result.step("make").output
        assert output is not None
        flip(services, output.files[0].digest)
        with pytest.raises(CorruptBlob):
            result.output("make")
        # make is cached; total runs again and must not compute on the altered table
        with pytest.raises(CorruptBlob):
            dy.run(module.flow, project="p", executor="inprocess", client=client, scale=2.0)
