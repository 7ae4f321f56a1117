"""Trust boundaries: nothing a client stores makes another client unpickle, import or write
outside its folders. Each attack goes through the real API (a server on loopback, the
stored records, the SDK), and checks that the code it plants never ran (a marker file) and
that no file outside the folder was written or overwritten."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import io
import json
import os
import pickle
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

import dockyard as dy
from dockyard.blobs.backend import check_key
from dockyard.blobs.store import check_digest
from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings
from dockyard.core.errors import Forbidden, InvalidInput
from dockyard.core.paths import check_relative_path, confined
from dockyard.core.schemas import valid_name
from dockyard.pipelines.values import ValueFile, ValueRef
from dockyard.registry.manifest import MANIFEST_NAME, ModelManifest
from dockyard.registry.packaging import load_folder, save_model
from dockyard.sdk.step_worker import fetch
from dockyard.server.app import API_PREFIX
from dockyard.server.runner import RunningServer
from dockyard.services import Services
from dockyard.store.tables import ArtifactRow, PipelineRunRow, StepCacheRow

OFF = dy.Capture.off()

# -- the shared path helper -------------------------------------------------------------

BAD_PATHS = [
    "",
    "/etc/passwd",
    "../x",
    "a/../../x",
    "a/./b",
    "a//b",
    "a/",
    "C:/Windows/x",
    "c:x",
    "a\\..\\b",
    "a\x00b",
    "a/\nb",
    "x" * 256,
]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_confined_refuses_paths_that_leave_their_folder(tmp_path: Path, path: str) -> None:
    with pytest.raises(InvalidInput, match="is not allowed"):
        confined(tmp_path, path)
    with pytest.raises(InvalidInput):
        check_relative_path(path)


DIGEST = "ab" * 32


@pytest.mark.parametrize(
    ("check", "good"),
    [
        (check_relative_path, "plots/roc.png"),
        (check_digest, DIGEST),
        (check_key, f"blobs/{DIGEST}"),
        (valid_name, "fraud-detector"),
    ],
)
def test_a_trailing_newline_is_never_part_of_a_valid_value(check: Any, good: str) -> None:
    """A pattern anchored with ``$`` lets ``value\n`` through ``re.match``: every rule on
    paths, digests, keys and names must refuse it."""
    assert check(good)
    with pytest.raises(InvalidInput):
        check(good + "\n")


def test_confined_follows_symbolic_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "inside").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (root / "link").symlink_to(tmp_path / "outside")
    (root / "ok").symlink_to(root / "inside")
    assert confined(root, "inside/a.txt") == root / "inside" / "a.txt"
    assert confined(root, "ok/a.txt") == root / "ok" / "a.txt"
    with pytest.raises(InvalidInput, match=r"outside .* symbolic link"):
        confined(root, "link/a.txt")


# -- step values: pickle from the cache ---------------------------------------------------

FLOW = """
import dockyard as dy

@dy.step
def make(n: int) -> list:
    return list(range(n))

@dy.step
def total(values: list) -> int:
    return sum(values)

@dy.pipeline
def flow(n: int = 5):
    total(make(n))
"""


class _Payload:
    """Unpickling it creates ``marker``: evidence that stored code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _module(folder: Path, name: str, source: str) -> ModuleType:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def flow(tmp_path: Path) -> Iterator[ModuleType]:
    name = f"trust_flow_{abs(hash(tmp_path)) % 10**8}"
    yield _module(tmp_path, name, FLOW)
    sys.modules.pop(name, None)


def _remote(server: RunningServer, home: Path) -> Client:
    return connect_with(Settings(home=home, db="", blobs="", url=server.url))


@pytest.fixture
def attacker(server: RunningServer) -> Iterator[httpx.Client]:
    """Plain HTTP requests, as anyone who can reach the server can send."""
    with httpx.Client(
        base_url=server.url + API_PREFIX, headers={"X-Dockyard-User": "mallory"}
    ) as http:
        yield http


def _upload(http: httpx.Client, blob: bytes) -> int:
    headers = {"Content-Type": "application/octet-stream"}
    return http.post("/blobs", content=blob, headers=headers).status_code


