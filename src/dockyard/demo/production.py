"""``dockyard demo --production``: the closed loop, after the usual demo, on the same home.

The champion is served (the server follows the alias); a schedule ``retrain`` (triggered
by ``transactions``) and a monitor with one-minute windows watch it. Normal purchases, then
shifted ones (:mod:`dockyard.demo.shift`) are sent to the server; after each window their
true outcomes arrive as labels. The shifted weeks, labelled, become a new version of
``transactions``; the monitor finds drift and the AUC drop, its alerts fire ``retrain``, the
scheduler runs ``fraud_training`` on the new version, the gate lets the new version through,
``champion`` moves, the server swaps, and the next minute's labels show the AUC back up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.metrics import roc_auc_score

import dockyard as dy
from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings
from dockyard.core.errors import NotFound
from dockyard.demo.features import FEATURES, LABEL_COLUMNS, REFS, SOURCE, VIEWS, feature_table
from dockyard.demo.live import Answers, payloads, send, version_now
from dockyard.demo.pipeline import ALIAS, DATASET, MODEL, PROJECT, fraud_training
from dockyard.demo.shift import Shift, later
from dockyard.features.offline import training_set
from dockyard.monitoring.binning import Binning
from dockyard.monitoring.drift import compare
from dockyard.monitoring.profile import summarize
from dockyard.monitoring.service import GRACE
from dockyard.sdk.scheduler import Scheduler
from dockyard.server.runner import serve_in_thread
from dockyard.serving.app import create_app
from dockyard.serving.config import ServeConfig

SCHEDULE = "retrain"
AFTER_DAYS = 7.0  # of later purchases after the last ingested ones: served after the swap
FLUSH = 1.5  # seconds for the server to write its prediction log (it flushes every 0.5 s)


def run_production(
    client: Client,
    *,
    later_days: float = 49.0,
    shift: Shift | None = None,
    seed: int = 0,
    holdout_days: int = 14,
    n_estimators: int = 200,
    executor: str = "process",
    rate: float = 150.0,
    phase_seconds: float = 60.0,
    early: bool = False,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the loop on the demo's home (``dockyard demo`` must have run); returns what
    happened. ``phase_seconds`` is how long the shifted traffic and the traffic after the
    swap last; ``early`` computes each window as soon as its traffic is written (an explicit
    ``until`` to the monitor) instead of waiting for it to end (for tests)."""
    shift = shift or Shift()
    started = time.time()
    tell = say or (lambda _: None)
    facts: dict[str, Any] = {}

    def story(line: str) -> None:
        tell(f"{time.strftime('%H:%M:%S')} {line}")

    # -- the purchases that come after the demo's data ------------------------------------
    handle = dy.dataset(DATASET, project=PROJECT, client=client)
    past = handle.version("latest")
    frame = past.to_pandas()
    end = pd.Timestamp(frame["ts"].max())
    future = later(frame, later_days, seed=seed + 1, shift=shift)
    story(
        f"{len(future):,} purchases after {end:%Y-%m-%d} ({later_days:g} days): normal for "
        f"{shift.after_days:g} days, then amounts x{shift.currency:g} (a currency change) and "
        f"a new fraud ring at {shift.new_sellers} new sellers"
    )
    features = _features(frame, future)
    days = (features["ts"] - end).dt.total_seconds() / 86_400.0
    ingest_until = later_days - AFTER_DAYS
    normal = features[days < shift.after_days]
    shifted = features[(days >= shift.after_days) & (days < ingest_until)]
    after = features[days >= ingest_until]
    champion = client.models.resolve(f"models:/{MODEL}@{ALIAS}").version
    model = dy.load_model(f"models:/{MODEL}/{champion}", client=client)
    auc_normal = _auc(model, normal)
    auc_shifted = _auc(model, shifted)
    minimum = round((auc_normal + auc_shifted) / 2, 2)
    story(
        f"champion v{champion} measured offline: AUC {auc_normal:.3f} on the normal days, "
        f"{auc_shifted:.3f} on the shifted ones -> the monitor alerts below AUC {minimum} "
        "(halfway: normal noise stays above, the shift falls below)"
    )
    reference = _reference(client, champion)
    calm = _drift(reference, normal)
    moved = _drift(reference, shifted)
    thresholds = {k: round(max(0.1, 2 * v), 3) for k, v in calm.items()}
    over = sorted((k for k in moved if moved[k] > thresholds[k]), key=lambda k: -moved[k])
    story(
        f"drift (Wasserstein / std against v{champion}'s training features): each column's "
        f"threshold is twice what the normal days show (at least 0.1), e.g. amount "
        f"{calm['amount']:.3f} -> {thresholds['amount']}; the shifted days exceed it in "
        + (", ".join(f"{k} ({moved[k]:.2f})" for k in over) or "no column")
    )
    facts.update(
        champion=champion,
        auc_normal_offline=auc_normal,
        auc_shifted_offline=auc_shifted,
        auc_min=minimum,
        drift_thresholds=thresholds,
    )

    # -- the schedule and the monitor ---------------------------------------------------------
    _recreate_schedule(client, holdout_days, n_estimators, executor)
    dy.monitor(
        MODEL,
        window="1m",
        drift={"method": "wasserstein", "thresholds": thresholds},
        quality=False,
        performance={"metric": "auc", "min": minimum, "min_labels": 30},
        on_alert=[dy.Retrain(SCHEDULE, rules=["performance", "drift"])],
        backfill="1m",
        client=client,
    )
    story(
        f"schedule {PROJECT}/{SCHEDULE}: {fraud_training.name} on the newest {DATASET}; "
        f"monitor {MODEL}/default: 1-minute windows, drift, AUC < {minimum} "
        f"-> Retrain({SCHEDULE!r})"
    )
    scheduler = Scheduler(client, project=PROJECT, say=lambda line: story(f"scheduler: {line}"))

    # -- serve and send -----------------------------------------------------------------------
    app = create_app(
        ServeConfig(uris=[f"models:/{MODEL}@{ALIAS}"], log_flush_seconds=0.5),
        lambda: connect_with(client.settings),
    )
    running = serve_in_thread(app)  # type: ignore[arg-type]
    story(f"serving {MODEL}@{ALIAS} (v{champion}) at {running.url}; it follows the alias")
    try:
        rng = np.random.default_rng(seed)
        begin = _quiet_window(client, time.time())
        first = _next_boundary(begin, at_least=30.0 if not early else 5.0)
        _wait(begin)
        a = _phase(running.url, normal, rng, time.time(), first, rate)
        story(f"normal purchases until {_hm(first)}: {_answered(a)}")
        b_end = first + (60.0 if not early else phase_seconds)
        labels_a = _send_labels(client, a, story, "normal")
        _wait(first)  # the shifted traffic starts with the next window
        if early:
            client.monitoring.run(MODEL, until=dt.datetime.fromtimestamp(first, dt.UTC) + GRACE)
        b = _phase(running.url, shifted, rng, first, b_end, rate, scheduler, early)
        story(f"shifted purchases until {_hm(b_end)}: {_answered(b)}")
        labels_b = _send_labels(client, b, story, "shifted")
        facts.update(labels_normal=labels_a, labels_shifted=labels_b)
        ingested = pd.concat([frame, future[future["ts"] < end + pd.Timedelta(days=ingest_until)]])
        version = handle.add_version(
            ingested.reset_index(drop=True),
            message=f"{len(ingested) - len(frame):,} later purchases with their outcomes",
        )
        story(f"the shifted weeks, labelled, are {version.ref} ({version.rows:,} rows)")
        facts["dataset"] = version.ref

        # -- the monitor, the alerts, the retraining --------------------------------------------
        window_b = _window_start(b_end - 1)
        fired = _settle(client, scheduler, window_b + 60.0, early)
        alerts = client.monitoring.alerts(model=MODEL)
        for alert in reversed(alerts):
            done = ", ".join(f"{o.kind} {o.target}: {o.status}" for o in alert.actions)
            story(f"ALERT {alert.rule}: {alert.message} [{done}]")
        retrains = [f for f in fired if f.schedule == SCHEDULE]
        facts["alerts"] = [
            {"rule": a.rule, "version": a.version, "message": a.message} for a in alerts
        ]
        facts["retrain_runs"] = [f.run_id for f in retrains]
        new = client.models.resolve(f"models:/{MODEL}@{ALIAS}").version
        facts["new_champion"] = new
        if new == champion:
            story(f"{ALIAS} did not move (still v{champion}); the loop stops here")
            return _finish(client, facts, started)
        result = dy.PipelineResult(client, client.pipelines.get(retrains[-1].run_id or ""))
        evaluation = result.output("evaluate")
        previous = result.output("evaluate_champion")
        facts["auc_new_holdout"] = evaluation["metrics"]["auc"]
        facts["auc_old_holdout"] = previous["metrics"]["auc"]
        story(
            f"retraining run {retrains[-1].run_id}: v{new} AUC "
            f"{evaluation['metrics']['auc']:.3f} on the holdout of {evaluation['dataset']}, "
            f"v{champion} {previous['metrics']['auc']:.3f} on the same purchases -> gate passed, "
            f"{ALIAS} -> v{new}"
        )

        # -- the swap, and the next minute -----------------------------------------------------
        (probe, probe_label), probes = payloads(after.head(1))[0], Answers()
        moved_at = time.time()
        while (
            version_now(running.url, probe, probe_label, probes) != new
            and time.time() - moved_at < 60
        ):
            time.sleep(0.2)
        swapped = version_now(running.url, probe, probe_label, probes)
        facts["swap_seconds"] = round(time.time() - moved_at, 2)
        story(f"the server swapped: answers come from v{swapped} (same server, same URL)")
        if early:
            _wait(window_b + 60.0)  # the traffic after the swap goes into a later window
        c_end = _next_boundary(time.time(), at_least=20.0) if not early else None
        c_end = c_end or time.time() + phase_seconds
        c = _phase(running.url, after, rng, time.time(), c_end, rate)
        facts["after_versions"] = sorted(set(c.versions.values()))
        story(f"later shifted purchases until {_hm(c_end)}: {_answered(c)}")
        c.labels.update(probes.labels)  # the probes' purchases are labelled like the others
        facts["labels_after"] = _send_labels(client, c, story, "after the swap")
        again = _settle(client, scheduler, _window_start(c_end - 1) + 60.0, early)
        facts["retrain_runs"] += [f.run_id for f in again if f.schedule == SCHEDULE]
    finally:
        running.stop()
    return _finish(client, facts, started)


