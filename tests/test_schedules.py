"""Pipeline schedules: cron schedules and dataset triggers through both transports on both
databases, firing by the scheduler (exactly once under two schedulers, once for a missed
window, once per new valid version), failures recorded, the server's scheduler thread, the
CLI, and bad input."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from croniter import croniter
from sqlalchemy import update
from typer.testing import CliRunner

import dockyard as dy
from conftest import ADMIN_TOKEN
from dockyard.cli import schedules as schedules_cli
from dockyard.cli.main import main
from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings, load_settings
from dockyard.core.errors import Conflict, InvalidInput, NotFound
from dockyard.sdk.scheduler import Fired, Scheduler, start_in_thread
from dockyard.server.app import API_PREFIX, create_app
from dockyard.server.runner import serve_in_thread
from dockyard.services import Services
from dockyard.store.db import Database
from dockyard.store.tables import PipelineScheduleRow

FLOW = """
import dockyard as dy

@dy.step
def stamp(tag: str, data: str) -> str:
    return f"{tag} {data}"

@dy.step
def count(raw: dy.DatasetVersion) -> int:
    return len(raw.to_pandas())

@dy.step
def explode(tag: str) -> str:
    raise RuntimeError(f"boom {tag}")

@dy.pipeline
def nightly(tag: str = "t"):
    stamp(tag, "nightly")

@dy.pipeline
def retrain(data: str = "tx@latest", tag: str = "t"):
    count(dy.load(data))
    stamp(tag, data)

@dy.pipeline
def broken(tag: str = "t"):
    explode(tag)

not_a_pipeline = 3
"""


@pytest.fixture
def flow(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The test pipelines as a file (its name unique to the test), for ``file.py:function``."""
    stem = "sched_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:60]
    path = tmp_path / f"{stem}.py"
    path.write_text(textwrap.dedent(FLOW))
    return str(path)


def make_due(db: Database, name: str, ago: dt.timedelta = dt.timedelta(seconds=1)) -> None:
    """Move a cron schedule's next firing into the past (as if its slot had come)."""
    at = dt.datetime.now(dt.UTC) - ago
    db.write(
        lambda s: s.execute(
            update(PipelineScheduleRow)
            .where(PipelineScheduleRow.name == name)
            .values(next_fire_at=at)
        )
    )


def quiet(_line: str) -> None:
    pass


def fire_once(client: Client) -> list[Fired]:
    return Scheduler(client, say=quiet).poll()


def table(version: int, rows: int) -> pd.DataFrame:
    return pd.DataFrame({"amount": [float(version)] * rows})


# -- records through both transports and both databases ---------------------------------------


def test_create_list_show_enable_disable_delete(client: Client, flow: str) -> None:
    client.projects.create("p")
    dataset = dy.dataset("tx", project="p", client=client)
    dataset.add_version(table(1, 3))
    before = dt.datetime.now(dt.UTC)
    nightly = client.schedules.create(
        "p",
        "nightly",
        f"{flow}:nightly",
        cron="0 3 * * *",
        params={"tag": "n"},
        executor="inprocess",
    )
    assert (nightly.cron, nightly.dataset, nightly.enabled) == ("0 3 * * *", None, True)
    assert nightly.params == {"tag": "n"} and nightly.executor == "inprocess"
    expected = croniter("0 3 * * *", before).get_next(dt.datetime)
    assert nightly.next_fire_at == expected
    assert (nightly.next_fire_at.hour, nightly.next_fire_at.minute) == (3, 0)
    assert before < nightly.next_fire_at <= before + dt.timedelta(days=1)
    assert nightly.last_fired_at is None and nightly.last_run_id is None
    assert nightly.trigger == "cron 0 3 * * *"

    on_data = client.schedules.create("p", "on-data", f"{flow}:retrain", dataset="tx")
    assert (on_data.dataset, on_data.dataset_param, on_data.cron) == ("tx", "data", None)
    assert on_data.last_seen_version == 1 and on_data.next_fire_at is None
    assert on_data.executor == "process"

    assert [s.name for s in client.schedules.list("p")] == ["nightly", "on-data"]
    assert [s.name for s in client.schedules.list()] == ["nightly", "on-data"]
    assert client.schedules.get("p", "nightly") == nightly

    off = client.schedules.disable("p", "nightly")
    assert off.enabled is False
    assert client.schedules.get("p", "nightly").enabled is False
    on = client.schedules.enable("p", "nightly")
    assert on.enabled is True and on.next_fire_at == expected

    client.schedules.delete("p", "nightly")
    with pytest.raises(NotFound, match="no schedule 'nightly'"):
        client.schedules.get("p", "nightly")
    with pytest.raises(NotFound):
        client.schedules.delete("p", "nightly")
    assert [s.name for s in client.schedules.list("p")] == ["on-data"]


