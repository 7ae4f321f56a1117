"""Running a model server: one process, or several worker processes sharing the port.

With several workers uvicorn starts each from an import string, so the settings travel in
the environment: the server's own (``DOCKYARD_SERVE_CONFIG``) and dockyard's usual
variables for where the data lives. Numeric libraries get ``threads`` threads per worker
(OpenMP and BLAS pools sized to the machine wreck a server's latency on few cores); a
variable the user set already is left alone.
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

import uvicorn
from starlette.applications import Starlette

from dockyard.core.config import ENV_VARS, PRIVATE, Settings
from dockyard.core.errors import InvalidInput
from dockyard.serving.app import create_app
from dockyard.serving.config import ServeConfig

CONFIG_ENV = "DOCKYARD_SERVE_CONFIG"
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_threads(threads: int) -> None:
    """Give numeric libraries ``threads`` threads, unless the user chose already."""
    for name in _THREAD_VARS:
        os.environ.setdefault(name, str(threads))


def app_from_environment() -> Starlette:
    """A worker's app, from the settings ``serve`` put in the environment."""
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise RuntimeError(f"{CONFIG_ENV} is not set: start workers with `dockyard serve`")
    show_server_log()
    return create_app(ServeConfig.model_validate_json(raw), settle_heap=True)


def show_server_log() -> None:
    """The server's own messages (loads, swaps, failures) beside uvicorn's, on stderr."""
    logger = logging.getLogger("dockyard.serve")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-9s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def secret_environment(config: ServeConfig, settings: Settings) -> dict[str, str]:
    """The values of the secrets ``config`` names, from the project of the models it serves
    (one project), read where the metadata store and the secrets key are."""
    if not config.secrets:
        return {}
    from dockyard.client.client import connect_with
    from dockyard.registry.uris import RegistryRef, parse_model_uri

    with connect_with(settings) as client:
        projects = set()
        for uri in config.uris:
            ref = parse_model_uri(uri)
            if isinstance(ref, RegistryRef):
                projects.add(client.models.get(ref.name).project)
        if len(projects) != 1:
            raise InvalidInput(
                f"the models {', '.join(config.uris)} are in projects {sorted(projects)}: a "
                "server with secrets serves the models of one project (its secrets)"
            )
        names = ", ".join(u.removeprefix("models:/") for u in config.uris)
        return client.secrets.environment(
            projects.pop(), config.secrets, needed_by=f"serving {names}"
        )


def inject_secrets(config: ServeConfig, settings: Settings) -> list[str]:
    """Put the secrets ``config`` names into this process's environment (which its workers
    inherit), and take this process's own secrets key out of it; the names set."""
    found = secret_environment(config, settings)
    for name in PRIVATE:
        os.environ.pop(ENV_VARS[name], None)
    os.environ.update(found)
    return sorted(found)


def serve(config: ServeConfig, settings: Settings, *, workers: int = 1, threads: int = 1) -> None:
    """Serve in the foreground until interrupted (SIGINT/SIGTERM stop it gracefully: the
    prediction log is written out before the process ends). The secrets ``config`` names
    are environment variables of the server and its workers."""
    inject_secrets(config, settings)
    limit_threads(threads)
    show_server_log()
    options: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "log_level": "info",
        "access_log": False,
        "timeout_graceful_shutdown": 30,
    }
    if workers <= 1:
        from dockyard.client.client import connect_with

        app = create_app(config, lambda: connect_with(settings), settle_heap=True)
        uvicorn.run(app, **options)
        return
    for name, variable in ENV_VARS.items():
        value = getattr(settings, name)
        if value is not None and name not in PRIVATE:  # workers never need the secrets key
            os.environ[variable] = str(value)
    os.environ[CONFIG_ENV] = config.model_dump_json()
    with tempfile.TemporaryDirectory(prefix="dockyard-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run(
            "dockyard.serving.runner:app_from_environment",
            factory=True,
            workers=workers,
            **options,
        )
