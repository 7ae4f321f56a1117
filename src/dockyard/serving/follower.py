"""Following the registry: which version each served alias points at, loading a new one in
the background and swapping it in when it is ready.

A version that fails to load leaves the old one answering and its error in the server's
state (retried after :data:`RETRY_SECONDS`); a frozen model keeps what it serves. Moves are
seen by polling, every ``poll`` seconds (0.5 s by default: within the 1 s the issue asks,
on every database and through a team server alike).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from dockyard.client.client import Client
from dockyard.core.errors import DockyardError
from dockyard.serving.deployment import Arm, Deployment, Routes, ServedModel
from dockyard.serving.enrich import resolve

RETRY_SECONDS = 30.0
log = logging.getLogger("dockyard.serve")


class Follower:
    """Keeps every :class:`ServedModel` on the versions its aliases point at."""

    def __init__(
        self,
        client: Client,
        models: list[ServedModel],
        *,
        trusted: bool = False,
        max_rows: int = 256,
        max_wait: float = 0.0,
        retire: Callable[[Deployment], None] | None = None,
        swapped: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.models = models
        self.trusted = trusted
        self.max_rows = max_rows
        self.max_wait = max_wait
        self._retire = retire or (lambda deployment: deployment.retire())
        self._swapped = swapped
        self._failed_at: dict[tuple[str, int], float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _load(self, served: ServedModel, version: int) -> Deployment | None:
        key = (served.name, version)
        failed = self._failed_at.get(key)
        if failed is not None and time.monotonic() - failed < RETRY_SECONDS:
            return None
        started = time.perf_counter()
        found = None
        try:
            found = self.client.models.version(served.name, str(version))
            model = self.client.models.load(found, trusted=self.trusted)
            lookup = model.manifest.features
            enrichment = resolve(self.client, lookup) if lookup is not None else None
        except Exception as exc:  # any failure to load keeps the old version serving
            self._failed_at[key] = time.monotonic()
            missing = _missing_module(exc)
            if missing is not None:
                wanted = [
                    r
                    for r in (found.manifest.requirements if found is not None else [])
                    if r.lower().replace("_", "-").startswith(missing.lower().replace("_", "-"))
                ]
                package = wanted[0] if wanted else missing
                message = (
                    f"model {served.name} v{version} needs the Python package {missing!r}, "
                    f"which is not installed where this server runs: pip install '{package}'"
                )
            elif isinstance(exc, DockyardError):
                message = str(exc)
            else:
                message = f"{type(exc).__name__}: {exc}"
            served.errors[version] = message
            log.error(
                "model %s v%d failed to load, still serving what it had: %s",
                served.name,
                version,
                message,
            )
            return None
        served.errors.pop(version, None)
        self._failed_at.pop(key, None)
        log.info(
            "model %s v%d loaded in %.2f s", served.name, version, time.perf_counter() - started
        )
        return Deployment(
            served.name,
            version,
            model,
            max_rows=self.max_rows,
            max_wait=self.max_wait,
            enrichment=enrichment,
            client=self.client,
        )

    def _plan(self, served: ServedModel) -> tuple[dict[str, int], list[str], str | None, Any]:
        """(arms alias -> weight, shadow aliases, sticky field, the registry's model)."""
        info = self.client.models.get(served.name)
        frozen = getattr(info, "frozen", None)
        served.frozen = frozen is not None and frozen is not False
        if served.follow_latest:
            return {"latest": 100}, [], None, info
        traffic = getattr(info, "traffic", None)
        if traffic is not None and served.alias is not None:
            weights = {a: int(w) for a, w in traffic.weights.items() if int(w) > 0}
            return weights, list(traffic.shadow), traffic.sticky, info
        assert served.alias is not None
        return {served.alias: 100}, [], None, info

    def refresh(self, served: ServedModel) -> bool:
        """Bring one model up to date; True when its routes changed."""
        if served.pinned is not None:
            if served.routes is not None:
                return False
            deployment = served.loaded.get(served.pinned) or self._load(served, served.pinned)
            if deployment is None:
                return False
            served.loaded[served.pinned] = deployment
            served.wanted = {f"v{served.pinned}": served.pinned}
            served.routes = Routes([(Arm(f"v{served.pinned}", deployment), 100)])
            return True
        weights, shadow, sticky, info = self._plan(served)
        if served.frozen and served.routes is not None:
            return False  # the Andon cord: stay put until unfrozen
        pointed: dict[str, int | None] = {}
        for alias in [*weights, *shadow]:
            pointed[alias] = info.latest_version if alias == "latest" else info.aliases.get(alias)
        served.wanted = pointed
        served.traffic = weights
        served.shadow = shadow
        missing = [a for a in weights if pointed[a] is None]
        if missing:
            what = ", ".join(f"@{a}" for a in missing)
            served.problem = f"{what} of model {served.name} points at no version"
            return False
        served.problem = ""
        for version in {v for v in pointed.values() if v is not None}:
            if version not in served.loaded:
                deployment = self._load(served, version)
                if deployment is not None:
                    served.loaded[version] = deployment
        arms: list[tuple[Arm, int]] = []
        for alias, weight in weights.items():
            target = pointed[alias]
            if target is None or target not in served.loaded:
                return False  # an arm failed to load: keep what serves now
            arms.append((Arm(alias, served.loaded[target]), weight))
        shadows = [
            Arm(a, served.loaded[v])
            for a in shadow
            if (v := pointed[a]) is not None and v in served.loaded
        ]
        new = Routes(arms, shadows, sticky)
        if served.routes is not None and _same(served.routes, new):
            return False
        old = served.routes
        served.routes = new
        if old is not None:
            shown = ", ".join(f"@{a.alias} v{a.deployment.version} {w}%" for a, w in new.arms)
            log.info("model %s now serves %s", served.name, shown)
        in_use = {a.deployment.version for a, _ in new.arms} | {
            a.deployment.version for a in shadows
        }
        for version in [v for v in served.loaded if v not in in_use]:
            self._retire(served.loaded.pop(version))
        return True

    def refresh_all(self) -> bool:
        """Bring every model up to date; True when one's routes changed."""
        changed = False
        for served in self.models:
            try:
                changed = self.refresh(served) or changed
            except Exception as exc:  # the registry is unreachable: keep serving
                served.problem = f"cannot reach the registry: {exc}"
                log.warning("cannot refresh model %s: %s", served.name, exc)
        return changed

    def start(self, poll: float) -> None:
        """Follow the aliases every ``poll`` seconds (``swapped`` is called after a change)."""

        def loop() -> None:
            while not self._stop.wait(poll):
                if self.refresh_all() and self._swapped is not None:
                    self._swapped()

        self._thread = threading.Thread(target=loop, name="dockyard-follow", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _missing_module(exc: BaseException) -> str | None:
    """The top-level module a failed import lacked, looking through chained causes."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ModuleNotFoundError) and seen.name:
            return seen.name.split(".", 1)[0]
        seen = seen.__cause__ or seen.__context__
    return None


def _same(a: Routes, b: Routes) -> bool:
    def key(r: Routes) -> tuple[Any, ...]:
        return (
            tuple((arm.alias, arm.deployment.version, w) for arm, w in r.arms),
            tuple((arm.alias, arm.deployment.version) for arm in r.shadows),
            r.sticky,
        )

    return key(a) == key(b)
