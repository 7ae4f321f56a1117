"""A served model gets the secrets named at ``dockyard serve --secret`` as environment
variables of its worker processes (never the server's secrets key); a missing one stops
the server before it starts."""

from __future__ import annotations

import base64
import importlib.util
import io
import sys
import textwrap
from pathlib import Path

import httpx
import pandas as pd
import pytest

import dockyard as dy
from cli_support import run_cli
from dockyard.core.config import load_settings
from dockyard.core.errors import NotFound
from dockyard.serving.config import ServeConfig
from dockyard.serving.runner import secret_environment
from test_serving_cli import _serving

VALUE = "served-s3cret-\u00e9"
MODEL = '''
import os
import numpy as np
from dockyard.registry.flavors.pyfunc import PythonModel

class EnvProbe(PythonModel):
    """Answers, per row, whether DB_PASSWORD is set as expected (and the key is not)."""

    def predict(self, data):
        ok = os.environ.get("DB_PASSWORD") == os.environ.get("EXPECTED_FROM_TEST_ONLY", "x")
        hidden = "DOCKYARD_SECRETS_KEY" not in os.environ
        return np.full(len(data), float(ok and hidden))
'''


def _register_probe(tmp_path: Path) -> None:
    source = tmp_path / "src" / "env_probe_model.py"
    source.parent.mkdir()
    source.write_text(textwrap.dedent(MODEL))
    spec = importlib.util.spec_from_file_location("env_probe_model", source)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["env_probe_model"] = module
    spec.loader.exec_module(module)
    x = pd.DataFrame({"a": [1.0, 2.0]})
    with dy.start_run(project="shop", capture=dy.Capture.off()):
        logged = dy.log_model(module.EnvProbe(), "model", input_example=x, trusted=True)
    version = dy.register_model(logged, name="probe").version
    dy.connect().models.set_alias("probe", "champion", version)


def test_serve_with_secret_gives_the_workers_the_value_and_not_the_key(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _register_probe(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(VALUE + "\n"))
    monkeypatch.setenv("DOCKYARD_SECRETS_KEY", base64.b64encode(b"s" * 32).decode())
    code, _, err = run_cli(capsys, "secrets", "set", "-p", "shop", "DB_PASSWORD")
    assert code == 0, err
    monkeypatch.setenv("EXPECTED_FROM_TEST_ONLY", VALUE)  # for the probe to compare with
    options = ("--trusted", "--secret", "DB_PASSWORD", "--workers", "2")
    log_file = tmp_path / "s.log"
    with _serving(home, "models:/probe@champion", options=options, log_file=log_file) as (_, url):
        for _ in range(4):  # more requests than workers: each answers the same
            answer = httpx.post(url + "/v1/models/probe/predict", json={"inputs": {"a": [1.0]}})
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"] == [1.0]
    assert VALUE not in log_file.read_text()


def test_serve_with_a_missing_secret_names_it(home: Path, tmp_path: Path) -> None:
    _register_probe(tmp_path)
    config = ServeConfig(uris=["models:/probe@champion"], secrets=["NOT_SET"])
    with pytest.raises(NotFound, match="NOT_SET"):
        secret_environment(config, load_settings())
