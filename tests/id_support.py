"""Id prefixes in tests: the start ids share, and the shortest start naming one id."""

from __future__ import annotations


def common_start(ids: list[str]) -> str:
    """The start every id in ``ids`` shares."""
    length = 0
    while all(len(i) > length and i[length] == ids[0][length] for i in ids):
        length += 1
    return ids[0][:length]


def unique_start(run_id: str, ids: list[str]) -> str:
    """The shortest start of ``run_id`` that no other id in ``ids`` shares."""
    shared = max(len(common_start([run_id, other])) for other in ids if other != run_id)
    return run_id[: shared + 1]