def test_bad_input_gets_clear_errors(client: Client, flow: str, tmp_path: Path) -> None:
    client.projects.create("p")
    ok = f"{flow}:nightly"
    with pytest.raises(InvalidInput, match="not a valid cron expression"):
        client.schedules.create("p", "s", ok, cron="61 * * * *")
    with pytest.raises(InvalidInput, match="not a cron expression: use five fields"):
        client.schedules.create("p", "s", ok, cron="* * *")
    with pytest.raises(InvalidInput, match="either a cron expression or a dataset"):
        client.schedules.create("p", "s", ok)
    with pytest.raises(InvalidInput, match="not both"):
        client.schedules.create("p", "s", ok, cron="@daily", dataset="tx")
    with pytest.raises(InvalidInput, match="no_such_module_xyz"):
        client.schedules.create("p", "s", "no_such_module_xyz:flow", cron="@daily")
    with pytest.raises(InvalidInput, match="there is no file"):
        client.schedules.create("p", "s", f"{tmp_path / 'missing.py'}:flow", cron="@daily")
    with pytest.raises(InvalidInput, match="module:function"):
        client.schedules.create("p", "s", "just_a_name", cron="@daily")
    broken_file = tmp_path / "broken_syntax.py"
    broken_file.write_text("def (:\n")
    with pytest.raises(InvalidInput, match=r"cannot import .*SyntaxError"):
        client.schedules.create("p", "s", f"{broken_file}:flow", cron="@daily")
    with pytest.raises(InvalidInput, match=r"not a @dy\.pipeline function \(it is a int\)"):
        client.schedules.create("p", "s", f"{flow}:not_a_pipeline", cron="@daily")
    with pytest.raises(InvalidInput, match="has no 'nope'"):
        client.schedules.create("p", "s", f"{flow}:nope", cron="@daily")
    with pytest.raises(InvalidInput, match="its parameters: tag"):
        client.schedules.create("p", "s", ok, cron="@daily", params={"epochs": 3})
    with pytest.raises(InvalidInput, match="its parameters: tag"):
        client.schedules.create("p", "s", ok, dataset="tx")  # nightly takes no `data`
    with pytest.raises(NotFound, match="no dataset 'tx'"):
        client.schedules.create("p", "s", f"{flow}:retrain", dataset="tx")
    with pytest.raises(InvalidInput, match="which the dataset trigger fills"):
        client.schedules.create("p", "s", f"{flow}:retrain", dataset="tx", params={"data": "x"})
    with pytest.raises(NotFound, match="no project named 'nowhere'"):
        client.schedules.create("nowhere", "s", ok, cron="@daily")
    with pytest.raises(InvalidInput, match="not a valid name"):
        client.schedules.create("p", "bad name", ok, cron="@daily")
    client.schedules.create("p", "s", ok, cron="@daily")
    with pytest.raises(Conflict, match="already has a schedule 's'"):
        client.schedules.create("p", "s", ok, cron="@hourly")
    assert [s.cron for s in client.schedules.list("p")] == ["@daily"]


