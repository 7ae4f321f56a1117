"""Files: finding those of a local path, a glob or a URL (fsspec), telling their format and
compression from their names, and opening their bytes."""

from __future__ import annotations

import contextlib
import glob as globbing
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from dockyard.core.errors import InvalidInput

HEAD_BYTES = 16 << 20
"""CSV and JSON types are inferred from this many first bytes, parsed at once."""
STREAM_BLOCK = 1 << 20
"""CSV and JSON are then streamed in blocks of this many bytes. Arrow's reader keeps a few
dozen blocks in flight, so this bounds memory: 16 MiB blocks cost ~600 MiB of buffers."""
REMOTE_BLOCK = 8 << 20
"""Remote files (fsspec) are fetched in requests of this many bytes."""

_COMPRESSIONS = {
    ".gz": "gzip",
    ".bz2": "bz2",
    ".zst": "zstd",
    ".zstd": "zstd",
    ".lz4": "lz4",
    ".br": "brotli",
}
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}
_FORMAT_NAMES = {
    "csv": "csv",
    "tsv": "tsv",
    "json": "json",
    "jsonl": "json",
    "ndjson": "json",
    "parquet": "parquet",
    "pq": "parquet",
    "arrow": "arrow",
    "ipc": "arrow",
    "feather": "arrow",
}
_GLOB_CHARS = re.compile(r"[*?\[]")


# -- files ------------------------------------------------------------------------------


@dataclass
class _File:
    name: str
    """How messages name it: the path or URL."""
    path: str
    fs: Any
    """An fsspec filesystem, or None for a local file."""
    size: int | None
    format: str
    compression: str | None


def _find_files(
    spec: str | os.PathLike[str], format: str | None, options: dict[str, Any]
) -> tuple[list[_File], str]:
    text = os.fspath(spec)
    if isinstance(spec, str) and "://" in text:
        if text.startswith("file://"):
            text = unquote(urlsplit(text).path)
        else:
            return _find_remote(text, format, options)
    pattern = str(Path(text).expanduser())
    if _GLOB_CHARS.search(pattern) and not Path(pattern).exists():
        matches = sorted(p for p in globbing.glob(pattern, recursive=True) if Path(p).is_file())  # noqa: PTH207
        if not matches:
            raise InvalidInput(f"no file matches {text!r}")
        absolute = str(Path(pattern).absolute())
        files = [_local_file(p, format) for p in matches]
        return files, absolute
    path = Path(pattern)
    if not path.exists():
        raise InvalidInput(f"no such file: {text}")
    if path.is_dir():
        raise InvalidInput(f"{text} is a folder: pass a file or a glob such as '{text}/*.parquet'")
    return [_local_file(str(path), format)], str(path.absolute())


def _local_file(path: str, format: str | None) -> _File:
    fmt, compression = _format_of(path, format)
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    return _File(path, path, None, size, fmt, compression)


def _find_remote(url: str, format: str | None, options: dict[str, Any]) -> tuple[list[_File], str]:
    from fsspec.core import url_to_fs

    parts = urlsplit(url)
    shown = url
    if parts.password or parts.username:  # never record credentials in the version
        shown = urlunsplit(parts._replace(netloc=parts.hostname or ""))
    protocol = parts.scheme
    try:
        fs, path = url_to_fs(url, **options)
    except (ImportError, ValueError) as exc:
        hint = " (pip install 'dockyard[s3]')" if protocol in ("s3", "s3a") else ""
        raise InvalidInput(
            f"cannot read {shown}: no filesystem for {protocol!r}{hint}: {exc}"
        ) from None
    except Exception as exc:
        raise InvalidInput(f"cannot read {shown}: {_oneline(exc)}") from None
    protocol_prefix = url.split("://", 1)[0] + "://"
    try:
        if _GLOB_CHARS.search(path):
            found = fs.glob(path, detail=True)
            infos = sorted((p, i) for p, i in found.items() if i.get("type") != "directory")
            if not infos:
                raise InvalidInput(f"no object matches {shown}")
        else:
            info = fs.info(path)
            if info.get("type") == "directory":
                raise InvalidInput(
                    f"{shown} is a folder: pass a file or a glob such as '{shown}/*.parquet'"
                )
            infos = [(path, info)]
    except InvalidInput:
        raise
    except FileNotFoundError as exc:
        cause = exc.__cause__ or exc.__context__
        if cause is not None:  # e.g. HTTP: a connection failure surfaces as "not found"
            raise InvalidInput(f"cannot reach {shown}: {_oneline(cause)}") from None
        raise InvalidInput(f"no such file: {shown}") from None
    except Exception as exc:
        raise InvalidInput(f"cannot reach {shown}: {_oneline(exc)}") from None
    files = []
    for path_, info in infos:
        name = protocol_prefix + path_.split("://", 1)[-1] if len(infos) > 1 else shown
        fmt, compression = _format_of(path_, format)
        size = info.get("size")
        files.append(
            _File(name, path_, fs, int(size) if size is not None else None, fmt, compression)
        )
    return files, shown


