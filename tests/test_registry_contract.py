"""The model registry through both transports on both databases: the issue's example,
every flavor registered and loaded back, gates, rollback, lineage and cards, tampering,
traffic splits and freezes (the Andon cord), and bad input with clear errors."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import dockyard as dy
from dockyard.client.client import Client, connect_with
from dockyard.core.errors import (
    Conflict,
    DigestMismatch,
    Forbidden,
    GateFailed,
    InvalidInput,
    ModelFrozen,
    NotFound,
)
from dockyard.core.principal import Principal, Role
from dockyard.registry import traffic
from dockyard.registry.schemas import AliasSet, FreezeSet
from dockyard.server.app import API_PREFIX
from dockyard.server.runner import RunningServer
from dockyard.services import Services

OFF = dy.Capture.off()


def frame(n: int = 200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 50.0, n),
            "card_reports": rng.integers(0, 5, n).astype("int64"),
            "hour": rng.integers(0, 24, n).astype("int64"),
        }
    )
    y = ((x.amount > 120) & (x.card_reports > 1)).to_numpy().astype(int)
    return x, y


def logged(client: Client, model: Any, x: pd.DataFrame, **kwargs: Any) -> dy.ActiveRun:
    with dy.start_run(project="fraud", client=client, capture=OFF) as run:
        dy.log_model(model, "model", input_example=x.head(), **kwargs)
    return run


def test_issue_example(client: Client) -> None:
    x, y = frame()
    with dy.start_run(project="fraud", client=client, capture=OFF) as run:
        model = LogisticRegression(max_iter=500).fit(x, y)
        dy.log_model(model, "model", input_example=x.head())
    mv = dy.register_model(run, "model", name="fraud-detector", client=client)
    assert (mv.model, mv.version, mv.flavor, mv.run_id) == ("fraud-detector", 1, "sklearn", run.id)
    assert mv.source == f"runs:/{run.id}/model"
    assert [c.name for c in mv.manifest.signature.inputs] == ["amount", "card_reports", "hour"]
    dy.set_alias("fraud-detector", "champion", mv.version, client=client)
    m = dy.load_model("models:/fraud-detector@champion", client=client)
    np.testing.assert_array_equal(m.predict(x), model.predict(x))
    np.testing.assert_allclose(m.predict_proba(x), model.predict_proba(x))
    for uri in ("models:/fraud-detector/1", "models:/fraud-detector", f"runs:/{run.id}/model"):
        np.testing.assert_array_equal(
            dy.load_model(uri, client=client).predict(x.tail(5)), model.predict(x.tail(5))
        )
    info = client.models.get("fraud-detector")
    assert (info.project, info.latest_version, info.aliases) == ("fraud", 1, {"champion": 1})
    assert client.models.version("fraud-detector", "@champion").aliases == ["champion"]
    outputs = [io for io in client.runs.io(run.id) if io.direction == "output"]
    assert [(io.kind, io.ref, io.label) for io in outputs] == [
        ("model_version", mv.id, "fraud-detector/v1")
    ]
    assert "fraud-detector" in mv._repr_html_()


def _sklearn_pipeline(x: pd.DataFrame, y: np.ndarray) -> Any:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)


def _xgboost(x: pd.DataFrame, y: np.ndarray) -> Any:
    import xgboost

    return xgboost.XGBClassifier(n_estimators=8, max_depth=3).fit(x, y)


def _lightgbm(x: pd.DataFrame, y: np.ndarray) -> Any:
    import lightgbm

    return lightgbm.LGBMClassifier(n_estimators=8, verbose=-1).fit(x, y)


def _onnx(x: pd.DataFrame, y: np.ndarray) -> Any:
    from skl2onnx import to_onnx

    base = LogisticRegression(max_iter=500).fit(x.astype("float32"), y)
    return to_onnx(base, x.astype("float32").to_numpy()[:1], options={"zipmap": False})


def _torch(x: pd.DataFrame, y: np.ndarray) -> Any:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    return torch.jit.script(net.eval())


def _native_predict(obj: Any, x: pd.DataFrame) -> np.ndarray:
    if hasattr(obj, "predict"):
        return np.asarray(obj.predict(x))
    if type(obj).__name__ == "ModelProto":
        import onnxruntime

        session = onnxruntime.InferenceSession(
            obj.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        name = session.get_inputs()[0].name
        return np.asarray(session.run(None, {name: x.astype("float32").to_numpy()})[0])
    import torch

    with torch.no_grad():
        return np.asarray(obj(torch.tensor(x.to_numpy(), dtype=torch.float32)).numpy())


@pytest.mark.parametrize(
    ("flavor", "build"),
    [
        ("sklearn", _sklearn_pipeline),
        ("xgboost", _xgboost),
        ("lightgbm", _lightgbm),
        ("onnx", _onnx),
        pytest.param(
            "torch",
            _torch,
            marks=pytest.mark.skipif(
                importlib.util.find_spec("torch") is None,
                reason="torch is not installed (scripts/setup-torch.sh says how to get it)",
            ),
        ),
    ],
)
def test_every_flavor_round_trips_through_the_registry(
    client: Client, flavor: str, build: Callable[[pd.DataFrame, np.ndarray], Any]
) -> None:
    x, y = frame()
    model = build(x, y)
    run = logged(client, model, x)
    mv = dy.register_model(run, name=f"m-{flavor}", client=client)
    assert mv.flavor == flavor
    loaded = dy.load_model(f"models:/m-{flavor}/{mv.version}", client=client)
    got = np.asarray(loaded.predict(x)).reshape(-1)
    want = _native_predict(model, x).reshape(-1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_python_model_with_its_code_and_artifacts(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = tmp_path / "scorer_mod.py"
    code.write_text(
        "import json\n"
        "import dockyard as dy\n\n"
        "class Scorer(dy.PythonModel):\n"
        "    def load_context(self, context):\n"
        "        self.weights = json.loads(context.artifacts['weights'].read_text())\n"
        "    def predict(self, data):\n"
        "        return sum(data[k] * w for k, w in self.weights.items())\n"
    )
    weights = tmp_path / "weights.json"
    weights.write_text('{"amount": 0.5, "hour": 2.0}')
    import importlib.util

    spec = importlib.util.spec_from_file_location("scorer_mod", code)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "scorer_mod", module)
    spec.loader.exec_module(module)
    x = pd.DataFrame({"amount": [10.0, 20.0], "hour": [1, 3]})
    with dy.start_run(project="fraud", client=client, capture=OFF) as run:
        dy.log_model(module.Scorer(), "model", input_example=x, artifacts={"weights": weights})
    mv = dy.register_model(run, name="scorer", client=client)
    assert mv.flavor == "pyfunc"
    with pytest.raises(Forbidden, match="trusted=True"):  # its code runs only if trusted
        dy.load_model("models:/scorer/latest", client=client)
    loaded = dy.load_model("models:/scorer/latest", client=client, trusted=True)
    np.testing.assert_allclose(np.asarray(loaded.predict(x)).reshape(-1), [7.0, 16.0])


def test_versions_tags_and_listing(client: Client) -> None:
    x, y = frame()
    model = LogisticRegression(max_iter=300).fit(x, y)
    run = logged(client, model, x)
    for i in range(3):
        dy.register_model(run, name="a", description=f"try {i}", client=client)
    dy.register_model(run, name="b", tags={"team": "risk"}, client=client)
    client.models.update("b", description="the b model", tags={"stage": "dev"})
    assert client.models.get("b").tags == {"stage": "dev"}
    assert client.models.version("b", 1).tags == {"team": "risk"}
    client.models.update_version("a", 2, tags={"checked": "yes"}, description="second")
    assert client.models.version("a", "v2").description == "second"
    page = client.models.versions("a", limit=2)
    assert [v.version for v in page.items] == [3, 2] and page.next_cursor
    rest = client.models.versions("a", limit=2, cursor=page.next_cursor)
    assert [v.version for v in rest.items] == [1] and rest.next_cursor is None
    assert [m.name for m in client.models.list().items] == ["a", "b"]
    assert [m.name for m in client.models.list(tag="stage=dev").items] == ["b"]
    assert [m.name for m in client.models.list(name="a").items] == ["a"]
    assert [m.name for m in client.models.list(project="fraud", limit=1).items] == ["a"]
    client.models.delete_version("a", 3)
    assert client.models.get("a").latest_version == 2
    client.models.delete("b")
    with pytest.raises(NotFound, match="no registered model 'b'"):
        client.models.get("b")


def _evaluate(
    client: Client, uri: str, auc: float, dataset: dy.DatasetHandle | None, ref: int = 1
) -> None:
    """An evaluation run: loads the model (recorded as input), reads the data, logs auc."""
    with dy.start_run(project="fraud", experiment="eval", client=client, capture=OFF) as run:
        dy.load_model(uri, client=client)
        if dataset is not None:
            dataset.version(ref).to_pandas()
        run.log_metric("auc", auc)


def test_gates_block_a_worse_model_and_force_needs_a_reason(client: Client) -> None:
    x, y = frame()
    model = LogisticRegression(max_iter=300).fit(x, y)
    data = dy.dataset("transactions", project="fraud", client=client)
    data.add_version(x)
    run = logged(client, model, x)
    for _ in range(3):
        dy.register_model(run, name="det", client=client)
    dy.set_alias_policy(
        "det",
        "champion",
        {
            "gates": [
                {
                    "metric": "auc",
                    "threshold": 0.9,
                    "dataset": "transactions",
                    "min_dataset_version": 1,
                    "not_worse_than_current": True,
                }
            ]
        },
        client=client,
    )
    with pytest.raises(GateFailed, match="v1 has no metric 'auc' in a run over dataset"):
        dy.set_alias("det", "champion", 1, client=client)
    _evaluate(client, "models:/det/1", 0.93, data)
    report = dy.check_gates("det", "champion", 1, client=client)
    assert report.passed and report.checks[0].value == pytest.approx(0.93)
    dy.set_alias("det", "champion", 1, reason="first good model", client=client)
    _evaluate(client, "models:/det/2", 0.91, data)  # above threshold, worse than champion
    with pytest.raises(GateFailed, match=r"worse than the current v1's 0\.93") as failed:
        dy.set_alias("det", "champion", 2, client=client)
    assert failed.value.details["report"]["passed"] is False
    _evaluate(client, "models:/det/3", 0.99, None)  # better, but not over the dataset
    with pytest.raises(GateFailed, match="v3 has no metric"):
        dy.set_alias("det", "champion", 3, client=client)
    assert client.models.version("det", "@champion").version == 1
    with pytest.raises(InvalidInput, match="needs a reason"):
        dy.set_alias("det", "champion", 2, force=True, client=client)
    moved = dy.set_alias("det", "champion", 2, force=True, reason="hotfix", client=client)
    assert moved.version == 2
    last = dy.alias_history("det", "champion", client=client)[0]
    assert (last.action, last.from_version, last.to_version, last.reason) == (
        "override",
        1,
        2,
        "hotfix",
    )
    assert last.gate is not None and not last.gate.passed
    dy.set_alias_policy("det", "champion", None, client=client)
    assert dy.set_alias("det", "champion", 3, client=client).version == 3


def test_override_needs_an_owner_or_a_user_the_policy_names(services: Services) -> None:
    admin = connect_with(services.settings)  # the embedded user is the admin
    alice = connect_with(services.settings, principal=Principal(name="alice", role=Role.MAINTAINER))
    other = connect_with(
        services.settings, principal=Principal(name="mallory", role=Role.MAINTAINER)
    )
    try:
        x, y = frame()
        run = logged(alice, LogisticRegression(max_iter=300).fit(x, y), x)
        for _ in range(3):
            dy.register_model(run, name="det", client=alice)
        gates = [{"metric": "auc", "threshold": 1}]
        admin.models.set_policy("det", "champion", {"gates": gates, "override_by": ["alice"]})
        with pytest.raises(
            Forbidden,
            match=r"'mallory' may not override .* owner role in the model's project or being "
            r"named .*\(alice\)",
        ):
            other.models.set_alias("det", "champion", 1, force=True, reason="trust me")
        assert alice.models.set_alias("det", "champion", 1, force=True, reason="ok").version == 1
        admin.models.set_policy("det", "champion", {"gates": gates})  # owners only
        with pytest.raises(
            Forbidden, match=r"'alice' may not override .* needs the owner role in the model's"
        ):
            alice.models.set_alias("det", "champion", 2, force=True, reason="mine")
        assert admin.models.set_alias("det", "champion", 3, force=True, reason="ok").version == 3
    finally:
        for client in (admin, alice, other):
            client.close()


def test_rollback_walks_back_through_the_history(client: Client) -> None:
    x, y = frame()
    run = logged(client, LogisticRegression(max_iter=300).fit(x, y), x)
    for _ in range(3):
        dy.register_model(run, name="det", client=client)
    for version in (1, 2, 3):
        dy.set_alias("det", "champion", version, client=client)
    assert dy.rollback_alias("det", "champion", reason="v3 broke", client=client).version == 2
    assert client.models.rollback("det", "champion").version == 1
    with pytest.raises(Conflict, match="no earlier version to roll back to"):
        client.models.rollback("det", "champion")
    moves = client.models.history("det", "champion")
    assert [(m.action, m.from_version, m.to_version) for m in moves] == [
        ("rollback", 2, 1),
        ("rollback", 3, 2),
        ("set", 2, 3),
        ("set", 1, 2),
        ("set", None, 1),
    ]
    assert [m.rolled_back for m in moves] == [False, False, True, True, False]
    assert moves[1].reason == "v3 broke" and moves[1].actor
    with pytest.raises(Conflict, match="already points at v1"):
        dy.set_alias("det", "champion", 1, client=client)
    with pytest.raises(Conflict, match="target of alias champion"):
        client.models.delete_version("det", 1)
    client.models.remove_alias("det", "champion", reason="retired")
    with pytest.raises(NotFound, match="no alias 'champion'"):
        dy.load_model("models:/det@champion", client=client)


def test_lineage_and_card_show_the_chain_to_data_and_code(client: Client) -> None:
    x, y = frame()
    data = dy.dataset("transactions", project="fraud", client=client)
    data.add_version(x.assign(label=y))
    capture = dy.Capture(output=False, system_metrics=False)  # git + environment
    with dy.start_run(
        project="fraud", client=client, capture=capture, params={"C": 1.0, "max_iter": 300}
    ) as run:
        train = data.version("latest").to_pandas()
        model = LogisticRegression(max_iter=300).fit(train[list(x.columns)], train.label)
        run.log_metrics({"train_auc": 0.97, "loss": 0.12})
        dy.log_model(model, "model", input_example=x.head())
    mv = dy.register_model(run, name="det", client=client)
    lineage = client.models.lineage("det", mv.version)
    assert lineage.run is not None and lineage.run.id == run.id
    assert lineage.run.params == {"C": "1.0", "max_iter": "300"}
    assert [(d.dataset, d.version, d.rows) for d in lineage.inputs] == [("transactions", 1, 200)]
    assert lineage.code.commit and len(lineage.code.commit) == 40
    assert lineage.environment.python and any(
        p.lower().startswith("scikit-learn==") for p in lineage.environment.packages
    )
    assert any(r.lower().startswith("scikit-learn") for r in lineage.environment.requirements)
    card = dy.model_card("models:/det/1", client=client)
    for text in (card.markdown, card.html):
        assert "transactions" in text and lineage.code.commit in text
        assert "train_auc" in text and "max_iter" in text and "amount" in text
    assert card.markdown.startswith("# Model card: det v1")
    assert card.html.startswith("<!doctype html>") and "<table>" in card.html


def _flip_first_byte(data: bytes) -> bytes:
    return bytes([data[0] ^ 0xFF]) + data[1:]


def _blob_file(services: Services, digest: str) -> Path:
    found = [p for p in Path(services.settings.blobs).rglob(digest) if p.is_file()]
    assert len(found) == 1
    return found[0]


def test_a_tampered_model_refuses_to_load(client: Client, services: Services) -> None:
    x, y = frame()
    run = logged(client, LogisticRegression(max_iter=300).fit(x, y), x)
    mv = dy.register_model(run, name="det", client=client)
    folder = client.models.download(mv)
    dy.load_model("models:/det/1", client=client)  # fine before tampering
    weights = next(f for f in mv.manifest.files if f.path.endswith(".skops"))
    cached = folder / weights.path
    cached.write_bytes(_flip_first_byte(cached.read_bytes()))
    with pytest.raises(DigestMismatch, match=weights.path.split("/")[-1]):
        dy.load_model("models:/det/1", client=client)
    import shutil

    shutil.rmtree(folder)
    stored = _blob_file(services, weights.digest)
    stored.chmod(0o644)
    stored.write_bytes(_flip_first_byte(stored.read_bytes()))
    with pytest.raises(DigestMismatch):
        dy.load_model("models:/det/1", client=client)


def test_bad_inputs_get_clear_errors(client: Client) -> None:
    x, y = frame()
    model = LogisticRegression(max_iter=300).fit(x, y)
    run = logged(client, model, x)
    dy.register_model(run, name="a", client=client)
    dy.register_model(run, name="b", client=client)
    dy.register_model(run, name="b", client=client)
    with pytest.raises(NotFound, match="no registered model 'nope'"):
        dy.load_model("models:/nope/1", client=client)
    with pytest.raises(NotFound, match=r"model 'a' has no version 2; its versions are 1\.\.1"):
        dy.set_alias("a", "champion", 2, client=client)  # v2 belongs to b, not a
    with pytest.raises(NotFound, match="no alias 'prod'; it has no aliases"):
        dy.load_model("models:/a@prod", client=client)
    with pytest.raises(InvalidInput, match="not a model URI"):
        dy.load_model("model:/a/1", client=client)
    with pytest.raises(InvalidInput, match="not a valid alias"):
        dy.set_alias("a", "latest", 1, client=client)
    with pytest.raises(InvalidInput, match="not a valid alias"):
        dy.set_alias("a", "9lives", 1, client=client)
    with (
        pytest.raises(InvalidInput, match=r"object.*flavor"),
        dy.start_run(project="fraud", client=client, capture=OFF),
    ):
        dy.log_model(object(), "model")
    with pytest.raises(InvalidInput, match="log_model needs an active run"):
        dy.log_model(model, "model")
    with pytest.raises(NotFound, match="has no artifact folder 'elsewhere'"):
        dy.register_model(run, "elsewhere", name="a", client=client)
    with pytest.raises(InvalidInput, match="must be a folder of the run"):
        dy.register_model(run, "../x", name="a", client=client)
    with pytest.raises(NotFound, match="no run"):
        dy.register_model("0" * 32, name="a", client=client)
    with pytest.raises(InvalidInput, match="checks nothing"):
        client.models.set_policy("a", "champion", {"gates": [{"metric": "auc"}]})
    loaded = dy.load_model("models:/a/1", client=client)
    with pytest.raises(InvalidInput, match="card_reports"):
        loaded.predict(x.drop(columns=["card_reports"]))
    with pytest.raises(InvalidInput, match="extra"):
        loaded.predict(x.assign(extra=1))
    with pytest.raises(InvalidInput, match="amount"):
        loaded.predict(x.assign(amount="lots"))
    np.testing.assert_array_equal(  # int -> float is a safe cast
        loaded.predict(x.assign(amount=x.amount.round().astype("int64"))),
        model.predict(x.assign(amount=x.amount.round())),
    )
    assert client.models.get("a").latest_version == 1  # nothing half-written


def _three_versions_with_aliases(client: Client) -> None:
    x, y = frame()
    run = logged(client, LogisticRegression(max_iter=300).fit(x, y), x)
    for _ in range(3):
        dy.register_model(run, name="det", client=client)
    for alias, version in (("champion", 1), ("challenger", 2), ("challenger2", 3)):
        dy.set_alias("det", alias, version, client=client)


def test_traffic_splits_requests_between_aliases_and_is_recorded(client: Client) -> None:
    _three_versions_with_aliases(client)
    assert client.models.get("det").traffic is None
    split = dy.set_traffic(
        "det",
        {"champion": 90, "challenger": 10},
        shadow=["challenger2"],
        sticky="card_hash",
        reason="canary v2",
        client=client,
    )
    assert (split.weights, split.shadow, split.sticky, split.reason) == (
        {"champion": 90, "challenger": 10},
        ["challenger2"],
        "card_hash",
        "canary v2",
    )
    assert client.models.get("det").traffic == split
    assert [split.alias_for(b) for b in (0, 89, 90, 99)] == ["champion"] * 2 + ["challenger"] * 2
    assert split.describe() == (
        "champion 90% · challenger 10% · shadow challenger2 · sticky by card_hash"
    )
    dy.set_alias("det", "challenger", 3, client=client)  # servers follow a move: allowed
    for alias in ("challenger", "challenger2"):  # weighted or shadow: it must stay
        with pytest.raises(Conflict, match=f"alias '{alias}' of det is part of its traffic"):
            client.models.remove_alias("det", alias)
    shadow_only = dy.set_traffic("det", {"champion": 100}, shadow=["challenger"], client=client)
    assert (shadow_only.weights, shadow_only.sticky) == ({"champion": 100}, None)
    client.models.remove_alias("det", "challenger2")  # no longer in the traffic
    dy.clear_traffic("det", reason="canary over", client=client)
    assert client.models.get("det").traffic is None
    with pytest.raises(NotFound, match="no traffic split to clear"):
        dy.clear_traffic("det", client=client)
    events = client.models.history("det")
    assert [(e.alias, e.action) for e in events[:4]] == [
        ("", "traffic"),
        ("challenger2", "remove"),
        ("", "traffic"),
        ("challenger", "set"),
    ]
    assert events[0].detail is None and events[0].reason == "canary over"
    assert events[2].detail == shadow_only and events[4].detail == split
    assert [e.action for e in events[5:]] == ["set"] * 3  # the first moves, oldest last
    assert all(e.alias for e in client.models.history("det", "challenger"))  # per alias


def test_bad_traffic_gets_clear_errors(client: Client) -> None:
    _three_versions_with_aliases(client)
    client.models.remove_alias("det", "challenger2")
    champ, chall = "champion", "challenger"
    bad: list[tuple[dict[str, int], list[str], type[Exception], str]] = [
        ({"nope": 100}, [], NotFound, "no alias 'nope'; its aliases are challenger, champion"),
        ({champ: 100}, ["nope"], NotFound, "no alias 'nope'"),
        ({champ: 90, chall: 5}, [], InvalidInput, "champion=90, challenger=5 add up to 95"),
        ({champ: 110, chall: -10}, [], InvalidInput, "challenger: .*greater than or equal to 0"),
        ({}, [], InvalidInput, "weights must add up to 100"),
        ({champ: 100, chall: 0}, [chall], InvalidInput, "'challenger' cannot both answer"),
        ({champ: 100}, ["champion2", "champion2"], InvalidInput, "shadow names an alias twice"),
        ({"challenger2": 100}, [], Conflict, "'challenger2' of det points at no version"),
        ({champ: 100}, ["challenger2"], Conflict, "points at no version; point it at one"),
    ]
    for weights, shadow, error, message in bad:
        with pytest.raises(error, match=message):
            dy.set_traffic("det", weights, shadow=shadow, client=client)
    with pytest.raises(InvalidInput, match="sticky"):
        dy.set_traffic("det", {"champion": 100}, sticky="", client=client)
    with pytest.raises(NotFound, match="no registered model 'gone'"):
        dy.set_traffic("gone", {"champion": 100}, client=client)
    assert client.models.get("det").traffic is None  # nothing half-written
    assert [e.action for e in client.models.history("det")] == ["remove"] + ["set"] * 3


def test_a_frozen_model_refuses_every_move_until_unfrozen(client: Client) -> None:
    _three_versions_with_aliases(client)
    dy.set_alias("det", "champion", 2, client=client)  # something to roll back
    split = dy.set_traffic("det", {"champion": 50, "challenger": 50}, client=client)
    with pytest.raises(InvalidInput, match="needs a reason"):
        dy.freeze("det", reason="  ", client=client)
    made = dy.freeze("det", reason="labels upstream are broken", client=client)
    assert made.reason == "labels upstream are broken" and made.by
    model = client.models.get("det")
    assert model.frozen == made and model.traffic == split
    refused: list[Callable[[], Any]] = [
        lambda: dy.set_alias("det", "champion", 3, client=client),
        lambda: client.models.remove_alias("det", "challenger2"),
        lambda: dy.rollback_alias("det", "champion", client=client),
        lambda: dy.set_traffic("det", {"champion": 100}, client=client),
        lambda: dy.clear_traffic("det", client=client),
    ]
    for attempt in refused:
        with pytest.raises(dy.ModelFrozen, match="frozen") as error:
            attempt()
        assert isinstance(error.value, Conflict) and error.value.http_status == 409
        message = error.value.message
        for part in (made.by, "labels upstream are broken", "dockyard models unfreeze det"):
            assert part in message
        assert f"{made.at:%Y-%m-%d %H:%M}" in message
        assert error.value.details["reason"] == "labels upstream are broken"
    with pytest.raises(dy.ModelFrozen, match=r"model 'det' is already frozen: .* broken"):
        dy.freeze("det", reason="me too", client=client)
    dy.register_model(client.models.version("det", 1).run_id or "", name="det", client=client)
    after = client.models.get("det")  # a new version, but no alias or traffic moved
    assert (after.aliases, after.traffic, after.latest_version) == (model.aliases, split, 4)
    dy.unfreeze("det", reason="labels fixed", client=client)
    assert client.models.get("det").frozen is None
    with pytest.raises(Conflict, match="model 'det' is not frozen; there is nothing to unfreeze"):
        dy.unfreeze("det", client=client)
    assert dy.set_alias("det", "champion", 3, client=client).version == 3
    events = client.models.history("det")
    assert [(e.alias, e.action, e.reason) for e in events[:3]] == [
        ("champion", "set", ""),
        ("", "unfreeze", "labels fixed"),
        ("", "freeze", "labels upstream are broken"),
    ]
    assert events[1].detail == made and events[2].detail == made


def test_a_move_waiting_on_a_freeze_is_refused(services: Services) -> None:
    """A freeze and an alias move at once: the move locks the model after the freeze
    committed and is refused; it never lands after the freeze returned."""
    client = connect_with(services.settings)
    try:
        _three_versions_with_aliases(client)
    finally:
        client.close()
    registry = services.service("models")
    me = Principal(name="ops", role=Role.MAINTAINER)
    frozen, release = threading.Event(), threading.Event()

    def freeze_and_hold(session: Any) -> None:
        traffic.freeze(session, me, "det", FreezeSet(reason="hold the line"))
        frozen.set()
        release.wait(30)  # the transaction stays open, the model row locked

    outcome: list[BaseException | Any] = []

    def move() -> None:
        try:
            outcome.append(registry.set_alias(me, "det", "champion", AliasSet(version=3)))
        except BaseException as exc:
            outcome.append(exc)

    freezer = threading.Thread(target=lambda: registry.db.write(freeze_and_hold))
    mover = threading.Thread(target=move)
    freezer.start()
    try:
        assert frozen.wait(30)
        mover.start()
        mover.join(0.5)
        assert mover.is_alive() and not outcome  # waiting for the freeze's lock
    finally:
        release.set()
        freezer.join(30)
        if mover.ident is not None:  # started
            mover.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], ModelFrozen), outcome
    assert "hold the line" in outcome[0].message
    assert registry.get(me, "det").aliases["champion"] == 1


def test_the_server_checks_traffic_and_freezes_as_sent(server: RunningServer) -> None:
    """Raw JSON, past the client's own checks: 422 for a bad split, 409 when frozen."""
    with httpx.Client(base_url=server.url + API_PREFIX) as http:
        assert http.post("/projects", json={"name": "fraud"}).status_code == 201
        assert http.post("/models", json={"name": "det", "project": "fraud"}).status_code == 201
        answer = http.put("/models/det/traffic", json={"weights": {"a": 60, "b": 30}})
        assert answer.status_code == 422
        assert "add up to 90" in answer.json()["error"]["message"]
        answer = http.put("/models/det/traffic", json={"weights": {"a": 100.5}})
        assert answer.status_code == 422
        assert http.post("/models/det/freeze", json={}).status_code == 422
        assert http.post("/models/det/freeze", json={"reason": "stop"}).status_code == 200
        answer = http.put("/models/det/traffic", json={"weights": {"a": 100}})
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "model_frozen"
        assert http.post("/models/det/unfreeze", json={}).status_code == 204
        assert http.post("/models/det/unfreeze", json={}).status_code == 409
        events = http.get("/models/det/history").json()
        assert [e["action"] for e in events] == ["unfreeze", "freeze"]
        assert events[0]["detail"]["reason"] == "stop"
