"""What runs on an executor for one share of a batch prediction: fetch the share's input
file and the model (both verified against their digests), predict, upload the output parts.

A task is a picklable :class:`PredictTask`. In the caller's process it carries the caller's
client and loaded model; elsewhere (a process pool worker, a Ray worker) the settings to
connect with, one client and a few loaded models per worker process. It returns only
``(digest, size, rows)`` of the parts it uploaded and the rows it read: plain numbers and
text, never an object to load.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings
from dockyard.core.errors import NotFound
from dockyard.registry.schemas import ModelVersion
from dockyard.serving.batch import OutputPlan, Share, predict_share

if TYPE_CHECKING:
    from dockyard.registry.packaging import LoadedModel

Part = tuple[str, int, int]
"""An uploaded output file: ``(sha256 hex digest, bytes, rows)``."""


@dataclass
class PredictTask:
    """One share of a batch prediction, runnable on any executor."""

    share: Share
    model: ModelVersion
    """The version resolved once by the caller: every share predicts with it."""
    plan: OutputPlan
    batch_size: int
    trusted: bool
    settings: Settings
    threads: int | None = None
    """CPU threads for the model and Arrow (None: as many as they take)."""
    client: Client | None = None
    loaded: LoadedModel | None = None
    progress: Callable[[int], None] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        # never shipped to another process: it connects and loads the model there
        state.update(client=None, loaded=None, progress=None)
        return state

    def __call__(self) -> tuple[int, list[Part]]:
        client = self.client if self.client is not None else _client_for(self.settings)
        model = self.loaded if self.loaded is not None else _model(client, self.model, self.trusted)
        home = client.settings.home / "cache"
        path = client.blobs.local_copy(self.share.digest, home / "blobs")
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        with (
            tempfile.TemporaryDirectory(prefix="predict-", dir=home / "tmp") as workdir,
            _limited(self.threads),
        ):
            rows, files = predict_share(
                path,
                self.share,
                model,
                self.plan,
                batch_size=self.batch_size,
                workdir=Path(workdir),
                threads=self.threads is None or self.threads > 1,
                progress=self.progress,
            )
            parts = []
            for f in files:
                try:  # already stored: the same predictions made before
                    client.blobs.info(f.digest)
                except NotFound:
                    client.blobs.put_file(f.path, digest=f.digest)
                parts.append((f.digest, f.size, f.rows))
        return rows, parts


@functools.lru_cache(maxsize=4)
def _client_for(settings: Settings) -> Client:
    """One client per worker process and settings, reused by every share it runs."""
    return connect_with(settings)


_LOADED: dict[tuple[str, bool], LoadedModel] = {}
_KEEP_MODELS = 2


def _model(client: Client, version: ModelVersion, trusted: bool) -> LoadedModel:
    """The version loaded in this worker process (verified file by file as it is loaded),
    kept for the next shares of the job: a few models per process, newest kept."""
    key = (version.manifest_digest, trusted)
    if key not in _LOADED:
        loaded = client.models.load(version, trusted=trusted)
        while len(_LOADED) >= _KEEP_MODELS:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = loaded
    return _LOADED[key]


@contextlib.contextmanager
def _limited(threads: int | None) -> Iterator[None]:
    """At most ``threads`` OpenMP / BLAS threads for the model (LightGBM, XGBoost, numpy)
    while a share runs: workers sharing a machine must not each take every core."""
    if threads is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # installed with scikit-learn; without it, the libraries decide
        yield
        return
    with threadpool_limits(limits=threads):
        yield
