"""Model-wide rules of the registry: traffic splits between aliases and the Andon cord.

A model's traffic tells servers how to split its requests between its aliases (weighted
arms, shadows, a sticky key); freezing a model stops every alias move and traffic change
until it is unfrozen. Each change is an event of the model's history: a row of
``model_alias_moves`` with alias ``""`` and the traffic or freeze as JSON in ``detail``.

Every change here, and every alias move (``ModelRegistry._move``), runs in one write
transaction that first locks the model's row (:func:`lock_model`), so a freeze and a move
never both pass: whichever locks second sees what the first committed (on PostgreSQL
``SELECT ... FOR UPDATE`` re-reads the row once the lock is free; SQLite writers queue on
``BEGIN IMMEDIATE``). An alias that moved before a freeze returned moved before it.

Two rules tie aliases and traffic together: every alias the traffic names points at a
version when the traffic is set, and an alias the traffic names cannot be removed (change
the traffic first). Moving such an alias to another version is allowed: servers follow it.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.core.errors import Conflict, ModelFrozen, NotFound
from dockyard.core.principal import Principal
from dockyard.registry.records import alias_target, find_model, freeze_of, to_move, traffic_of
from dockyard.registry.schemas import (
    TRAFFIC_BUCKETS,
    AliasMove,
    Freeze,
    FreezeSet,
    Traffic,
    TrafficSet,
    Unfreeze,
)
from dockyard.store.tables import AliasMoveRow, ModelAliasRow, RegisteredModelRow, utcnow

MODEL_WIDE = ""
"""The alias of a model-wide event in the history."""


def bucket_of(value: object) -> int:
    """The bucket (0-99) of a sticky key's value: the first 8 bytes of the sha256 of its
    text, modulo 100. The same value always lands in the same bucket, on every server."""
    digest = hashlib.sha256(str(value).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % TRAFFIC_BUCKETS


def lock_model(session: Session, name: str) -> RegisteredModelRow:
    """The model's row, locked until the transaction ends (re-read, never a stale copy)."""
    row = session.scalar(
        select(RegisteredModelRow)
        .where(RegisteredModelRow.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return row if row is not None else find_model(session, name)  # NotFound


def _frozen_error(model: RegisteredModelRow, freeze: Freeze, what: str) -> ModelFrozen:
    return ModelFrozen(
        f"model {model.name!r} {what}: {freeze.by} froze it at "
        f"{freeze.at:%Y-%m-%d %H:%M:%S} UTC because: {freeze.reason}. When it is safe, "
        f"unfreeze it with `dockyard models unfreeze {model.name}` (or dy.unfreeze)",
        details=freeze.model_dump(mode="json"),
    )


def refuse_if_frozen(model: RegisteredModelRow, refused: str) -> None:
    """Raise :class:`ModelFrozen` (409) saying who froze the model, when, why, and how to
    unfreeze it; ``refused`` says what was asked (``alias 'champion' cannot move``)."""
    freeze = freeze_of(model)
    if freeze is not None:
        raise _frozen_error(model, freeze, f"is frozen, so {refused}")


def refuse_if_in_traffic(model: RegisteredModelRow, alias: str) -> None:
    """An alias the traffic names must keep pointing at a version."""
    traffic = traffic_of(model)
    if traffic is not None and (alias in traffic.weights or alias in traffic.shadow):
        raise Conflict(
            f"alias {alias!r} of {model.name} is part of its traffic ({traffic.describe()}); "
            f"change the traffic first (`dockyard models traffic {model.name} ...`, or "
            "--clear to remove it)"
        )


def _check_aliases(session: Session, model: RegisteredModelRow, body: TrafficSet) -> None:
    for alias in [*body.weights, *body.shadow]:
        row = session.get(ModelAliasRow, (model.id, alias))
        if row is not None and row.version_id is None:
            raise Conflict(
                f"alias {alias!r} of {model.name} points at no version; point it at one "
                f"(`dockyard models alias {model.name} {alias} VERSION`) before it takes traffic"
            )
        if row is None:
            alias_target(session, model, alias)  # NotFound naming the aliases there are


def _record(
    session: Session,
    model: RegisteredModelRow,
    principal: Principal,
    action: str,
    reason: str,
    detail: Traffic | Freeze | None,
) -> None:
    model.updated_at = now = utcnow()
    session.add(
        AliasMoveRow(
            model_id=model.id,
            alias=MODEL_WIDE,
            from_version=None,
            to_version=None,
            action=action,
            actor=principal.name,
            reason=reason,
            gate=None,
            rolled_back=False,
            at=now,
            detail=detail.model_dump_json() if detail is not None else None,
        )
    )


def set_traffic(session: Session, principal: Principal, name: str, body: TrafficSet) -> Traffic:
    model = lock_model(session, name)
    refuse_if_frozen(model, "its traffic cannot change")
    _check_aliases(session, model, body)
    traffic = Traffic(
        weights=body.weights,
        shadow=body.shadow,
        sticky=body.sticky,
        reason=body.reason,
        set_by=principal.name,
        set_at=utcnow(),
    )
    model.traffic = traffic.model_dump_json()
    _record(session, model, principal, "traffic", body.reason, traffic)
    return traffic


def clear_traffic(session: Session, principal: Principal, name: str, reason: str) -> None:
    model = lock_model(session, name)
    refuse_if_frozen(model, "its traffic cannot change")
    if model.traffic is None:
        raise NotFound(f"model {name!r} has no traffic split to clear")
    model.traffic = None
    _record(session, model, principal, "traffic", reason, None)


def freeze(session: Session, principal: Principal, name: str, body: FreezeSet) -> Freeze:
    model = lock_model(session, name)
    current = freeze_of(model)
    if current is not None:
        raise _frozen_error(model, current, "is already frozen")
    made = Freeze(reason=body.reason, by=principal.name, at=utcnow())
    model.frozen_reason, model.frozen_by, model.frozen_at = made.reason, made.by, made.at
    _record(session, model, principal, "freeze", body.reason, made)
    return made


def unfreeze(session: Session, principal: Principal, name: str, body: Unfreeze) -> None:
    model = lock_model(session, name)
    lifted = freeze_of(model)
    if lifted is None:
        raise Conflict(f"model {name!r} is not frozen; there is nothing to unfreeze")
    model.frozen_reason = model.frozen_by = model.frozen_at = None
    _record(session, model, principal, "unfreeze", body.reason, lifted)


def history(session: Session, name: str) -> list[AliasMove]:
    """Every event of the model, newest first: alias moves and model-wide events."""
    model = find_model(session, name)
    rows = session.scalars(
        select(AliasMoveRow)
        .where(AliasMoveRow.model_id == model.id)
        .order_by(AliasMoveRow.id.desc())
    )
    return [to_move(model, r) for r in rows]
