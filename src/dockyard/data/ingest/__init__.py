"""Turn what a user gives (a DataFrame, an Arrow table, local files, a glob, a URL) into the
Parquet files of a dataset version, streaming with bounded memory.

A version is content-addressed, so the output is deterministic: the same rows with the same
types give byte-identical files, whatever the source and however it was chunked. Rows are
written in row groups of a fixed number of rows (chosen from the width of the first rows),
each group copied into contiguous arrays first, and files roll over at row-group boundaries.
Nothing here touches a database or a service.

Formats: CSV (``.csv``, ``.tsv``), JSON lines (``.jsonl``, ``.ndjson``, ``.json``), Parquet
(``.parquet``, ``.pq``) and Arrow IPC (``.arrow``, ``.feather``, ``.ipc``); CSV and JSON may
be compressed (``.gz``, ``.bz2``, ``.zst``, ``.lz4``, ``.br``).

The modules, from the top: ``pipeline`` (:func:`to_parquet`: a plan read ahead by a thread,
written by the part writer, with progress), ``plans`` (what the source is; tables in memory),
``readers`` (every file's batches in turn) over ``csv_source``, ``json_source`` and
``columnar`` (Parquet, Arrow IPC), ``files`` (finding, naming and opening files), ``writer``
(the deterministic Parquet part writer) and ``conform`` (the types a version stores).
"""

from dockyard.data.ingest.conform import parse_type
from dockyard.data.ingest.pipeline import Ingested, to_parquet
from dockyard.data.ingest.writer import IngestedFile
from dockyard.data.parquet import columns_of

__all__ = ["Ingested", "IngestedFile", "columns_of", "parse_type", "to_parquet"]
