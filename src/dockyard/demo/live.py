"""Live purchases for the production demo: rows of features sent to a running model server
by a few concurrent clients at a steady pace, each answer kept with its prediction id, the
version that gave it and the purchase's true outcome (sent later, as a label)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd

from dockyard.demo.features import FEATURES
from dockyard.demo.pipeline import MODEL

CLIENTS = 8


@dataclass
class Answers:
    """What the server answered: prediction id -> (version, true label)."""

    labels: dict[str, float] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    first_failure: str = ""

    def by_version(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for version in self.versions.values():
            counts[version] = counts.get(version, 0) + 1
        return counts


def payloads(frame: pd.DataFrame) -> list[tuple[dict[str, Any], float]]:
    """Each row's request body (features; JSON has no NaN: a missing value is null) with
    its true label."""
    inputs = frame[FEATURES].astype(object).where(frame[FEATURES].notna(), None)
    rows = inputs.to_dict(orient="records")
    return list(zip(rows, frame["is_fraud"].astype(float).tolist(), strict=True))


def send(
    url: str, rows: list[tuple[dict[str, Any], float]], *, until: float, rate: float
) -> Answers:
    """Send ``rows`` in order, ``rate`` requests a second in all, from :data:`CLIENTS`
    clients, until the rows run out or the clock (``time.time()``) reaches ``until``."""
    answers = Answers()
    lock = threading.Lock()
    gap = CLIENTS / rate

    def client(share: list[tuple[dict[str, Any], float]]) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            next_at = time.time()
            for body, label in share:
                now = time.time()
                if now >= until:
                    return
                if next_at > now:
                    time.sleep(min(next_at - now, until - now))
                next_at += gap
                try:
                    answer = http.post(f"/v1/models/{MODEL}/predict", json={"inputs": body})
                    ok = answer.status_code == 200
                    detail = "" if ok else answer.text[:300]
                except httpx.HTTPError as exc:
                    ok, detail = False, f"{type(exc).__name__}: {exc}"
                with lock:
                    if not ok:
                        answers.failed += 1
                        answers.first_failure = answers.first_failure or detail
                        continue
                    reply = answer.json()
                    for pid in reply["prediction_ids"]:
                        answers.labels[pid] = label
                        answers.versions[pid] = int(reply["version"])

    threads = [threading.Thread(target=client, args=(rows[i::CLIENTS],)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def version_now(url: str, body: dict[str, Any], label: float, answers: Answers) -> int:
    """The version that answers ``body`` now. The probe is a purchase like the others: its
    prediction is logged, so it goes into ``answers`` with its true ``label``."""
    answer = httpx.post(f"{url}/v1/models/{MODEL}/predict", json={"inputs": body}, timeout=30)
    answer.raise_for_status()
    reply = answer.json()
    for pid in reply["prediction_ids"]:
        answers.labels[pid] = label
        answers.versions[pid] = int(reply["version"])
    return int(reply["version"])
