"""Pipelines: the DAG from Python, outputs by reference, caching (what invalidates what),
fan-out, failures, retries, timeouts, resume, cancellation, tracking and lineage, and bad
input. The executor-dependent cases run on every executor."""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

import dockyard as dy
from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings
from dockyard.core.errors import InvalidInput
from dockyard.pipelines.graph import Graph, Node, Output


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    settings = Settings(
        home=tmp_path / "home", db=f"sqlite:///{tmp_path / 'meta.db'}", blobs=str(tmp_path / "b")
    )
    made = connect_with(settings)
    yield made
    made.close()


def write_module(folder: Path, name: str, source: str) -> ModuleType:
    """Import ``source`` as module ``name`` (again, if it changed: a new module object)."""
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


FLOW = """
import pandas as pd
import dockyard as dy

def helper(x):
    return x * 2

@dy.step
def make(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": range(n)})

@dy.step
def total(df: pd.DataFrame, scale: float = 1.0) -> float:
    dy.log_metric("total", float(df.x.sum() * scale))
    print("total is", df.x.sum() * scale)
    return float(helper(df.x.sum()) * scale / 2)

@dy.step
def report(value: float, df: pd.DataFrame) -> dict:
    return {"value": value, "rows": len(df)}

@dy.pipeline
def flow(n: int = 10, scale: float = 2.0):
    df = make(n)
    t = total(df, scale=scale)
    report(t, df)
"""


def statuses(result: dy.PipelineResult) -> dict[str, str]:
    return {s.node: s.status for s in result.steps}


def test_run_records_steps_as_child_runs_and_outputs_by_reference(
    client: Client, tmp_path: Path
) -> None:
    mod = write_module(tmp_path, "flow_a", FLOW)
    result = dy.run(mod.flow, project="p", executor="inprocess", client=client)
    assert result.status == "succeeded"
    assert statuses(result) == {"make": "succeeded", "total": "succeeded", "report": "succeeded"}
    assert result.output("report") == {"value": 90.0, "rows": 10}
    pd.testing.assert_frame_equal(result.output("make"), pd.DataFrame({"x": range(10)}))
    parent = client.runs.get(result.id)
    assert parent.tags["dockyard.pipeline"] == "flow" and parent.status == "finished"
    assert parent.params == {"n": "10", "scale": "2.0"}
    total = result.step("total")
    child = client.runs.get(total.run_id or "")
    assert child.parent_id == result.id and child.name == "total"
    assert child.metrics["total"].last == 90.0
    assert [a.path for a in client.runs.artifacts(child.id)] == ["dockyard/output.log"]
    assert total.output is not None and total.output.inline == "90.0"  # small JSON: inline
    make_run = result.step("make").run_id or ""
    assert [a.path for a in client.runs.artifacts(make_run)] == ["outputs/value.parquet"]
    log = client.runs.open_artifact(child.id, "dockyard/output.log").read()
    assert b"total is 90" in log
    listed = client.pipelines.list(project="p").items
    assert [r.id for r in listed] == [result.id]
    assert [n["id"] for n in listed[0].graph] == ["make", "total", "report"]


def test_cache_invalidates_exactly_what_changed(client: Client, tmp_path: Path) -> None:
    first = write_module(tmp_path, "flow_b", FLOW)
    dy.run(first.flow, project="p", executor="inprocess", client=client)
    again = dy.run(first.flow, project="p", executor="inprocess", client=client)
    assert set(statuses(again).values()) == {"cached"}
    assert again.step("total").cached_from is not None
    # a parameter: only the steps that take it (and what depends on them)
    scaled = dy.run(first.flow, project="p", executor="inprocess", client=client, scale=3.0)
    assert statuses(scaled) == {"make": "cached", "total": "succeeded", "report": "succeeded"}
    # code of a helper the step calls: the step and its downstream, not its upstream
    changed = write_module(tmp_path, "flow_b", FLOW.replace("return x * 2", "return x * 4"))
    recoded = dy.run(changed.flow, project="p", executor="inprocess", client=client)
    assert statuses(recoded) == {"make": "cached", "total": "succeeded", "report": "succeeded"}
    assert recoded.output("total") == 180.0
    # an input: a different n makes a different table, so everything re-runs
    other = dy.run(changed.flow, project="p", executor="inprocess", client=client, n=11)
    assert set(statuses(other).values()) == {"succeeded"}