def _features(past: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
    """Point-in-time features of the later purchases (from the same definitions the
    pipeline and the feature store use), over the whole history."""
    from dockyard.demo.features import _ref

    events = pa.Table.from_pandas(pd.concat([past, future]), preserve_index=False)
    labels = pa.Table.from_pandas(future[LABEL_COLUMNS], preserve_index=False)
    refs = [r if isinstance(r, str) else _ref(r) for r in REFS]
    built = training_set(labels, VIEWS, {SOURCE: events}, refs, event_time="ts")
    return feature_table(built).sort_values("ts", kind="stable").reset_index(drop=True)


def _auc(model: Any, rows: pd.DataFrame) -> float:
    return float(roc_auc_score(rows["is_fraud"].astype(bool), model.predict(rows[FEATURES])))


def _reference(client: Client, version: int) -> tuple[Binning, Any]:
    lineage = client.models.lineage(MODEL, str(version))
    used = next(i for i in lineage.inputs if i.dataset == "transaction_features")
    table = (
        dy.dataset(used.dataset, project=used.project, client=client)
        .version(used.version)
        .to_arrow(columns=FEATURES)
    )
    binning = Binning.from_reference(table, FEATURES)
    return binning, summarize(table, binning)


def _drift(reference: tuple[Binning, Any], rows: pd.DataFrame) -> dict[str, float]:
    binning, summary = reference
    current = summarize(pa.Table.from_pandas(rows[FEATURES], preserve_index=False), binning)
    return {d.column: d.statistic for d in compare(summary, current, binning, method="wasserstein")}


def _recreate_schedule(client: Client, holdout_days: int, n_estimators: int, executor: str) -> None:
    with contextlib.suppress(NotFound):
        client.schedules.delete(PROJECT, SCHEDULE)
    client.schedules.create(
        PROJECT,
        SCHEDULE,
        "dockyard.demo.pipeline:fraud_training",
        dataset=DATASET,
        params={"holdout_days": holdout_days, "n_estimators": n_estimators},
        executor=executor,
    )


def _phase(
    url: str,
    rows: pd.DataFrame,
    rng: np.random.Generator,
    start: float,
    until: float,
    rate: float,
    scheduler: Scheduler | None = None,
    early: bool = False,
) -> Answers:
    """Send a sample of ``rows`` (in time order) from ``start`` to ``until``; meanwhile a
    scheduler (if given) polls at the grace time of the window before."""
    wanted = min(len(rows), int((until - start) * rate) + CHUNK)
    picked = rows.iloc[np.sort(rng.choice(len(rows), wanted, replace=False))]
    bodies = payloads(picked)
    if scheduler is None or early:
        return send(url, bodies, until=until, rate=rate)
    import threading

    poll_at = _window_start(start) + GRACE.total_seconds() + 1.0
    answers: list[Answers] = []
    thread = threading.Thread(
        target=lambda: answers.append(send(url, bodies, until=until, rate=rate))
    )
    thread.start()
    if poll_at < until:
        _wait(poll_at)
        scheduler.poll()
    thread.join()
    return answers[0]


CHUNK = 50


def _send_labels(client: Client, answers: Answers, story: Callable[[str], None], what: str) -> int:
    """The true outcomes of ``answers``, as labels by prediction id, once the server wrote
    them to its log; returns how many were stored."""
    time.sleep(FLUSH)
    if not answers.labels:
        return 0
    result = dy.log_labels(MODEL, answers.labels, client=client)
    frauds = int(sum(answers.labels.values()))
    story(f"labels of the {what} predictions arrived: {result.stored:,} ({frauds} frauds)")
    return int(result.stored)


def _settle(client: Client, scheduler: Scheduler, window_end: float, early: bool) -> list[Any]:
    """Compute the windows that ended by ``window_end`` and run what their alerts fire:
    after the grace time, as a runner would, or at once with an explicit ``until``."""
    if early:
        until = dt.datetime.fromtimestamp(window_end, dt.UTC) + GRACE
        client.monitoring.run(MODEL, until=until)
    else:
        _wait(window_end + GRACE.total_seconds() + 1.0)
    return scheduler.poll()


def _finish(client: Client, facts: dict[str, Any], started: float) -> dict[str, Any]:
    windows = client.monitoring.windows(
        MODEL, since=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    )
    facts["windows"] = [
        {
            "start": w.start.isoformat(),
            "version": w.version,
            "rows": w.rows,
            "drifted": w.drifted,
            "labelled": w.performance.labelled,
            "auc": w.performance.realised.get("auc"),
            "estimated_auc": w.performance.estimated.get("auc"),
        }
        for w in windows
    ]
    facts["seconds"] = round(time.time() - started, 1)
    return facts


def _answered(answers: Answers) -> str:
    versions = ", ".join(f"v{v}: {n:,}" for v, n in sorted(answers.by_version().items()))
    failed = f", {answers.failed} failed ({answers.first_failure})" if answers.failed else ""
    return f"{len(answers.labels):,} answers ({versions}){failed}"


def _quiet_window(client: Client, now: float) -> float:
    """When the normal traffic may start: now, unless this minute's window already holds
    answers of the usual demo (then the next window, so the first window is all ours)."""
    logged = client.serving.predictions(MODEL, limit=1).predictions
    newest = max((p.at.timestamp() for p in logged), default=0.0)
    return now if newest < _window_start(now) else _window_start(now) + 60.0


def _window_start(at: float) -> float:
    return at - at % 60.0


def _next_boundary(now: float, *, at_least: float) -> float:
    boundary = _window_start(now) + 60.0
    return boundary if boundary - now >= at_least else boundary + 60.0


def _wait(until: float) -> None:
    while (left := until - time.time()) > 0:
        time.sleep(min(left, 1.0))


def _hm(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def print_next(console: Any, facts: dict[str, Any], settings: Settings) -> None:
    """The windows the monitor computed, and where to look further."""
    console.print("\n[bold]the monitor's windows[/] (realised AUC from the labels):")
    for w in facts.get("windows", []):
        auc = f"{w['auc']:.3f}" if w["auc"] is not None else "-"
        drifted = ", ".join(w["drifted"]) or "no drift"
        console.print(
            f"  {w['start'][11:16]} v{w['version']}: {w['rows']:,} rows, {w['labelled']:,} "
            f"labelled, AUC {auc}; {drifted}",
            highlight=False,
        )
    console.print(f"\nthe loop took {facts['seconds']:.0f} s. Look further:")
    home = f"export DOCKYARD_HOME={settings.home}" if not settings.url else ""
    for line in (
        home,
        f"dockyard monitor report {MODEL}        # the windows: drift, labels, AUC",
        "dockyard monitor alerts                      # the alerts and what they did",
        f"dockyard models history {MODEL}       # the alias moves",
        f"dockyard pipelines schedule list -p {PROJECT}  # the retrain schedule",
        f"dockyard ui  -> /models/{MODEL}?tab=monitoring",
    ):
        if line:
            console.print(f"  {line}", highlight=False, soft_wrap=True)
