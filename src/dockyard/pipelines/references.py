"""Pipeline references: ``module:function`` or ``path/to/file.py:function``.

A service only checks a reference's form (:func:`pipeline_reference`): it never looks at the
file system for it and never imports it, so creating a schedule runs no code and says
nothing about which files exist. Code is imported only where running it is the point: by the
scheduler when a schedule fires, and by a client on the user's own machine
(:func:`import_pipeline`) to check a pipeline before sending it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from dockyard.core.errors import InvalidInput
from dockyard.pipelines.graph import Pipeline

FORM = "module:function (e.g. flows.nightly:train) or path/to/file.py:function"


def _split(reference: str) -> tuple[str, str]:
    module, sep, attr = reference.strip().rpartition(":")
    if not sep or not module or not attr.isidentifier():
        raise InvalidInput(f"{reference[:200]!r}: name the pipeline as {FORM}")
    return module, attr


def pipeline_reference(reference: str) -> str:
    """``reference`` checked for its form only, with a file path made absolute (from the
    working directory, by string operations alone: the file is not looked at). A path with
    ``~`` is refused (expanding it would look up users); :func:`expand_reference` expands it
    on the user's own machine first."""
    module, attr = _split(reference)
    if module.endswith(".py"):
        if not module.isprintable():
            raise InvalidInput(
                f"{reference[:200]!r}: the file path has control characters; name the "
                f"pipeline as {FORM}"
            )
        if module.startswith("~"):
            raise InvalidInput(
                f"{reference[:200]!r}: give the file's path without '~' (absolute, or relative "
                "to the working directory)"
            )
        # absolute() joins the working directory; unlike resolve() it reads no links
        return f"{Path(module).absolute()}:{attr}"
    if not all(part.isidentifier() for part in module.split(".")):
        raise InvalidInput(
            f"{reference[:200]!r}: {module[:200]!r} is not a module name (dotted Python "
            f"identifiers) nor a .py file; name the pipeline as {FORM}"
        )
    return f"{module}:{attr}"


def expand_reference(reference: str) -> str:
    """``~`` in a file path expanded (for the user's own machine), then checked for its form."""
    module, sep, attr = reference.strip().rpartition(":")
    if sep and module.endswith(".py") and module.startswith("~"):
        reference = f"{os.path.expanduser(module)}:{attr}"  # noqa: PTH111 (no error if unknown)
    return pipeline_reference(reference)


def import_pipeline(reference: str) -> Pipeline:
    """Import the pipeline ``reference`` names, here: run only code the caller means to run.
    InvalidInput if it does not import or is not a ``@dy.pipeline`` function."""
    module_name, attr = _split(expand_reference(reference))
    try:
        if module_name.endswith(".py"):
            module = _exec_file(Path(module_name))
        else:
            module = importlib.import_module(module_name)
    except InvalidInput:
        raise
    except (Exception, SystemExit) as exc:  # a module may fail with anything
        raise InvalidInput(
            f"cannot import {module_name!r} for pipeline {reference!r}: {type(exc).__name__}: {exc}"
        ) from None
    found = getattr(module, attr, None)
    if found is None:
        raise InvalidInput(f"{module_name!r} has no {attr!r}: {reference} names no pipeline")
    if not isinstance(found, Pipeline):
        raise InvalidInput(
            f"{reference} is not a @dy.pipeline function (it is a {type(found).__name__})"
        )
    return found


def _exec_file(path: Path) -> Any:
    if not path.is_file():
        raise InvalidInput(f"there is no file {str(path)!r}")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"{str(path)!r} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    # the module may need itself in sys.modules while it runs (dataclasses, pickling); put
    # back whatever had the name before, so checking a file cannot shadow a real module
    before = sys.modules.get(spec.name)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        if before is None:
            sys.modules.pop(spec.name, None)
        else:
            sys.modules[spec.name] = before
    return module