def _oneline(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:500]


def _format_of(path: str, format: str | None) -> tuple[str, str | None]:
    name = path.rsplit("/", 1)[-1].lower()
    compression = None
    for ext, codec in _COMPRESSIONS.items():
        if name.endswith(ext):
            compression = codec
            name = name[: -len(ext)]
            break
    if format is not None:
        fmt = _FORMAT_NAMES.get(format.lower().lstrip("."))
        if fmt is None:
            raise InvalidInput(
                f"unknown format {format!r}: use csv, tsv, json (JSON lines), parquet or arrow"
            )
    else:
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        found = _EXTENSIONS.get(suffix)
        if found is None:
            raise InvalidInput(
                f"cannot tell the format of {path} from its extension: pass "
                "format='csv', 'tsv', 'json' (JSON lines), 'parquet' or 'arrow'"
            )
        fmt = found
    if compression and fmt in ("parquet", "arrow"):
        raise InvalidInput(
            f"{path}: a compressed {fmt} file cannot be streamed; decompress it first "
            f"({fmt} compresses its own columns)"
        )
    return fmt, compression


# -- opening bytes ----------------------------------------------------------------------


class _Raw:
    """The bytes of a file as Arrow reads them, and how many it has read so far."""

    def __init__(self, file: _File) -> None:
        import pyarrow as pa

        self.file = file
        self.handle: Any = None
        try:
            if file.fs is None:
                self.raw = pa.OSFile(file.path, "r")
            else:
                self.handle = file.fs.open(file.path, "rb", block_size=REMOTE_BLOCK)
                self.raw = pa.PythonFile(self.handle, mode="r")
        except FileNotFoundError:
            raise InvalidInput(f"no such file: {file.name}") from None
        except Exception as exc:
            raise InvalidInput(f"cannot read {file.name}: {_oneline(exc)}") from None
        self.stream = (
            pa.CompressedInputStream(self.raw, file.compression) if file.compression else self.raw
        )

    def position(self) -> int:
        try:
            return int(self.raw.tell())
        except Exception:
            return 0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stream.close()
        with contextlib.suppress(Exception):
            self.raw.close()
        if self.handle is not None:
            with contextlib.suppress(Exception):
                self.handle.close()


def _check_empty(file: _File) -> None:
    if file.size == 0:
        raise InvalidInput(f"{file.name} is empty (0 bytes)")


def _head(file: _File, limit: int | None = None) -> tuple[bytes, bool]:
    """The first ``limit`` (HEAD_BYTES) bytes of the (decompressed) content, cut after a
    line break, and whether there is more."""
    limit = HEAD_BYTES if limit is None else limit
    raw = _Raw(file)
    try:
        data = bytes(raw.stream.read(limit + 1))
    finally:
        raw.close()
    if len(data) <= limit:
        return data, False
    cut = data.rfind(b"\n", 0, limit)
    return (data[: cut + 1] if cut >= 0 else b""), True