def test_dataset_inputs_are_resolved_recorded_and_keyed(client: Client, tmp_path: Path) -> None:
    mod = write_module(
        tmp_path,
        "flow_c",
        """
        import dockyard as dy

        @dy.step
        def count(raw: dy.DatasetVersion, threshold: float) -> int:
            return len(raw.to_pandas(filter=f"amount > {threshold}"))

        @dy.pipeline
        def flow(data: str = "tx@latest", threshold: float = 1.5):
            count(dy.load(data), threshold)
        """,
    )
    ds = dy.dataset("tx", project="p", client=client)
    ds.add_version(pd.DataFrame({"amount": [1.0, 2.0, 3.0]}))
    result = dy.run(mod.flow, project="p", executor="inprocess", client=client)
    assert result.output("count") == 2
    assert result.step("load-tx").step == "tx@1"
    count_run = result.step("count").run_id
    inputs = {
        (io.run_id, io.kind) for io in client.runs.io(result.id) + client.runs.io(count_run or "")
    }
    assert (result.id, "dataset_version") in inputs and (count_run, "dataset_version") in inputs
    assert (
        statuses(dy.run(mod.flow, project="p", executor="inprocess", client=client))["count"]
        == "cached"
    )
    ds.add_version(pd.DataFrame({"amount": [1.0, 2.0, 3.0, 4.0]}))
    newer = dy.run(mod.flow, project="p", executor="inprocess", client=client)
    assert newer.step("count").status == "succeeded" and newer.output("count") == 3
    pinned = dy.run(mod.flow, project="p", executor="inprocess", client=client, data="tx@1")
    assert pinned.step("count").status == "cached"


def test_fan_out_is_one_record_with_per_item_status(client: Client, tmp_path: Path) -> None:
    mod = write_module(
        tmp_path,
        "flow_d",
        """
        import dockyard as dy

        @dy.step
        def square(v: int, offset: int = 0) -> int:
            return v * v + offset

        @dy.step
        def add(values: list) -> int:
            return sum(values)

        @dy.pipeline
        def flow(items: list = list(range(100)), offset: int = 0):
            add(square.map(items, offset=offset))
        """,
    )
    result = dy.run(mod.flow, project="p", executor="inprocess", client=client)
    square = result.step("square")
    assert (square.kind, square.items_total, square.items_status) == ("map", 100, "s" * 100)
    assert result.output("add") == sum(v * v for v in range(100))
    assert len(result.output("square")) == 100
    items = list(range(100))
    items[7] = 1000
    changed = dy.run(mod.flow, project="p", executor="inprocess", client=client, items=items)
    square = changed.step("square")
    assert square.items_status.count("c") == 99 and square.items_status[7] == "s"
    assert changed.output("add") == sum(v * v for v in items)


def test_failure_skips_downstream_and_resume_reuses_finished_steps(
    client: Client, tmp_path: Path
) -> None:
    flag = tmp_path / "broken"
    flag.write_text("yes")
    source = f"""
        from pathlib import Path
        import dockyard as dy

        @dy.step
        def first() -> int:
            return 1

        @dy.step
        def second(v: int) -> int:
            if Path({str(flag)!r}).exists():
                raise RuntimeError("the data is broken")
            return v + 1

        @dy.step
        def third(v: int) -> int:
            return v + 1

        @dy.pipeline
        def flow():
            third(second(first()))
        """
    mod = write_module(tmp_path, "flow_e", source)
    failed = dy.run(mod.flow, project="p", executor="inprocess", client=client)
    assert failed.status == "failed"
    assert statuses(failed) == {"first": "succeeded", "second": "failed", "third": "skipped"}
    assert "RuntimeError: the data is broken" in failed.step("second").error
    assert client.runs.get(failed.step("second").run_id or "").status == "failed"
    assert client.runs.get(failed.id).status == "failed"
    assert "second" in failed.run.error
    flag.unlink()
    resumed = dy.resume(failed.id, pipeline=mod.flow, client=client)
    assert resumed.run.resumed_from == failed.id
    assert statuses(resumed) == {"first": "cached", "second": "succeeded", "third": "succeeded"}
    assert resumed.output("third") == 3
    with pytest.raises(InvalidInput, match="only failed or cancelled runs resume"):
        dy.resume(resumed.id, pipeline=mod.flow, client=client)


