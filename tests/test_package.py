"""The public surface and the layering rules of the package."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import dockyard

SRC = Path(dockyard.__file__).parent

# package -> dockyard packages it must never import (see shared/DESIGN.md, "Layers").
OUTER = {"server", "client", "cli"}
CAPABILITIES = {"tracking", "data", "features", "registry", "serving", "pipelines", "gc"}
FORBIDDEN = {
    "core": {
        "store",
        "blobs",
        "projects",
        "tracking",
        "data",
        "registry",
        "gc",
        "services",
        "catalog",
        *OUTER,
    },
    "store": {
        "blobs",
        "projects",
        "tracking",
        "data",
        "registry",
        "gc",
        "services",
        "catalog",
        *OUTER,
    },
    "blobs": {
        "store",
        "projects",
        "tracking",
        "data",
        "registry",
        "gc",
        "services",
        "catalog",
        *OUTER,
    },
    "projects": {*CAPABILITIES, "services", "catalog", *OUTER},
    "tracking": {
        "data",
        "registry",
        "pipelines",
        "compute",
        "gc",
        "services",
        "catalog",
        "sdk",
        *OUTER,
    },
    "data": {"registry", "pipelines", "compute", "gc", "services", "catalog", "sdk", *OUTER},
    "registry": {"pipelines", "compute", "gc", "services", "catalog", "sdk", *OUTER},
    "pipelines": {"gc", "services", "catalog", "sdk", *OUTER},
    "compute": {"store", "blobs", "projects", *CAPABILITIES, "services", "catalog", "sdk", *OUTER},
    "gc": {"projects", "tracking", "data", "registry", "services", "catalog", *OUTER},
    # serving holds a capability service (service.py) and the model server, a long-running
    # shell over the client (app.py, model_server.py, follower.py, predlog.py): see below
    "serving": {"pipelines", "gc", "services", "catalog", "sdk", "server", "cli"},
    "services": OUTER,
    "catalog": OUTER,
    "server": {"client", "sdk", "cli"},
    "client": {"server", "sdk", "cli"},
    "sdk": {"server", "cli"},
}


def test_all_matches_what_the_package_exports() -> None:
    assert len(dockyard.__all__) == len(set(dockyard.__all__))
    assert set(dockyard.__all__) == {"__version__", *dockyard._EXPORTS}
    for name in dockyard.__all__:
        assert getattr(dockyard, name) is not None, name
    public = {n for n in dir(dockyard) if not n.startswith("_")} | {"__version__"}
    assert public == set(dockyard.__all__)


def test_import_dockyard_is_lazy() -> None:
    code = (
        "import sys, dockyard; heavy = [m for m in ('sqlalchemy', 'fastapi', 'httpx', 'pydantic')"
        " if m in sys.modules]; print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_python_m_runs_the_cli() -> None:
    """``python -m dockyard`` and ``python -m dockyard.cli.main`` are the ``dockyard`` command."""
    for module in ("dockyard", "dockyard.cli.main"):
        result = subprocess.run(
            [sys.executable, "-m", module, "--version"], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        assert dockyard.__version__ in result.stdout


def _dockyard_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dockyard."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("dockyard."))
    return found


# the serving modules that the service side (and so the client) imports: never the client
SERVING_SERVICE_SIDE = ("service.py", "schemas.py", "logformat.py", "batch.py", "batch_output.py")


def test_the_serving_service_side_does_not_import_the_client() -> None:
    for name in SERVING_SERVICE_SIDE:
        imported = _dockyard_imports(SRC / "serving" / name)
        assert not imported & {"client", *OUTER}, f"serving/{name} imports {imported & OUTER}"


def test_layers_only_import_inward() -> None:
    violations = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        package = rel.parts[0].removesuffix(".py")
        for imported in _dockyard_imports(path) & FORBIDDEN.get(package, set()):
            violations.append(f"{rel} imports dockyard.{imported}")
    assert violations == []
