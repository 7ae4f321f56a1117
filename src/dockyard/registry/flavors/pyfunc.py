"""Models written as Python code: a subclass of :class:`PythonModel`, saved without pickle.

What is stored is source code, not the object: the file of the module that defines the
class (under ``code/``), the directories or files given as ``code_paths`` (also under
``code/``), and the ``artifacts`` (under ``artifacts/<name>/``). Loading imports the class
from the stored code, creates it with no arguments and calls ``load_context`` with the
artifacts' paths: state that must survive goes through artifacts, not attributes.

The class's own module is imported under a private name, so it never clashes with an
installed module of the same name. While the class is imported and ``load_context`` runs,
``code/`` is first on ``sys.path`` (so the stored code imports its ``code_paths`` by their
names) and any module of the same name already imported is set aside; afterwards both are
put back as they were. Import stored modules at module level or in ``load_context``, not
lazily in ``predict``.

Loading runs the stored code, so it happens only with ``trusted=True`` (whatever the
manifest says: ``runs_stored_code``); the module, class and artifact paths read from the
manifest are checked to name things inside the model's folder.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import shutil
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import InvalidInput
from dockyard.core.paths import confined
from dockyard.registry.flavors.base import SavedFlavor, SaveRequest, no_proba

if TYPE_CHECKING:
    from dockyard.registry.manifest import ModelManifest

CODE_DIR = "code"
ARTIFACTS_DIR = "artifacts"
_ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")
_import_lock = threading.Lock()


@dataclass(frozen=True)
class PythonModelContext:
    """What ``load_context`` receives: the stored artifacts by name."""

    artifacts: dict[str, Path] = field(default_factory=dict)


class PythonModel:
    """Base class of a model written in Python.

    Subclass it, define ``predict`` (and ``predict_proba`` for class probabilities), load
    what the model needs in ``load_context`` from ``context.artifacts``, and save an
    instance with ``save_model(model, folder, artifacts={"weights": path})``. The instance
    itself is not stored: at load the class is created again with no arguments.
    """

    def load_context(self, context: PythonModelContext) -> None:
        """Load state from ``context.artifacts`` (name -> local path); called once at load."""

    def predict(self, data: Any) -> Any:
        """Predictions for ``data``, a pandas DataFrame."""
        raise NotImplementedError(f"{type(self).__name__} must define predict(self, data)")


@dataclass
class PyfuncPredictor:
    """A PythonModel instance after load_context."""

    model: Any

    @property
    def native(self) -> Any:
        return self.model

    def predict(self, data: Any) -> Any:
        return self.model.predict(data)

    def predict_proba(self, data: Any) -> Any:
        if not callable(getattr(self.model, "predict_proba", None)):
            raise no_proba("pyfunc")
        return self.model.predict_proba(data)


class PyfuncFlavor:
    """A PythonModel subclass (or any class with load_context and predict) plus its code."""

    name = "pyfunc"
    framework = "python"
    runs_stored_code = True
    """Loading imports the stored module: only with trusted=True."""

    def matches(self, obj: Any) -> bool:
        if isinstance(obj, type):
            return False
        return isinstance(obj, PythonModel) or (
            callable(getattr(obj, "load_context", None)) and callable(getattr(obj, "predict", None))
        )

    def save(self, obj: Any, folder: Path, request: SaveRequest) -> SavedFlavor:
        cls = type(obj)
        if "<locals>" in cls.__qualname__:
            raise InvalidInput(
                f"{cls.__qualname__} is defined inside a function; define the model class at "
                "the top level of a module so its code can be stored"
            )
        state = sorted(getattr(obj, "__dict__", {}))
        if state:
            warnings.warn(
                f"{cls.__qualname__}'s attributes {', '.join(state)} are not saved: at load the "
                "class is created with no arguments and load_context sets its state from the "
                "artifacts",
                UserWarning,
                stacklevel=4,
            )
        code = folder / CODE_DIR
        code.mkdir()
        roots = [self._copy_code(Path(p), code) for p in request.code_paths]
        source = self._module_file(cls)
        module = self._module_in_code_paths(source, request.code_paths)
        if module is None:
            target = code / source.name
            if target.exists():
                raise InvalidInput(
                    f"the model's module {source.name} clashes with a code path of that name"
                )
            shutil.copyfile(source, target)
            module = source.stem
            standalone = True
        else:
            standalone = False
        artifacts = self._copy_artifacts(request.artifacts, folder)
        return SavedFlavor(
            options={
                "module": module,
                "class": cls.__qualname__,
                "standalone": standalone,
                "code_roots": roots,
                "artifacts": artifacts,
            },
            modules=[],
            predict_proba=callable(getattr(obj, "predict_proba", None)),
            needs_trust=True,
        )

    @staticmethod
    def _module_file(cls: type) -> Path:
        module = sys.modules.get(cls.__module__)
        filename = getattr(module, "__file__", None)
        if not filename or not str(filename).endswith(".py"):
            raise InvalidInput(
                f"cannot find the source file of {cls.__module__}.{cls.__qualname__}; "
                "define the model class in a .py file"
            )
        return Path(filename).resolve()

    @staticmethod
    def _copy_code(path: Path, code: Path) -> str:
        if not path.exists():
            raise InvalidInput(f"code path {path} does not exist")
        target = code / path.name
        if target.exists():
            raise InvalidInput(f"two code paths are named {path.name}")
        if path.is_dir():
            shutil.copytree(path, target, ignore=_IGNORE)
        else:
            shutil.copyfile(path, target)
        return path.name

    @staticmethod
    def _module_in_code_paths(source: Path, code_paths: list[Path]) -> str | None:
        """The dotted name of ``source`` when it is part of a code path."""
        for path in code_paths:
            resolved = Path(path).resolve()
            if resolved == source:
                return source.stem
            if resolved.is_dir() and source.is_relative_to(resolved):
                parts = source.relative_to(resolved.parent).with_suffix("").parts
                return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        return None

    @staticmethod
    def _copy_artifacts(artifacts: dict[str, Path], folder: Path) -> dict[str, str]:
        stored: dict[str, str] = {}
        for name, source in artifacts.items():
            if not _ARTIFACT_NAME.fullmatch(name):
                raise InvalidInput(
                    f"artifact name {name!r}: use 1-64 letters, digits, '.', '_' or '-'"
                )
            source = Path(source)
            target = folder / ARTIFACTS_DIR / name
            if source.is_dir():
                shutil.copytree(source, target, ignore=_IGNORE)
                stored[name] = target.relative_to(folder).as_posix()
            elif source.is_file():
                target.mkdir(parents=True)
                shutil.copyfile(source, target / source.name)
                stored[name] = (target / source.name).relative_to(folder).as_posix()
            else:
                raise InvalidInput(f"artifact {name!r}: {source} does not exist")
        return stored

    def load(self, folder: Path, manifest: ModelManifest) -> PyfuncPredictor:
        options = manifest.flavor_options
        code = folder / CODE_DIR
        artifacts = options.get("artifacts", {})
        if not isinstance(artifacts, dict):
            raise InvalidInput("the manifest's pyfunc artifacts must map names to paths")
        context = PythonModelContext(
            artifacts={
                str(name): confined(folder, str(path), f"artifact {name!r}")
                for name, path in artifacts.items()
            }
        )
        module_name = str(options.get("module", ""))
        class_name = str(options.get("class", ""))
        for what, value in (("module", module_name), ("class", class_name)):
            if not _DOTTED.match(value):
                raise InvalidInput(
                    f"the manifest's pyfunc {what} {value[:100]!r} is not a dotted Python name"
                )
        with _stored_code(code):
            if options.get("standalone", True):
                if "." in module_name:
                    raise InvalidInput(
                        f"a standalone pyfunc module is one file, not {module_name!r}"
                    )
                module = _import_private(confined(code, f"{module_name}.py", "pyfunc module"))
            else:
                module = importlib.import_module(module_name)
            cls: Any = module
            for part in class_name.split("."):
                cls = getattr(cls, part, None)
                if cls is None:
                    raise InvalidInput(
                        f"the stored code has no class {class_name} in {module_name}"
                    )
            model = cls()
            model.load_context(context)
        return PyfuncPredictor(model)


def _import_private(path: Path) -> ModuleType:
    """The module of ``path`` under a private name made of its sha256: loading the same code
    again reuses the module, different code never shares a name."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    name = f"_dockyard_pyfunc_{digest}_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"cannot import the stored model code {path.name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing look the module up while it runs
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


@contextmanager
def _stored_code(code: Path) -> Iterator[None]:
    """``code`` first on sys.path with same-named modules set aside, then all put back."""
    names = {p.stem if p.suffix == ".py" else p.name for p in code.iterdir()}
    with _import_lock:
        aside = {
            key: sys.modules.pop(key) for key in list(sys.modules) if key.split(".", 1)[0] in names
        }
        writes_bytecode = sys.dont_write_bytecode
        sys.dont_write_bytecode = True  # a __pycache__ in the folder would fail verification
        sys.path.insert(0, str(code))
        importlib.invalidate_caches()
        try:
            yield
        finally:
            sys.path.remove(str(code))
            sys.dont_write_bytecode = writes_bytecode
            for key in [k for k in sys.modules if k.split(".", 1)[0] in names]:
                del sys.modules[key]
            sys.modules.update(aside)