def _pickle_ref(blob: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(blob).hexdigest()
    return {
        "kind": "pickle",
        "digest": digest,
        "files": [{"path": "value.pickle", "digest": digest, "size": len(blob)}],
    }


def test_a_pickle_posted_into_the_cache_is_never_unpickled(
    server: RunningServer, attacker: httpx.Client, flow: ModuleType, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    victim = _remote(server, tmp_path / "victim")
    try:
        first = dy.run(flow.flow, executor="inprocess", client=victim)
        key = first.step("make").cache_key
        assert first.status == "succeeded" and key
        # mallory stores a pickle blob and points make's cache key at it
        blob = pickle.dumps(_Payload(marker))
        assert _upload(attacker, blob) < 300
        body = {
            "project": "default",  # the victim's (anyone may write to it on an open server)
            "entries": [{"key": key, "step": "make", "output": _pickle_ref(blob)}],
        }
        assert attacker.post("/pipelines/cache", json=body).status_code == 204

        again = dy.run(flow.flow, executor="inprocess", client=victim)
        assert not marker.exists()
        # make does not declare pickle=True: the pickled entry is no hit, make runs again
        assert again.status == "succeeded"
        assert again.step("make").status == "succeeded"
        assert again.output("make") == [0, 1, 2, 3, 4] and again.output("total") == 10
        # and its own output replaced the poisoned entry
        third = dy.run(flow.flow, executor="inprocess", client=victim)
        assert third.step("make").status == "cached"
        assert third.step("make").output.kind == "json"  # type: ignore[union-attr]
        assert not marker.exists()
    finally:
        victim.close()


def test_a_pickle_written_into_a_step_record_is_not_read_back(
    server: RunningServer, attacker: httpx.Client, flow: ModuleType, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    victim = _remote(server, tmp_path / "victim")
    try:
        run = dy.run(flow.flow, executor="inprocess", client=victim)
        blob = pickle.dumps(_Payload(marker))
        assert _upload(attacker, blob) < 300
        record = run.step("make").model_dump(mode="json", exclude_none=True)
        record["output"] = _pickle_ref(blob)
        response = attacker.put(f"/pipelines/runs/{run.id}/steps", json={"steps": [record]})
        assert response.status_code == 204
        result = dy.PipelineResult(victim, victim.pipelines.get(run.id))
        with pytest.raises(Forbidden, match="does not declare pickle=True"):
            result.output("make")
        assert not marker.exists()
    finally:
        victim.close()


def test_a_step_that_declares_pickle_still_reads_its_pickled_values(tmp_path: Path) -> None:
    module = _module(
        tmp_path,
        "trust_pickled_flow",
        """
        import dockyard as dy

        class Box:
            def __init__(self, v):
                self.v = v

        @dy.step(pickle=True)
        def boxed(n: int):
            return Box(n)

        @dy.step
        def unbox(box) -> int:
            return box.v * 2

        @dy.pipeline
        def flow(n: int = 4):
            unbox(boxed(n))
        """,
    )
    settings = Settings(
        home=tmp_path / "home", db=f"sqlite:///{tmp_path / 'meta.db'}", blobs=str(tmp_path / "b")
    )
    with connect_with(settings) as client:
        result = dy.run(module.flow, executor="inprocess", client=client)
        assert result.status == "succeeded", result.run.error
        assert result.output("unbox") == 8 and result.output("boxed").v == 4
        cached = dy.run(module.flow, executor="inprocess", client=client)
        assert cached.step("boxed").status == "cached" and cached.output("unbox") == 8
        # a reader that does not know the pipeline must say it trusts the run
        plain = dy.PipelineResult(client, client.pipelines.get(result.id))
        with pytest.raises(Forbidden, match="pickle=True"):
            plain.output("boxed")
        assert plain.output("boxed", allow_pickle=True).v == 4
    sys.modules.pop("trust_pickled_flow", None)


MAP_FLOW = """
import dockyard as dy

@dy.step
def square(x: int) -> int:
    return x * x

@dy.step
def add(values: list) -> int:
    return sum(values)

@dy.pipeline
def flow():
    add(square.map([1, 2, 3]))
"""


def test_a_pickle_posted_for_a_fan_out_item_is_never_unpickled(
    server: RunningServer,
    services: Services,
    attacker: httpx.Client,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "pwned"
    name = f"trust_map_flow_{abs(hash(tmp_path)) % 10**8}"
    module = _module(tmp_path, name, MAP_FLOW)
    victim = _remote(server, tmp_path / "victim")
    try:
        first = dy.run(module.flow, executor="inprocess", client=victim)
        assert first.output("add") == 14
        # the item keys (anyone running the same code computes them the same way)
        keys = services.db.query(
            lambda s: [r.key for r in s.query(StepCacheRow).filter_by(step="square")]
        )
        assert len(keys) == 3
        blob = pickle.dumps(_Payload(marker))
        assert _upload(attacker, blob) < 300
        entries = [{"key": k, "step": "square", "output": _pickle_ref(blob)} for k in keys]
        body = {"project": "default", "entries": entries}
        assert attacker.post("/pipelines/cache", json=body).status_code == 204
        again = dy.run(module.flow, executor="inprocess", client=victim)
        assert again.status == "succeeded", again.run.error
        assert again.step("square").items_status == "sss"  # run again, not taken from the cache
        assert again.output("add") == 14 and again.output("square") == [1, 4, 9]
        assert not marker.exists()
    finally:
        victim.close()
        sys.modules.pop(name, None)


MODEL_FLOW = """
import pandas as pd
import dockyard as dy

class Doubler(dy.PythonModel):
    def predict(self, data):
        return data["x"].to_numpy() * 2

@dy.step(pickle={pickle})
def build() -> Doubler:
    return Doubler()

@dy.step
def score(model) -> list:
    return model.predict(pd.DataFrame({{"x": [1.0, 2.0]}})).tolist()

@dy.pipeline
def flow():
    score(build())
"""


@pytest.mark.parametrize("allowed", [False, True])
def test_a_python_model_passes_between_steps_only_from_a_step_that_allows_it(
    tmp_path: Path, allowed: bool
) -> None:
    name = f"trust_model_flow_{allowed}"
    module = _module(tmp_path, name, MODEL_FLOW.format(pickle=allowed))
    settings = Settings(
        home=tmp_path / "home", db=f"sqlite:///{tmp_path / 'meta.db'}", blobs=str(tmp_path / "b")
    )
    try:
        with connect_with(settings) as client:
            result = dy.run(module.flow, executor="inprocess", client=client)
            if allowed:
                assert result.status == "succeeded", result.run.error
                assert result.output("score") == [2.0, 4.0]
            else:
                assert result.status == "failed"
                assert "declare @dy.step(pickle=True)" in result.step("build").error
    finally:
        sys.modules.pop(name, None)


def _bad_entries(key: str, blob_digest: str) -> dict[str, dict[str, Any]]:
    good_file = {"path": "value.json", "digest": blob_digest, "size": 3}
    return {
        "unknown kind": {"kind": "exe", "digest": blob_digest, "files": [good_file]},
        "empty digest": {"kind": "json", "digest": "", "files": [{**good_file, "digest": ""}]},
        "short digest": {"kind": "json", "digest": "ab", "files": [{**good_file, "digest": "ab"}]},
        "traversal path": {
            "kind": "json",
            "digest": blob_digest,
            "files": [{**good_file, "path": "../../../../elsewhere/value.json"}],
        },
        "absolute path": {
            "kind": "model",
            "digest": blob_digest,
            "files": [
                {**good_file, "path": MANIFEST_NAME},
                {**good_file, "path": "/tmp/elsewhere"},
            ],
        },
        "wrong main file": {
            "kind": "pandas",
            "digest": blob_digest,
            "files": [{**good_file, "path": "x.py"}],
        },
        "digest of another file": {
            "kind": "json",
            "digest": "0" * 64,
            "files": [good_file],
        },
        "inline digest wrong": {"kind": "json", "digest": "0" * 64, "inline": "[1]"},
        "negative size": {
            "kind": "json",
            "digest": blob_digest,
            "files": [{**good_file, "size": -1}],
        },
    }


@pytest.mark.parametrize(
    "case",
    [
        "unknown kind",
        "empty digest",
        "short digest",
        "traversal path",
        "absolute path",
        "wrong main file",
        "digest of another file",
        "inline digest wrong",
        "negative size",
    ],
)
def test_a_malformed_cache_entry_is_refused_with_invalid_input(
    attacker: httpx.Client, case: str
) -> None:
    key = "a" * 64
    output = _bad_entries(key, "b" * 64)[case]
    assert attacker.post("/projects", json={"name": "p"}).status_code == 201
    entries = [{"key": key, "step": "make", "output": output}]
    response = attacker.post("/pipelines/cache", json={"project": "p", "entries": entries})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"
    lookup = {"project": "p", "keys": [key]}
    assert attacker.post("/pipelines/cache/lookup", json=lookup).json() == []


def test_a_stored_value_with_a_traversal_path_writes_nothing_outside(
    server: RunningServer,
    services: Services,
    attacker: httpx.Client,
    flow: ModuleType,
    tmp_path: Path,
) -> None:
    """A cache entry stored before entries were checked (or by another writer of the
    database): never handed out, so the step runs again and nothing lands outside."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim_file = elsewhere / "victim.txt"
    victim_file.write_text("original")
    victim = _remote(server, tmp_path / "victim")
    try:
        first = dy.run(flow.flow, executor="inprocess", client=victim)
        key = first.step("make").cache_key
        assert key
        manifest = b'{"flavor": "sklearn"}'
        payload = b"overwritten by the attacker"
        for blob in (manifest, payload):
            assert _upload(attacker, blob) < 300
        models = tmp_path / "victim" / "cache" / "values" / "models" / "x"
        escape = os.path.relpath(victim_file, models)
        digest = hashlib.sha256(manifest).hexdigest()
        output = {
            "kind": "model",
            "digest": digest,
            "files": [
                {"path": MANIFEST_NAME, "digest": digest, "size": len(manifest)},
                {
                    "path": escape,
                    "digest": hashlib.sha256(payload).hexdigest(),
                    "size": len(payload),
                },
            ],
        }
        entry = {"key": key, "step": "make", "output": output}
        refused = attacker.post("/pipelines/cache", json={"project": "default", "entries": [entry]})
        assert refused.status_code == 422 and "not allowed" in refused.text

        def plant(session: Any) -> None:
            row = session.get(StepCacheRow, key)
            row.output = json.dumps(output)

        services.db.write(plant)
        again = dy.run(flow.flow, executor="inprocess", client=victim)
        assert again.status == "succeeded" and again.step("make").status == "succeeded"
        assert again.output("total") == 10
        assert victim_file.read_text() == "original"
        assert sorted(p.name for p in elsewhere.iterdir()) == ["victim.txt"]
    finally:
        victim.close()


def test_fetching_a_value_confines_every_path(tmp_path: Path) -> None:
    """The reader's own check, for a reference that skipped validation (model_construct):
    nothing is written outside its cache folder, an existing file is not replaced."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim_file = elsewhere / "victim.txt"
    victim_file.write_text("original")
    settings = Settings(
        home=tmp_path / "home", db=f"sqlite:///{tmp_path / 'meta.db'}", blobs=str(tmp_path / "b")
    )
    with connect_with(settings) as client:
        payload = client.blobs.put(b"overwritten")
        manifest = client.blobs.put(b"{}")
        models = settings.home / "cache" / "values" / "models" / "x"
        files = [
            ValueFile.model_construct(path=MANIFEST_NAME, digest=manifest.digest, size=2),
            ValueFile.model_construct(
                path=os.path.relpath(victim_file, models), digest=payload.digest, size=11
            ),
        ]
        ref = ValueRef.model_construct(kind="model", digest=manifest.digest, files=files)
        with pytest.raises(InvalidInput, match=r"value file .* is not allowed"):
            fetch(ref, client)
        sneaky = ValueRef.model_construct(
            kind="model", digest="../../../elsewhere", files=files[:1]
        )
        with pytest.raises(InvalidInput, match="value digest"):
            fetch(sneaky, client)
    assert victim_file.read_text() == "original"
    assert sorted(p.name for p in elsewhere.iterdir()) == ["victim.txt"]


def test_a_recorded_import_path_that_is_a_file_is_never_imported(
    attacker: httpx.Client,
    server: RunningServer,
    services: Services,
    flow: ModuleType,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "pwned"
    script = tmp_path / "evil.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    victim = _remote(server, tmp_path / "victim")
    try:
        with dy.start_run(project="default", client=victim, capture=OFF) as parent:
            pass
        body = {
            "run_id": parent.id,
            "project": "default",
            "pipeline": "flow",
            "import_path": f"{script}:flow",
        }
        response = attacker.post("/pipelines/runs", json=body)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_input"
        # a record stored before import paths were checked: dy.resume imports nothing
        run = dy.run(flow.flow, executor="inprocess", client=victim)

        def plant(session: Any) -> None:
            row = session.get(PipelineRunRow, run.id)
            row.import_path = f"{script}:flow"
            row.status = "failed"

        services.db.write(plant)
        with pytest.raises(InvalidInput, match="not a module:function name"):
            dy.resume(run.id, client=victim)
        assert not marker.exists()
    finally:
        victim.close()


# -- downloads: artifact paths from the store --------------------------------------------


def test_downloading_artifacts_confines_their_stored_paths(
    client: Client, services: Services, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim_file = elsewhere / "victim.txt"
    victim_file.write_text("original")
    with dy.start_run(project="p", client=client, capture=OFF) as run:
        client.runs.upload_artifact(run.id, "notes/a.txt", io.BytesIO(b"fine"))
    info = client.blobs.put(b"overwritten")
    dest = tmp_path / "dest"

    def plant(session: Any) -> None:
        session.add(
            ArtifactRow(
                run_id=run.id,
                path=os.path.relpath(victim_file, dest),
                digest=info.digest,
                size=info.size,
                media_type="text/plain",
                created_at=dt.datetime.now(dt.UTC),
            )
        )

    services.db.write(plant)  # as an older or foreign writer of the database could
    with pytest.raises(InvalidInput, match=r"artifact path .* is not allowed"):
        client.runs.download_artifacts(run.id, dest)
    assert victim_file.read_text() == "original"
    assert sorted(p.name for p in elsewhere.iterdir()) == ["victim.txt"]
    assert not dest.exists()  # checked before anything is written


# -- models: code runs only with trusted=True --------------------------------------------

PYFUNC = """
from pathlib import Path

import dockyard as dy

Path({marker!r}).touch()  # what a hostile model's module could do on import


class Echo(dy.PythonModel):
    def predict(self, data):
        return data["x"].to_numpy()
"""


def test_a_python_model_loads_only_with_trusted(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    name = f"echo_model_{abs(hash(tmp_path)) % 10**8}"
    module = _module(tmp_path, name, PYFUNC.format(marker=str(marker)))
    monkeypatch.setitem(sys.modules, name, module)
    x = pd.DataFrame({"x": [1.0, 2.0]})
    with dy.start_run(project="p", client=client, capture=OFF) as run:
        dy.log_model(module.Echo(), "model", input_example=x)
    mv = dy.register_model(run, name="echo", client=client)
    assert mv.manifest.needs_trust
    marker.unlink()
    with pytest.raises(Forbidden, match=r"Python code.*Pass trusted=True"):
        dy.load_model("models:/echo/1", client=client)
    with pytest.raises(Forbidden, match="trusted=True"):
        dy.load_model(f"runs:/{run.id}/model", client=client)
    assert not marker.exists()
    loaded = dy.load_model("models:/echo/1", client=client, trusted=True)
    assert loaded.predict(x).tolist() == [1.0, 2.0]


def test_a_python_model_whose_manifest_denies_needing_trust_is_still_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    name = "echo_denies_trust"
    module = _module(tmp_path, name, PYFUNC.format(marker=str(marker)))
    monkeypatch.setitem(sys.modules, name, module)
    folder = tmp_path / "m"
    save_model(module.Echo(), folder)
    manifest = ModelManifest.model_validate_json((folder / MANIFEST_NAME).read_bytes())
    manifest.needs_trust = False  # the manifest is written by whoever logged the model
    (folder / MANIFEST_NAME).write_text(manifest.model_dump_json())
    marker.unlink()
    with pytest.raises(Forbidden, match="Pass trusted=True"):
        load_folder(folder)
    assert not marker.exists()


def test_a_python_model_names_no_file_outside_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    name = "echo_outside"
    module = _module(tmp_path, name, PYFUNC.format(marker=str(marker)))
    monkeypatch.setitem(sys.modules, name, module)
    folder = tmp_path / "m"
    save_model(module.Echo(), folder)
    manifest = ModelManifest.model_validate_json((folder / MANIFEST_NAME).read_bytes())
    manifest.flavor_options["module"] = "../../" + name  # the stored module outside
    (folder / MANIFEST_NAME).write_text(manifest.model_dump_json())
    marker.unlink()
    with pytest.raises(InvalidInput, match="not a dotted Python name"):
        load_folder(folder, trusted=True)
    assert not marker.exists()


PAYLOAD_MODULE = """
from pathlib import Path

Path({marker!r}).touch()  # runs when skops imports this module to find shift


def shift(values):
    return values + 1.0
"""


@pytest.fixture
def frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    x = pd.DataFrame({"a": rng.random(60), "b": rng.random(60)})
    return x, (x["a"] > 0.5).astype(int).to_numpy()


def test_skops_trusts_our_list_never_the_manifests(
    tmp_path: Path, frame: tuple[pd.DataFrame, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    import skops.io as sio
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    x, _ = frame
    marker = tmp_path / "imported"
    name = "skops_payload_funcs"
    module = _module(tmp_path, name, PAYLOAD_MODULE.format(marker=str(marker)))
    evil = make_pipeline(FunctionTransformer(module.shift), LinearRegression()).fit(x, x["a"])
    # saving refuses it outright, with the way out
    with pytest.raises(InvalidInput, match=rf"{name}\.shift.*trusted=True"):
        save_model(evil, tmp_path / "refused")
    # a folder written by hand whose manifest lists the file's types (and worse) as trusted
    folder = tmp_path / "m"
    save_model(LinearRegression().fit(x, x["a"]), folder)
    path = folder / "model.skops"
    sio.dump(evil, path)
    manifest = ModelManifest.model_validate_json((folder / MANIFEST_NAME).read_bytes())
    manifest.flavor_options["trusted_types"] = [
        *sio.get_untrusted_types(file=path),
        "builtins.eval",
        "os.system",
    ]
    for entry in manifest.files:
        if entry.path == "model.skops":
            entry.digest = hashlib.sha256(path.read_bytes()).hexdigest()
            entry.size = path.stat().st_size
    (folder / MANIFEST_NAME).write_text(manifest.model_dump_json())
    marker.unlink()
    monkeypatch.delitem(sys.modules, name)
    with pytest.raises(Forbidden, match=rf"could run code when loaded: {name}\.shift"):
        load_folder(folder)
    assert not marker.exists()


def test_skops_loads_the_common_estimators_without_trust(
    tmp_path: Path, frame: tuple[pd.DataFrame, np.ndarray]
) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier

    x, y = frame
    for i, model in enumerate(
        [
            RandomForestClassifier(n_estimators=3, random_state=0),
            HistGradientBoostingClassifier(max_iter=3),
            KNeighborsClassifier(n_neighbors=3),
        ]
    ):
        model.fit(x, y)
        manifest = save_model(model, tmp_path / str(i))
        assert not manifest.needs_trust and manifest.flavor_options["format"] == "skops"
        loaded = load_folder(tmp_path / str(i))
        np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_onnx_external_data_outside_the_folder_is_refused(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(2, dtype=np.float32).tobytes())
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])
    weight = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder = tmp_path / "m"
    save_model(model, folder)
    # point the weight at a file outside the folder, and fix the digest as a writer could
    stored = onnx.load(str(folder / "model.onnx"))
    tensor = stored.graph.initializer[0]
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="../secret.bin")
    onnx.save(stored, str(folder / "model.onnx"))
    manifest = ModelManifest.model_validate_json((folder / MANIFEST_NAME).read_bytes())
    for entry in manifest.files:
        if entry.path == "model.onnx":
            entry.digest = hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
            entry.size = (folder / "model.onnx").stat().st_size
    (folder / MANIFEST_NAME).write_text(manifest.model_dump_json())
    with pytest.raises(InvalidInput, match=r"ONNX external data '\.\./secret\.bin'"):
        load_folder(folder)
