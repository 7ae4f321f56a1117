"""monitoring: prediction labels packed per model version and hour, for views of many windows

Revision ID: 0014
Revises: 0013
"""

import datetime as dt

import numpy as np
import sqlalchemy as sa
from alembic import op

from dockyard.store.tables import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_EPOCH = dt.datetime(1970, 1, 1)


def upgrade() -> None:
    blocks = op.create_table(
        "prediction_label_blocks",
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("at", sa.LargeBinary(), nullable=False),
        sa.Column("label", sa.LargeBinary(), nullable=False),
        sa.Column("score", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_prediction_label_blocks_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "model_id", "version", "hour", name=op.f("pk_prediction_label_blocks")
        ),
    )
    _backfill(blocks)


def _backfill(blocks: sa.Table) -> None:
    """Pack the labels stored before this revision (the format of
    ``dockyard.monitoring.label_blocks``, written out here so that later changes of that
    module do not change what this revision did)."""
    labels = sa.table(
        "prediction_labels",
        sa.column("model_id", sa.String()),
        sa.column("version", sa.Integer()),
        sa.column("predicted_at", UTCDateTime()),
        sa.column("label", sa.Float()),
        sa.column("score", sa.Float()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            labels.c.model_id,
            labels.c.version,
            labels.c.predicted_at,
            labels.c.label,
            labels.c.score,
        ).order_by(labels.c.model_id, labels.c.version, labels.c.predicted_at)
    )
    now = dt.datetime.now(dt.UTC)
    groups: dict[tuple[str, int, dt.datetime], list[tuple[int, float, float]]] = {}
    for model_id, version, at, label, score in rows:
        naive = at.astimezone(dt.UTC).replace(tzinfo=None) if at.tzinfo else at
        micros = (naive - _EPOCH) // dt.timedelta(microseconds=1)
        hour = naive.replace(minute=0, second=0, microsecond=0, tzinfo=dt.UTC)
        groups.setdefault((model_id, version, hour), []).append(
            (micros, label, np.nan if score is None else score)
        )
    values = [
        {
            "model_id": model_id,
            "version": version,
            "hour": hour,
            "count": len(found),
            "at": np.array([f[0] for f in found], dtype="<i8").tobytes(),
            "label": np.array([f[1] for f in found], dtype="<f8").tobytes(),
            "score": np.array([f[2] for f in found], dtype="<f8").tobytes(),
            "updated_at": now,
        }
        for (model_id, version, hour), found in groups.items()
    ]
    for chunk in range(0, len(values), 500):
        bind.execute(sa.insert(blocks), values[chunk : chunk + 500])


def downgrade() -> None:
    op.drop_table("prediction_label_blocks")
