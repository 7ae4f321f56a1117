"""Promotion gates: does a model version's evidence meet an alias's policy?

The evidence for a version is the metrics of its evaluation runs (runs that loaded the
version, recorded as their input) and, failing those, of the run that trained it. A gate
that names a dataset only counts runs that read a version of that dataset (at least
``min_dataset_version``). The newest qualifying run that has the metric decides.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.registry.schemas import AliasPolicy, GateCheck, GateReport, MetricGate
from dockyard.store.tables import (
    DatasetRow,
    DatasetVersionRow,
    MetricSeriesRow,
    ModelVersionRow,
    RegisteredModelRow,
    RunIORow,
    RunRow,
)

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


def _candidate_runs(session: Session, version: ModelVersionRow) -> list[str]:
    """Evaluation runs of the version, newest first, then the run that made it."""
    evaluations = session.scalars(
        select(RunRow.id)
        .join(RunIORow, RunIORow.run_id == RunRow.id)
        .where(
            RunIORow.kind == "model_version",
            RunIORow.ref == version.id,
            RunIORow.direction == "input",
            RunRow.deleted_at.is_(None),
        )
        .order_by(RunRow.start_time.desc())
    )
    found = list(dict.fromkeys(evaluations))
    if version.run_id and version.run_id not in found:
        alive = session.scalar(
            select(RunRow.id).where(RunRow.id == version.run_id, RunRow.deleted_at.is_(None))
        )
        if alive:
            found.append(alive)
    return found


def _read_dataset(
    session: Session, run_id: str, project_id: str, dataset: str, min_version: int | None
) -> bool:
    stmt = (
        select(DatasetVersionRow.number)
        .join(RunIORow, RunIORow.ref == DatasetVersionRow.id)
        .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
        .where(
            RunIORow.run_id == run_id,
            RunIORow.kind == "dataset_version",
            RunIORow.direction == "input",
            DatasetRow.name == dataset,
            DatasetRow.project_id == project_id,
        )
    )
    numbers = list(session.scalars(stmt))
    return bool(numbers) and (min_version is None or max(numbers) >= min_version)


def evidence(
    session: Session, model: RegisteredModelRow, version: ModelVersionRow, gate: MetricGate
) -> tuple[float | None, str | None]:
    """The metric's last value in the newest run that qualifies as evidence, and that run."""
    for run_id in _candidate_runs(session, version):
        if gate.dataset and not _read_dataset(
            session, run_id, model.project_id, gate.dataset, gate.min_dataset_version
        ):
            continue
        value = session.scalar(
            select(MetricSeriesRow.last_value).where(
                MetricSeriesRow.run_id == run_id, MetricSeriesRow.key == gate.metric
            )
        )
        if value is not None:
            return float(value), run_id
    return None, None


def _where(gate: MetricGate) -> str:
    if not gate.dataset:
        return "in an evaluation run of it (or the run that trained it)"
    newer = f" v{gate.min_dataset_version} or newer" if gate.min_dataset_version else ""
    return f"in a run over dataset {gate.dataset!r}{newer}"


def check_gate(
    session: Session,
    model: RegisteredModelRow,
    version: ModelVersionRow,
    current: ModelVersionRow | None,
    gate: MetricGate,
) -> GateCheck:
    value, run_id = evidence(session, model, version, gate)
    described = gate.describe()
    if value is None:
        return GateCheck(
            gate=described,
            passed=False,
            message=f"v{version.number} has no metric {gate.metric!r} {_where(gate)}; "
            "evaluate it in a run that loads the model (and reads the dataset), then retry",
        )
    problems = []
    if gate.threshold is not None and not OPS[gate.op](value, gate.threshold):
        problems.append(f"{gate.metric} = {value:g}, needs {gate.op} {gate.threshold:g}")
    current_value = None
    if gate.not_worse_than_current and current is not None and current.id != version.id:
        current_value, _ = evidence(session, model, current, gate)
        if current_value is not None:
            worse = value < current_value if gate.higher_is_better else value > current_value
            if worse:
                problems.append(
                    f"{gate.metric} = {value:g} is worse than the current "
                    f"v{current.number}'s {current_value:g}"
                )
    if problems:
        message = f"v{version.number}: " + "; ".join(problems) + f" (run {run_id})"
    else:
        message = f"v{version.number}: {gate.metric} = {value:g} (run {run_id})"
        if current_value is not None:
            message += f", current v{current.number if current else '?'}: {current_value:g}"
    return GateCheck(
        gate=described,
        passed=not problems,
        value=value,
        run_id=run_id,
        current_value=current_value,
        message=message,
    )


def check_policy(
    session: Session,
    model: RegisteredModelRow,
    version: ModelVersionRow,
    current: ModelVersionRow | None,
    policy: AliasPolicy,
) -> GateReport:
    checks = [check_gate(session, model, version, current, g) for g in policy.gates]
    return GateReport(passed=all(c.passed for c in checks), checks=checks)
