"""The Ray executor: each unit of work is a Ray task sized by its Resources.

Ray is imported only when this executor is built (install ``dockyard[ray]``). It joins the
Ray that is already initialised in this process, connects to ``address`` (``auto`` or
``ray://host:port``), or else starts a local Ray, which ``close()`` then shuts down. Ray's
workers need dockyard installed (the task runs a dockyard function that unpickles the work).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import pickle
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import cloudpickle

from dockyard.compute.executor import Resources, WorkerLost, WorkTimedOut
from dockyard.compute.pool import RemoteTraceback, settle, work_label
from dockyard.core.errors import DockyardError, InvalidInput, Unavailable

T = TypeVar("T")


def _run_on_ray(payload: bytes, driver_path: list[str]) -> Any:
    """The Ray task: load the work (pickled by the driver) and run it."""
    # Functions pickled by reference (a test module, a script's folder) import from the
    # driver's path; entries go last so that they never shadow the worker's own packages.
    for entry in driver_path:
        if entry not in sys.path:
            sys.path.append(entry)
    work = pickle.loads(payload)
    try:
        return work()
    except Exception as exc:
        raise _portable(exc) from None


def _portable(exc: Exception) -> Exception:
    """``exc`` if it survives pickling, else a DockyardError with its type, message and
    traceback (an exception whose ``__init__`` takes other arguments does not)."""
    try:
        pickle.loads(cloudpickle.dumps(exc))
        return exc
    except Exception:
        kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
        text = "".join(traceback.format_exception(exc))
        return DockyardError(
            f"{kind}: {exc}", details={"type": kind, "message": str(exc), "traceback": text}
        )


class RayExecutor:
    """Runs work as Ray tasks: ``num_cpus``, ``num_gpus`` and ``memory`` come from its
    Resources; Ray does not retry (the pipeline decides about retries).

    ``address`` is ``None`` (the Ray of this process, or a new local one), ``"auto"`` or
    ``"ray://host:port"``; other keyword arguments go to ``ray.init`` when this executor
    starts or connects to Ray. A timeout counts from submit, time spent waiting for the
    cluster's resources included; work past it is cancelled with ``force=True``.
    """

    name = "ray"

    def __init__(self, address: str | None = None, **init_options: Any) -> None:
        try:
            import ray  # an optional extra, and slow to import
        except ImportError as exc:
            raise InvalidInput("the Ray executor needs Ray: pip install 'dockyard[ray]'") from exc
        self._ray: Any = ray
        self.started_ray = False
        if not ray.is_initialized():
            if address is not None:
                init_options["address"] = address
            ray.init(**init_options)
            self.started_ray = True
        self._task = ray.remote(_run_on_ray)
        self._totals: dict[str, float] = {}
        self._lock = threading.Lock()
        self._running: dict[Future[Any], Any] = {}
        self._deadlines = _Deadlines()
        self._closed = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def submit(
        self,
        work: Callable[[], T],
        *,
        resources: Resources = Resources(),
        timeout: float | None = None,
        label: str = "",
    ) -> Future[T]:
        label = work_label(work, label)
        if self._closed:
            raise Unavailable("the Ray executor is closed")
        self._check_fits(resources, label)
        try:
            payload = cloudpickle.dumps(work)
        except Exception as exc:
            raise InvalidInput(f"{label} cannot be pickled to run on Ray: {exc}") from exc
        options: dict[str, Any] = {
            "num_cpus": resources.cpu,
            "num_gpus": resources.gpu,
            "max_retries": 0,
            "name": label,
        }
        if resources.memory_bytes:
            options["memory"] = resources.memory_bytes
        ref = self._task.options(**options).remote(payload, list(sys.path))
        future: Future[T] = Future()
        future.set_running_or_notify_cancel()
        with self._lock:
            self._running[future] = ref
        ref.future().add_done_callback(lambda done: self._finish(future, done, label))
        if timeout is not None:
            self._deadlines.add(
                time.monotonic() + timeout, lambda: self._expire(future, label, timeout)
            )
        return future

    def close(self) -> None:
        """Cancel this executor's running tasks; shut Ray down if this executor started it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            running = list(self._running.items())
            self._running.clear()
        self._deadlines.stop()
        for future, ref in running:
            settle(future, exc=WorkerLost("the Ray executor was closed before the work ended"))
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=True)
        if self.started_ray:
            self._ray.shutdown()

    def _check_fits(self, resources: Resources, label: str) -> None:
        needs = {
            "CPU": resources.cpu,
            "GPU": resources.gpu,
            "memory": float(resources.memory_bytes or 0),
        }
        for fresh in (False, True):  # the cluster may have grown since it was last asked
            if fresh or not self._totals:
                self._totals = {k: float(v) for k, v in self._ray.cluster_resources().items()}
            too_big = [r for r, need in needs.items() if need > self._totals.get(r, 0.0) + 1e-9]
            if not too_big:
                return
        resource = too_big[0]
        have, need = self._totals.get(resource, 0.0), needs[resource]
        unit = "bytes of memory" if resource == "memory" else f"{resource}s"
        raise InvalidInput(
            f"{label} needs {need:g} {unit}, but the Ray cluster has {have:g} in all",
            details={"resource": resource, "needs": need, "total": have},
        )

    def _finish(self, future: Future[Any], done: Future[Any], label: str) -> None:
        with self._lock:
            self._running.pop(future, None)
        if future.done():  # timed out or closed already
            return
        try:
            settle(future, result=done.result())
        except BaseException as exc:  # every failure goes to the caller's future
            try:
                settle(future, exc=self._translate(exc, label))
            finally:
                settle(future, exc=exc)  # if translating failed

    def _translate(self, exc: BaseException, label: str) -> BaseException:
        errors = self._ray.exceptions
        if isinstance(exc, errors.RayTaskError):
            cause = exc.cause
            if isinstance(cause, BaseException) and not isinstance(cause, errors.RayError):
                # the error Ray raises is a subclass of both RayTaskError and the work's
                # exception class; str() of it is the remote traceback
                cause.__cause__ = RemoteTraceback(str(exc))
                return cause
            return DockyardError(f"{label} failed on Ray: {cause}")
        lost = (
            errors.WorkerCrashedError,
            errors.NodeDiedError,
            errors.ObjectLostError,
            errors.OutOfMemoryError,
            errors.LocalRayletDiedError,
            errors.TaskCancelledError,
        )
        if isinstance(exc, lost):
            return WorkerLost(
                f"the Ray worker running {label} died ({type(exc).__name__}: {exc})",
                details={"label": label, "error": type(exc).__name__},
            )
        return exc

    def _expire(self, future: Future[Any], label: str, timeout: float) -> None:
        with self._lock:
            ref = self._running.pop(future, None)
        if ref is None or future.done():
            return
        settle(
            future,
            exc=WorkTimedOut(
                f"{label} ran over its {timeout:g} s timeout and was cancelled",
                details={"label": label, "timeout": timeout},
            ),
        )
        with contextlib.suppress(Exception):
            self._ray.cancel(ref, force=True)


class _Deadlines:
    """One thread that runs each action at its time (the actions must be quick)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def add(self, when: float, action: Callable[[], None]) -> None:
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._order), action))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="dockyard-ray-deadlines", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cond.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                if self._stopped:
                    return
                action = heapq.heappop(self._heap)[2]
            with contextlib.suppress(Exception):
                action()