def test_retries_with_backoff(client: Client, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    counter.write_text("0")
    mod = write_module(
        tmp_path,
        "flow_f",
        f"""
        from pathlib import Path
        import dockyard as dy

        @dy.step(retries=2, retry_delay=0.05, cache=False)
        def flaky() -> int:
            path = Path({str(counter)!r})
            n = int(path.read_text()) + 1
            path.write_text(str(n))
            if n < 3:
                raise ConnectionError(f"attempt {{n}}")
            return n

        @dy.pipeline
        def flow():
            flaky()
        """,
    )
    result = dy.run(mod.flow, project="p", executor="inprocess", client=client)
    assert result.status == "succeeded" and result.output("flaky") == 3
    assert result.step("flaky").attempts == 3
    counter.write_text("-5")
    failed = dy.run(mod.flow, project="p", executor="inprocess", client=client)
    assert failed.status == "failed" and failed.step("flaky").attempts == 3
    assert "ConnectionError" in failed.step("flaky").error


def test_bad_inputs_get_clear_errors(client: Client, tmp_path: Path) -> None:
    mod = write_module(
        tmp_path,
        "flow_g",
        """
        import dockyard as dy

        @dy.step
        def opaque() -> object:
            return object()

        @dy.step
        def use(v: int) -> int:
            return v

        @dy.pipeline
        def flow(n: int):
            use(n)

        @dy.pipeline
        def returns_object():
            opaque()

        @dy.pipeline
        def branches(n: int = 1):
            if use(n):
                use(2)
        """,
    )
    with pytest.raises(InvalidInput, match="missing a required argument: 'n'"):
        dy.run(mod.flow, project="p", executor="inprocess", client=client)
    with pytest.raises(InvalidInput, match="unexpected keyword argument 'm'"):
        dy.run(mod.flow, project="p", executor="inprocess", client=client, n=1, m=2)
    with pytest.raises(InvalidInput, match="parameter 'n' of pipeline flow is a ndarray"):
        dy.run(mod.flow, project="p", executor="inprocess", client=client, n=np.zeros(2))
    with pytest.raises(InvalidInput, match="not known while the pipeline is being built"):
        dy.run(mod.branches, project="p", executor="inprocess", client=client)
    failed = dy.run(mod.returns_object, project="p", executor="inprocess", client=client)
    assert failed.status == "failed"
    assert "returned a builtins.object" in failed.step("opaque").error
    assert "pickle=True" in failed.step("opaque").error
    with pytest.raises(InvalidInput, match="quantum"):
        dy.run(mod.flow, project="p", executor="quantum", client=client, n=1)
    with pytest.raises(InvalidInput, match=r"inside a @dy\.pipeline"):
        dy.load("tx@1")
    with pytest.raises(InvalidInput, match=r"takes a @dy\.pipeline"):
        dy.run(mod.use, project="p", client=client)  # type: ignore[arg-type]
    graph = Graph("cyclic")
    graph.nodes["a"] = Node("a", "step", None, after=["b"])
    graph.nodes["b"] = Node("b", "step", None, args={"x": Output("a")})
    with pytest.raises(InvalidInput, match="the pipeline has a cycle: a -> b -> a"):
        graph.order()


def test_a_step_outside_a_pipeline_is_a_plain_function(tmp_path: Path) -> None:
    mod = write_module(tmp_path, "flow_h", FLOW)
    pd.testing.assert_frame_equal(mod.make(2), pd.DataFrame({"x": range(2)}))


def test_cancel_stops_a_running_pipeline(client: Client, tmp_path: Path) -> None:
    mod = write_module(
        tmp_path,
        "flow_i",
        """
        import time
        import dockyard as dy

        @dy.step(cache=False)
        def slow(i: int) -> int:
            time.sleep(0.3)
            return i

        @dy.pipeline
        def flow():
            v = slow(0)
            for i in range(1, 30):
                v = slow.after(v)(i)
        """,
    )
    done: dict[str, Any] = {}
    client.projects.create("p")

    def go() -> None:
        done["result"] = dy.run(mod.flow, project="p", executor="inprocess", client=client)

    thread = threading.Thread(target=go)
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        runs = client.pipelines.list(project="p").items
        if runs and any(s.status == "succeeded" for s in runs[0].steps):
            client.pipelines.cancel(runs[0].id)
            break
        time.sleep(0.05)
    thread.join(30)
    result = done["result"]
    assert result.status == "cancelled"
    counts = statuses(result)
    assert "cancelled" in counts.values() and counts["slow"] == "succeeded"


def test_gc_keeps_what_runs_and_the_cache_need_and_frees_the_rest(
    client: Client, tmp_path: Path
) -> None:
    mod = write_module(
        tmp_path,
        "flow_j",
        """
        import pandas as pd
        import dockyard as dy

        @dy.step(cache=False)
        def table(i: int) -> pd.DataFrame:
            return pd.DataFrame({"v": [i] * 5000})

        @dy.step
        def rows(tables: list) -> int:
            return sum(len(t) for t in tables)

        @dy.pipeline
        def flow():
            rows(table.map([1, 2, 3]))
        """,
    )
    result = dy.run(mod.flow, project="p", executor="inprocess", client=client)
    assert client.gc(grace_seconds=0).blobs_deleted == 0
    assert [len(t) for t in result.output("table")] == [5000, 5000, 5000]
    client.runs.delete(result.id)
    client.runs.purge(result.id)
    client.pipelines.cache_clear("p")
    assert client.gc(grace_seconds=0).blobs_deleted >= 4  # three tables and their list


# -- the same pipelines on every executor -------------------------------------------------

CONFORMANCE = """
import os
import time
from pathlib import Path
import pandas as pd
import dockyard as dy

@dy.step(resources=dy.Resources(cpu=1, memory="256MiB"))
def make(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": range(n), "pid": [os.getpid()] * n})

@dy.step
def total(df: pd.DataFrame) -> float:
    dy.log_metric("total", float(df.x.sum()))
    return float(df.x.sum())

@dy.step
def double(v: int) -> int:
    return 2 * v

@dy.step
def collect(values: list, t: float) -> dict:
    return {"sum": sum(values), "total": t}

@dy.pipeline
def flow(n: int = 10):
    df = make(n)
    collect(double.map(list(range(20))), total(df))

@dy.step(retries=2, retry_delay=0.05, cache=False)
def flaky(counter: str) -> int:
    path = Path(counter)
    n = int(path.read_text()) + 1
    path.write_text(str(n))
    if n < 3:
        raise ConnectionError(f"attempt {n}")
    return n

@dy.step(timeout=0.5, cache=False)
def sleepy() -> int:
    time.sleep(1.5)
    return 1

@dy.step(resources=dy.Resources(cpu=64), cache=False)
def greedy() -> int:
    return 1

@dy.pipeline
def failures(counter: str):
    flaky(counter)
    sleepy()
    greedy()
"""


@pytest.fixture(params=["inprocess", "process", "ray"])
def executor_name(request: pytest.FixtureRequest) -> str:
    if request.param == "ray":
        request.getfixturevalue("local_ray")
    return str(request.param)


def test_conformance_outputs_cache_lineage_and_fan_out(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor_name: str
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))  # workers import the pipeline's module
    mod = write_module(tmp_path, f"conf_{executor_name}", CONFORMANCE)
    result = dy.run(mod.flow, project="p", executor=executor_name, client=client)
    assert result.status == "succeeded", result.run.error
    assert result.run.executor == executor_name
    assert result.output("collect") == {"sum": 2 * sum(range(20)), "total": 45.0}
    assert result.step("double").items_status == "s" * 20
    pids = set(result.output("make").pid)
    assert (pids == {os.getpid()}) == (executor_name == "inprocess")
    child = client.runs.get(result.step("total").run_id or "")
    assert child.parent_id == result.id and child.metrics["total"].last == 45.0
    again = dy.run(mod.flow, project="p", executor=executor_name, client=client)
    assert set(statuses(again).values()) == {"cached"}


