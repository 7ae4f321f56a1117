"""The scheduler: poll for due schedule firings, claim them, and run each pipeline.

Any number of schedulers may poll the same database (``dockyard scheduler`` processes, the
thread inside ``dockyard server``): a firing is claimed atomically in the database by
exactly one of them (see :mod:`dockyard.pipelines.schedules`), so none fires twice.
Claims are taken one schedule at a time, so several schedulers share a backlog.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from dockyard.client.client import Client
from dockyard.client.inprocess import InProcessTransport
from dockyard.core.errors import DockyardError
from dockyard.core.principal import Principal, Role
from dockyard.pipelines.schedule_schemas import Firing
from dockyard.sdk.monitor_runner import run_due
from dockyard.sdk.pipelines import load_pipeline, run
from dockyard.services import Services

log = logging.getLogger("dockyard.scheduler")
SCHEDULER = Principal(name="scheduler", kind="service", role=Role.ADMIN)


@dataclass(frozen=True)
class Fired:
    """What one firing did: the run it started (if it got that far) and how that ended."""

    project: str
    schedule: str
    reason: str
    run_id: str | None
    status: str
    error: str
    seconds: float

    def describe(self) -> str:
        run = f"run {self.run_id}" if self.run_id else "no run"
        line = (
            f"fired {self.project}/{self.schedule} ({self.reason}): {run} {self.status} "
            f"in {self.seconds:.1f} s"
        )
        return f"{line}: {self.error.strip().splitlines()[-1][:300]}" if self.error else line


class Scheduler:
    """Fires the due schedules (of ``project``, or all) through ``client``.

    ``say`` receives one line per firing (and per problem); by default the lines go to
    the ``dockyard.scheduler`` logger.
    """

    def __init__(
        self,
        client: Client,
        *,
        project: str | None = None,
        interval: float = 10.0,
        say: Callable[[str], None] | None = None,
        monitors: bool = True,
    ) -> None:
        self.client = client
        self.monitors = monitors
        self.project = project
        self.interval = interval
        self.say = say or log.info

    def poll(self) -> list[Fired]:
        """Claim and run what is due now; each schedule fires at most once per poll (a
        dataset trigger once per new version). Due monitors run first (their alerts may
        fire a retraining schedule, which this same poll then runs)."""
        if self.monitors:
            run_due(self.client, say=self.say)
        done: list[Fired] = []
        fired: set[str] = set()
        while True:
            firings = self.client.schedules.claim(project=self.project, limit=1, skip=fired)
            if not firings:
                return done
            for firing in firings:
                fired.add(firing.schedule.id)
                done.append(self.fire(firing))

    def fire(self, firing: Firing) -> Fired:
        """Run one claimed firing's pipeline and record how it went; never raises for a
        pipeline that fails or does not load."""
        schedule = firing.schedule
        started = time.monotonic()
        run_id: str | None = None
        status, error = "failed", ""
        try:
            pipeline = load_pipeline(schedule.pipeline)
            result = run(
                pipeline,
                project=schedule.project,
                executor=schedule.executor,
                client=self.client,
                **firing.params,
            )
            run_id, status, error = result.id, result.status, result.run.error
        except DockyardError as exc:
            error = exc.message
        except KeyboardInterrupt:
            self._record(firing, "cancelled", run_id, "the scheduler was interrupted")
            raise
        except Exception as exc:
            log.debug("schedule %s failed", schedule.name, exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
        self._record(firing, status, run_id, error)
        outcome = Fired(
            project=schedule.project,
            schedule=schedule.name,
            reason=firing.reason,
            run_id=run_id,
            status=status,
            error=error,
            seconds=time.monotonic() - started,
        )
        self.say(outcome.describe())
        return outcome

    def _record(self, firing: Firing, status: str, run_id: str | None, error: str) -> None:
        try:
            self.client.schedules.record(firing, status=status, run_id=run_id, error=error)
        except DockyardError as exc:
            self.say(f"could not record the firing of {firing.schedule.name}: {exc.message}")

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Poll every ``interval`` seconds until ``stop`` is set; problems (a database or
        server that went away) are reported and the next poll tries again."""
        stop = stop or threading.Event()
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.poll()
            except DockyardError as exc:
                self.say(f"scheduler poll failed: {exc.message}")
            except Exception as exc:
                log.exception("scheduler poll failed")
                self.say(f"scheduler poll failed: {type(exc).__name__}: {exc}")
            stop.wait(max(0.0, self.interval - (time.monotonic() - started)))


class _BorrowedTransport(InProcessTransport):
    """An in-process transport over services someone else closes."""

    def close(self) -> None:
        pass


def start_in_thread(
    services: Services,
    *,
    interval: float = 10.0,
    say: Callable[[str], None] | None = None,
) -> Callable[[], None]:
    """Run a scheduler over ``services`` in a daemon thread (as principal ``scheduler``);
    returns the function that stops it (a pipeline still running is left to finish)."""
    client = Client(_BorrowedTransport(services, SCHEDULER), services.settings)
    stop = threading.Event()
    scheduler = Scheduler(client, interval=interval, say=say)
    thread = threading.Thread(
        target=scheduler.run_forever, args=(stop,), name="dockyard-scheduler", daemon=True
    )
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=5)

    return halt