def test_bad_input_over_http_is_4xx_with_a_message(
    services: Services, flow: str, tmp_path: Path
) -> None:
    running = serve_in_thread(create_app(services=services, token=ADMIN_TOKEN))
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        with httpx.Client(base_url=running.url + API_PREFIX, headers=admin) as http:
            assert http.post("/projects", json={"name": "p"}).status_code == 201
            good = {"project": "p", "name": "s", "pipeline": f"{flow}:nightly", "cron": "@daily"}
            cases = [
                ({**good, "cron": "99 * * * *"}, 422, "not a valid cron expression"),
                ({**good, "cron": None}, 422, "either a cron expression or a dataset"),
                ({**good, "dataset": "tx"}, 422, "not both"),
                ({**good, "pipeline": "nope_xyz"}, 422, "name the pipeline as module:function"),
                ({**good, "pipeline": "no-module:flow"}, 422, "is not a module name"),
                ({**good, "pipeline": f"{flow}:not-a-name"}, 422, "module:function"),
                ({**good, "pipeline": "~/flows.py:nightly"}, 422, "without '~'"),
                (
                    {**good, "pipeline": f"{flow}:retrain", "cron": None, "dataset": "tx"},
                    404,
                    "no dataset 'tx'",
                ),
            ]
            for body, status, message in cases:
                answer = http.post("/pipelines/schedules", json=body)
                assert answer.status_code == status, (body, answer.text)
                assert message in answer.json()["error"]["message"]
            assert http.post("/pipelines/schedules", json=good).status_code == 201
            again = http.post("/pipelines/schedules", json=good)
            assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
            assert http.get("/pipelines/schedules/p/nope").status_code == 404
    finally:
        running.stop()


# -- firing ------------------------------------------------------------------------------------


def test_a_due_cron_schedule_fires_once_and_a_missed_window_fires_once(
    client: Client, services: Services, flow: str
) -> None:
    client.projects.create("p")
    client.schedules.create(
        "p",
        "hourly",
        f"{flow}:nightly",
        cron="0 * * * *",
        params={"tag": "h"},
        executor="inprocess",
    )
    assert fire_once(client) == []  # not due yet
    make_due(services.db, "hourly", ago=dt.timedelta(hours=5, minutes=30))  # 6 slots missed
    lines: list[str] = []
    fired = Scheduler(client, say=lines.append).poll()
    assert [(f.schedule, f.reason, f.status) for f in fired] == [("hourly", "cron", "succeeded")]
    assert len(lines) == 1 and "fired p/hourly (cron): run " in lines[0]
    after = client.schedules.get("p", "hourly")
    assert after.last_run_id == fired[0].run_id and after.last_status == "succeeded"
    now = dt.datetime.now(dt.UTC)
    assert after.last_fired_at is not None and now - after.last_fired_at < dt.timedelta(minutes=1)
    assert after.next_fire_at is not None and now < after.next_fire_at
    assert after.next_fire_at == croniter("0 * * * *", after.last_fired_at).get_next(dt.datetime)
    assert fire_once(client) == []  # the missed slots do not fire again
    runs = client.pipelines.list(project="p").items
    assert [r.id for r in runs] == [fired[0].run_id]
    assert runs[0].params == {"tag": "h"} and runs[0].status == "succeeded"

    client.schedules.disable("p", "hourly")
    make_due(services.db, "hourly")
    assert fire_once(client) == []  # a disabled schedule does not fire
    assert client.schedules.enable("p", "hourly").next_fire_at == croniter(
        "0 * * * *", dt.datetime.now(dt.UTC)
    ).get_next(dt.datetime)


