"""Choose a blob backend from a URL: a plain path or file:// is the built-in local folder
backend (no lookup), a scheme registered under the ``dockyard.blob_backends`` entry point
group gets that backend, and any other scheme fsspec knows (s3://, gs://, az://, memory://)
goes through fsspec."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from dockyard.blobs.backend import BlobBackend

GROUP = "dockyard.blob_backends"


def open_backend(url: str, **options: Any) -> BlobBackend:
    """The backend for ``url``, built with ``options``."""
    if "://" not in url:
        scheme, location = "file", str(Path(url).expanduser())
    else:
        scheme, location = url.split("://", 1)[0], url
        if scheme == "file":
            location = url.removeprefix("file://")
    if scheme == "file":
        # The built-in backend needs no lookup: scanning every installed package's entry
        # points costs each process 5-8 ms, and a reinstall under way cannot hide it.
        from dockyard.blobs.local import LocalBackend

        return LocalBackend(location, **options)
    for ep in entry_points(group=GROUP, name=scheme):
        backend: BlobBackend = ep.load()(location, **options)
        return backend
    from dockyard.blobs.fsspec import FsspecBackend  # fsspec loads only for remote storage

    return FsspecBackend(url, **options)
