"""The git and environment capture of a run, done on a thread of its own.

Reading git (several subprocesses) and the environment and uploading them as tags and
artifacts takes tens of milliseconds; ``dy.start_run`` returns before that is done, and
:meth:`BackgroundCapture.finish` (called when the run ends, at the latest at interpreter
exit) waits for it. Only a process killed outright (SIGKILL, power loss) before the
upload finished loses the capture; the run itself, its params and metrics are unaffected.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from dockyard.sdk.capture import Capture, environment, environment_files, git_state

SetTags = Callable[[Mapping[str, str]], object]
Upload = Callable[[str, bytes], object]


def collect(capture: Capture, cwd: Path) -> tuple[dict[str, str], dict[str, bytes]]:
    """The tags and artifact files the switches in ``capture`` ask for."""
    tags: dict[str, str] = {}
    files: dict[str, bytes] = {}
    if capture.git:
        state = git_state(cwd)
        if state is not None:
            tags.update(state[0])
            if state[1]:
                files["dockyard/git.diff"] = state[1].encode()
    if capture.environment:
        env_tags, record = environment()
        tags.update(env_tags)
        files.update(environment_files(record))
    return tags, files


class BackgroundCapture:
    """Collects and uploads a run's git state and environment on a daemon thread.

    Tags the user sets (at ``start_run`` or with ``run.set_tags`` while the capture runs)
    win over captured tags of the same key: :meth:`claim` them before sending them.
    """

    def __init__(
        self,
        capture: Capture,
        cwd: Path,
        set_tags: SetTags,
        upload: Upload,
        *,
        claimed: Iterable[str] = (),
        what: str = "the run",
    ) -> None:
        self._capture = capture
        self._cwd = cwd
        self._set_tags = set_tags
        self._upload = upload
        self._what = what
        self._claimed = set(claimed)
        self._lock = threading.Lock()
        self._tags: dict[str, str] = {}
        self._files: dict[str, bytes] = {}
        self._collected = False
        self._error: Exception | None = None
        self._done = False
        self._thread = threading.Thread(target=self._work, name="dockyard-capture", daemon=True)
        self._thread.start()

    def claim(self, keys: Iterable[str]) -> None:
        """Mark tag keys as set by the user, so the capture does not overwrite them (waits
        for a captured-tags upload under way)."""
        with self._lock:
            self._claimed.update(keys)

    def _work(self) -> None:
        try:
            self._tags, self._files = collect(self._capture, self._cwd)
            self._collected = True
            self._send()
        except Exception as exc:  # reported (and retried) by finish(), on the run's thread
            self._error = exc

    def _send(self) -> None:
        """Upload the artifacts, then the tags no user has claimed (each part once)."""
        while self._files:
            path, content = next(iter(self._files.items()))
            self._upload(path, content)
            del self._files[path]
        with self._lock:
            tags = {k: v for k, v in self._tags.items() if k not in self._claimed}
            if tags:
                self._set_tags(tags)
            self._tags = {}
        self._done = True

    def finish(self) -> None:
        """Wait for the capture; retry once here what failed in the background, and warn
        (never raise) if that fails too."""
        self._thread.join()
        if self._done:
            return
        try:
            if not self._collected:
                self._tags, self._files = collect(self._capture, self._cwd)
                self._collected = True
            self._send()
        except Exception as exc:
            first = f" (first: {type(self._error).__name__}: {self._error})" if self._error else ""
            warnings.warn(
                f"the git and environment capture of {self._what} could not be stored "
                f"({type(exc).__name__}: {exc}){first}",
                RuntimeWarning,
                stacklevel=3,
            )