def test_conformance_retries_timeouts_and_resources(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor_name: str
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = write_module(tmp_path, f"fail_{executor_name}", CONFORMANCE)
    counter = tmp_path / "counter"
    counter.write_text("0")
    result = dy.run(
        mod.failures, project="p", executor=executor_name, client=client, counter=str(counter)
    )
    assert result.status == "failed"
    flaky = result.step("flaky")
    assert (flaky.status, flaky.attempts, result.output("flaky")) == ("succeeded", 3, 3)
    sleepy = result.step("sleepy")
    assert sleepy.status == "failed" and "WorkTimedOut" in sleepy.error
    greedy = result.step("greedy")
    if executor_name == "inprocess":  # runs everything in the caller: nothing to refuse
        assert greedy.status == "succeeded"
    else:
        assert greedy.status == "failed" and "cpu" in greedy.error.lower()


@pytest.mark.parametrize("executor_name", ["inprocess", "process"])
def test_a_failed_step_leaves_its_output_and_full_traceback_in_its_run(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor_name: str
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = write_module(
        tmp_path,
        f"flow_fail_log_{executor_name}",
        """
        import dockyard as dy

        def deep_helper(x):
            raise ValueError(f"bad value {x}")

        @dy.step
        def breaks() -> int:
            print("loading the data")
            return deep_helper(41)

        @dy.step
        def square(x: int) -> int:
            print(f"item {x}")
            if x == 2:
                raise KeyError("no two")
            return x * x

        @dy.pipeline
        def flow():
            breaks()
            square.map([1, 2, 3])
        """,
    )
    result = dy.run(mod.flow, project="p", executor=executor_name, client=client)
    assert result.status == "failed"

    def log(step: str, path: str) -> str:
        run_id = result.step(step).run_id or ""
        with client.runs.open_artifact(run_id, path) as stream:
            return stream.read().decode()

    text = log("breaks", "dockyard/output.log")
    assert text.startswith("loading the data\n")
    # the worker's own frames, which the step record's error text cannot carry
    assert "deep_helper" in text and "ValueError: bad value 41" in text
    item = log("square", "dockyard/failed/1.log")  # the second item: index 1
    assert "item 2" in item and "KeyError: 'no two'" in item


@pytest.mark.parametrize("executor_name", ["inprocess", "process"])
def test_a_pipeline_against_a_server(
    services: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor_name: str
) -> None:
    """The orchestrator and the step workers talk to a real server over HTTP."""
    running = pytest.importorskip("dockyard.server.runner").serve_in_thread(
        pytest.importorskip("dockyard.server.app").create_app(services=services)
    )
    try:
        remote = connect_with(Settings(home=tmp_path / "client", db="", blobs="", url=running.url))
        monkeypatch.syspath_prepend(str(tmp_path))
        mod = write_module(tmp_path, f"served_{executor_name}", CONFORMANCE)
        ds = dy.dataset("tx", project="p", client=remote)
        ds.add_version(pd.DataFrame({"amount": [1.0, 2.0]}))
        result = dy.run(mod.flow, project="p", executor=executor_name, client=remote)
        assert result.status == "succeeded", result.run.error
        assert result.output("collect") == {"sum": 2 * sum(range(20)), "total": 45.0}
        child = remote.runs.get(result.step("total").run_id or "")
        assert child.metrics["total"].last == 45.0
        again = dy.run(mod.flow, project="p", executor=executor_name, client=remote)
        assert set(statuses(again).values()) == {"cached"}
        remote.close()
    finally:
        running.stop()


def test_a_worker_elsewhere_fetches_inputs_and_stores_its_output(
    client: Client, tmp_path: Path
) -> None:
    """A worker on another machine (a Ray cluster) cannot read the orchestrator's files: it
    fetches inputs from the blob store by digest and stores its output itself."""
    from dockyard.pipelines.values import dump
    from dockyard.sdk.step_worker import Call, Input, run_call

    frame = pd.DataFrame({"x": [1, 2, 3]})
    ref = dump(frame, tmp_path / "made" / "value")
    for f in ref.files:
        client.blobs.put_file(tmp_path / "made" / "value" / f.path, digest=f.digest)
    elsewhere = Input(ref=ref, files={f.path: str(tmp_path / "gone" / f.path) for f in ref.files})

    def double(df: pd.DataFrame) -> pd.DataFrame:
        return df * 2

    call = Call(
        fn=double,
        step="double",
        inputs={"df": elsewhere},
        params={},
        out_dir=str(tmp_path / "out"),
        allow_pickle=False,
        run_id=None,
        project="p",
        experiment="e",
        settings=client.settings,
        client=None,
    )
    result = run_call(call)
    out = result.ref.files[0]
    assert client.blobs.info(out.digest).size == out.size  # stored by the worker
    got = pd.read_parquet(tmp_path / "out" / "value" / out.path)
    pd.testing.assert_frame_equal(got, frame * 2)