def test_a_dataset_trigger_fires_once_per_new_valid_version(client: Client, flow: str) -> None:
    client.projects.create("p")
    tx = dy.dataset("tx", project="p", client=client)
    tx.add_version(table(1, 2))
    client.schedules.create(
        "p", "retrain", f"{flow}:retrain", dataset="tx", params={"tag": "r"}, executor="inprocess"
    )
    assert fire_once(client) == []  # versions that existed before the trigger do not fire

    tx.add_version(table(2, 4))
    fired = fire_once(client)
    assert [(f.reason, f.status) for f in fired] == [("tx@2", "succeeded")]
    run = client.pipelines.get(fired[0].run_id or "")
    assert run.params == {"data": "tx@2", "tag": "r"}
    assert dy.PipelineResult(client, run).output("count") == 4
    assert fire_once(client) == []
    schedule = client.schedules.get("p", "retrain")
    assert (schedule.last_seen_version, schedule.last_run_id) == (2, run.id)

    tx.set_rules([{"check": "range", "column": "amount", "max": 100}])
    failed = tx.add_version(table(500, 1))  # fails validation: not accepted, no firing
    assert failed.info.status == "failed"
    assert fire_once(client) == []
    assert client.schedules.get("p", "retrain").last_seen_version == 2

    tx.add_version(table(501, 2), force=True)  # forced: accepted
    tx.add_version(table(5, 5))
    tx.add_version(table(6, 6))
    fired = fire_once(client)
    assert [f.reason for f in fired] == ["tx@4", "tx@5", "tx@6"]
    assert all(f.status == "succeeded" for f in fired)
    outputs = [
        dy.PipelineResult(client, client.pipelines.get(f.run_id or "")).output("count")
        for f in fired
    ]
    assert outputs == [2, 5, 6]
    assert fire_once(client) == []

    client.schedules.disable("p", "retrain")
    tx.add_version(table(7, 7))
    assert fire_once(client) == []
    assert client.schedules.enable("p", "retrain").last_seen_version == 7
    assert fire_once(client) == []  # what came while disabled does not fire later
    tx.add_version(table(8, 8))
    assert [f.reason for f in fire_once(client)] == ["tx@8"]


def test_a_requested_trigger_runs_the_newest_accepted_version_once(
    client: Client, services: Services, flow: str
) -> None:
    """A monitor's retraining fires a dataset trigger on its newest accepted version; that
    version then counts as seen, so the trigger does not retrain on it a second time."""
    from dockyard.pipelines.schedules import fire_now

    client.projects.create("p")
    tx = dy.dataset("tx", project="p", client=client)
    tx.add_version(table(1, 2))
    client.schedules.create("p", "retrain", f"{flow}:retrain", dataset="tx", executor="inprocess")
    tx.add_version(table(2, 3))
    tx.set_rules([{"check": "range", "column": "amount", "max": 100}])
    assert tx.add_version(table(500, 1)).info.status == "failed"  # not accepted
    services.db.write(lambda s: fire_now(s, "p", "retrain"))
    fired = fire_once(client)
    assert [(f.reason, f.status) for f in fired] == [("requested", "succeeded")]
    assert client.pipelines.get(fired[0].run_id or "").params["data"] == "tx@2"
    assert client.schedules.get("p", "retrain").last_seen_version == 2
    assert fire_once(client) == []  # tx@2 is not run again by the trigger
    assert services.db.write(lambda s: fire_now(s, "p", "retrain")) is None  # nor on request
    assert fire_once(client) == []


def test_a_failing_pipeline_is_recorded_and_the_scheduler_goes_on(
    client: Client, services: Services, flow: str, tmp_path: Path
) -> None:
    client.projects.create("p")
    for name, target in [("a-broken", "broken"), ("b-fine", "nightly")]:
        client.schedules.create("p", name, f"{flow}:{target}", cron="@hourly", executor="inprocess")
        make_due(services.db, name)
    gone = tmp_path / "gone.py"
    gone.write_text(textwrap.dedent(FLOW))
    client.schedules.create("p", "c-gone", f"{gone}:nightly", cron="@hourly", executor="inprocess")
    gone.unlink()
    make_due(services.db, "c-gone")

    fired = {f.schedule: f for f in fire_once(client)}
    assert sorted(fired) == ["a-broken", "b-fine", "c-gone"]
    assert fired["a-broken"].status == "failed" and fired["a-broken"].run_id is not None
    assert fired["b-fine"].status == "succeeded"
    assert fired["c-gone"].status == "failed" and fired["c-gone"].run_id is None
    assert "gone.py" in fired["c-gone"].error
    broken = client.schedules.get("p", "a-broken")
    assert broken.last_status == "failed" and broken.last_run_id == fired["a-broken"].run_id
    assert client.pipelines.get(broken.last_run_id or "").status == "failed"
    gone_state = client.schedules.get("p", "c-gone")
    assert gone_state.last_status == "failed" and "gone.py" in gone_state.last_error
    assert client.schedules.get("p", "b-fine").last_error == ""


