"""The closed loop of ``dockyard demo --production`` on a small home: a real model server,
real labels by prediction id, a monitor whose alerts fire the retraining schedule, the
scheduler that runs it, the gate, the alias move and the server's swap.

Windows are one minute of wall-clock time; to keep the test short the shifted traffic lasts
10 s and each window is computed as soon as its traffic is written (an explicit ``until`` to
the monitor's run) instead of 30 s after it ends. The traffic and labels are the real ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dockyard as dy
from dockyard.client.client import Client
from dockyard.demo.production import SCHEDULE, run_production
from dockyard.demo.run import run_demo

MODEL = "fraud-detector"


def test_the_loop_finds_the_shift_retrains_once_and_the_new_champion_answers(
    tmp_path: Path,
) -> None:
    with dy.connect(home=tmp_path) as client:
        demo = run_demo(
            client, size=20_000, days=40, holdout_days=10, n_estimators=60, executor="inprocess"
        )
        assert demo.succeeded
        facts = run_production(
            client,
            later_days=35,
            holdout_days=10,
            n_estimators=60,
            executor="inprocess",
            rate=60.0,
            phase_seconds=10.0,
            early=True,
        )
        _check(client, facts)


def _check(client: Client, facts: dict[str, Any]) -> None:
    rules = {a["rule"] for a in facts["alerts"] if a["version"] == facts["champion"]}
    assert {"drift", "performance"} <= rules, facts["alerts"]
    # both alerts fired the one schedule; the scheduler ran it exactly once
    assert len(facts["retrain_runs"]) == 1
    runs = [
        r
        for r in client.pipelines.list(project="fraud").items
        if r.params.get("data") == facts["dataset"].partition("/")[2]
    ]
    assert [r.id for r in runs] == facts["retrain_runs"]
    # the new version's windows drift too (its training data is mostly from before the
    # shift): its alert asks for a retraining, skipped, as nothing new came to learn from
    later = [a for a in client.monitoring.alerts(model=MODEL) if a.version != facts["champion"]]
    assert all(o.status == "skipped" for a in later for o in a.actions if o.kind == "retrain")
    schedule = client.schedules.get("fraud", SCHEDULE)
    assert schedule.last_run_id == facts["retrain_runs"][0]
    assert schedule.last_seen_version == int(facts["dataset"].rpartition("@")[2])
    # a new version, champion moved to it by the retraining, and the server answered with it
    new = facts["new_champion"]
    assert new == facts["champion"] + 1
    assert client.models.resolve(f"models:/{MODEL}@champion").version == new
    moves = client.models.history(MODEL)
    assert (moves[0].alias, moves[0].to_version) == ("champion", new)
    assert facts["after_versions"] == [new]
    assert facts["auc_new_holdout"] > facts["auc_old_holdout"]
    # the windows hold the AUC the labels give: low for the champion on shifted traffic,
    # back up for the new version
    windows = {(w["version"], w["start"]): w for w in facts["windows"]}
    old = [w for (v, _), w in windows.items() if v == facts["champion"]]
    mine = [w for (v, _), w in windows.items() if v == new]
    assert any(w["drifted"] and w["auc"] is not None and w["auc"] < facts["auc_min"] for w in old)
    assert any(w["auc"] is not None and w["auc"] > facts["auc_min"] for w in old)  # normal
    assert mine and all(w["labelled"] == w["rows"] for w in mine)
    assert mine[-1]["auc"] is not None and mine[-1]["auc"] > facts["auc_min"]
    stored = client.monitoring.windows(MODEL)
    assert {w.version for w in stored if w.performance.realised.get("auc") is not None} == {
        facts["champion"],
        new,
    }
