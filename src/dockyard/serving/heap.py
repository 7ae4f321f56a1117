"""Keeping the garbage collector's full passes off a model server's request path.

A server's heap is mostly what it loaded once: the libraries, the models, the client. Python's
full collection walks every tracked object, so in a server it took 80-90 ms and held the GIL
while requests waited: the slowest 1% of answers at 500 requests/s were those pauses. Freezing
the heap once it is loaded moves those objects where the collector no longer looks, and full
collections fall to a couple of milliseconds (``benchmarks/serving.py``).

A frozen object is still freed when its last reference goes; only garbage in reference cycles
among frozen objects waits for the next :func:`settle`. The server settles after it starts
and after each swap of versions, so that garbage is at most one retired version's.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what is garbage now and freeze what is alive (call off the request path, once
    the models are loaded: the collection itself takes as long as one full pass)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