# -- two schedulers on one database ------------------------------------------------------------


@pytest.fixture
def two_clients(db_url: str, tmp_path: Path) -> Iterator[tuple[Client, Client, Database]]:
    """Two embedded clients (two schedulers' worth of engines) on the same database."""
    made = [
        connect_with(Settings(home=tmp_path / name, db=db_url, blobs=str(tmp_path / "blobs")))
        for name in ("a", "b")
    ]
    db = Database(db_url)
    yield made[0], made[1], db
    db.dispose()
    for c in made:
        c.close()


def test_two_schedulers_claim_each_firing_exactly_once(
    two_clients: tuple[Client, Client, Database], flow: str
) -> None:
    a, b, db = two_clients
    a.projects.create("p")
    names = [f"s{i:02d}" for i in range(24)]
    for name in names:
        a.schedules.create("p", name, f"{flow}:nightly", cron="*/5 * * * *")
    for _round in range(3):
        for name in names:
            make_due(db, name)
        claimed: dict[str, list[str]] = {"a": [], "b": []}
        start = threading.Barrier(2)

        def claim_all(client: Client, start: threading.Barrier, into: list[str]) -> None:
            start.wait()
            while found := client.schedules.claim(limit=1):
                into.extend(f.schedule.name for f in found)

        threads = [
            threading.Thread(target=claim_all, args=(c, start, claimed[w]))
            for w, c in (("a", a), ("b", b))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        together = claimed["a"] + claimed["b"]
        assert sorted(together) == names  # every firing claimed, none twice
        assert a.schedules.claim() == [] and b.schedules.claim() == []


def test_two_schedulers_running_pipelines_fire_each_schedule_once(
    two_clients: tuple[Client, Client, Database], flow: str
) -> None:
    a, b, db = two_clients
    a.projects.create("p")
    tx = dy.dataset("tx", project="p", client=a)
    tx.add_version(table(1, 1))
    names = [f"cron-{i}" for i in range(4)]
    for i, name in enumerate(names):
        a.schedules.create(
            "p",
            name,
            f"{flow}:nightly",
            cron="@daily",
            params={"tag": str(i)},
            executor="inprocess",
        )
        make_due(db, name)
    a.schedules.create("p", "trigger", f"{flow}:retrain", dataset="tx", executor="inprocess")
    tx.add_version(table(2, 2))
    tx.add_version(table(3, 3))

    results: dict[str, list[Fired]] = {}
    start = threading.Barrier(2)

    def poll(who: str, client: Client) -> None:
        start.wait()
        results[who] = Scheduler(client, say=quiet).poll()

    threads = [threading.Thread(target=poll, args=(w, c)) for w, c in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    fired = results["a"] + results["b"]
    assert sorted((f.schedule, f.reason) for f in fired) == sorted(
        [(n, "cron") for n in names] + [("trigger", "tx@2"), ("trigger", "tx@3")]
    )
    assert all(f.status == "succeeded" for f in fired), [f.error for f in fired]
    runs = a.pipelines.list(project="p").items
    assert sorted(r.id for r in runs) == sorted(f.run_id or "" for f in fired)
    assert fire_once(a) == [] and fire_once(b) == []


# -- the server's scheduler and the CLI --------------------------------------------------------


def test_the_server_runs_a_scheduler_thread(services: Services, flow: str) -> None:
    lines: list[str] = []

    def start(running: Services) -> Callable[[], None]:
        return start_in_thread(running, interval=0.1, say=lines.append)

    local = connect_with(services.settings)
    local.projects.create("p")
    local.schedules.create("p", "s", f"{flow}:nightly", cron="@daily", executor="inprocess")
    make_due(services.db, "s")
    server = serve_in_thread(create_app(services=services, background=[start]))
    try:
        deadline = time.monotonic() + 60
        while local.schedules.get("p", "s").last_status in (None, "running"):
            assert time.monotonic() < deadline, lines
            time.sleep(0.1)
    finally:
        server.stop()
    state = local.schedules.get("p", "s")
    assert state.last_status == "succeeded" and state.last_run_id is not None
    assert len(lines) == 1 and "fired p/s (cron)" in lines[0]
    assert local.pipelines.get(state.last_run_id).created_by == "scheduler"


def test_cli_schedules_and_scheduler_once(
    tmp_path: Path,
    flow: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("DOCKYARD_HOME", str(home))
    monkeypatch.delenv("DOCKYARD_URL", raising=False)
    cli = CliRunner()

    def schedule(*argv: str) -> tuple[int, str]:
        result = cli.invoke(schedules_cli.app, list(argv), env={"COLUMNS": "250"})
        return result.exit_code, result.output

    code, out = schedule(
        "create", "nightly", f"{flow}:nightly", "-p", "p", "--cron", "0 3 * * *",
        "--set", "tag=cli", "-e", "inprocess", "--json",
    )  # fmt: skip
    assert code == 0, out
    made = json.loads(out)
    assert made["params"] == {"tag": "cli"} and made["next_fire_at"].endswith("03:00:00Z")
    code, out = schedule("list", "--json")
    assert [s["name"] for s in json.loads(out)] == ["nightly"]
    code, out = schedule("list")
    assert code == 0 and "nightly" in out and "cron 0 3 * * *" in out
    code, out = schedule("show", "nightly", "-p", "p")
    assert code == 0 and "params:" in out
    assert json.loads(schedule("disable", "nightly", "-p", "p", "--json")[1])["enabled"] is False
    assert json.loads(schedule("enable", "nightly", "-p", "p", "--json")[1])["enabled"] is True
    bad = cli.invoke(
        schedules_cli.app, ["create", "bad", f"{flow}:nightly", "-p", "p", "--cron", "nope"]
    )
    assert isinstance(bad.exception, InvalidInput) and "cron" in str(bad.exception)
    gone = f"{tmp_path / 'gone.py'}:flow"  # checked here first, unless --no-check
    bad = cli.invoke(schedules_cli.app, ["create", "later", gone, "-p", "p", "--cron", "@daily"])
    assert isinstance(bad.exception, InvalidInput) and "--no-check" in str(bad.exception)
    code, out = schedule(
        "create", "later", gone, "-p", "p", "--cron", "@daily", "--no-check", "--disabled"
    )
    assert code == 0, out
    assert schedule("delete", "later", "-p", "p", "--yes")[0] == 0

    make_due(Database(load_settings().db), "nightly")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["scheduler", "--once", "--json"])
    out, _ = capsys.readouterr()
    assert exited.value.code == 0
    assert [(f["schedule"], f["status"]) for f in json.loads(out)] == [("nightly", "succeeded")]
    with pytest.raises(SystemExit) as exited:
        main(["scheduler", "--once"])
    assert exited.value.code == 0 and "nothing is due" in capsys.readouterr().err
    code, out = schedule("show", "nightly", "-p", "p", "--json")
    assert json.loads(out)["last_status"] == "succeeded"
    assert schedule("delete", "nightly", "-p", "p", "--yes")[0] == 0
    assert json.loads(schedule("list", "--json")[1]) == []
