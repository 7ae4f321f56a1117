"""metric rollups: min/max per bucket of steps, for downsampled history

Revision ID: 0004
Revises: 0003

The table is filled for the points already stored, in SQL: level 4 from the points, each
coarser level from the level below (16 buckets into one). Rules as in
dockyard.tracking.rollups: bucket = step >> level; the lowest point is the one with the
lowest (value, step, ts), the highest the one with the highest (value, step, ts).
"""

import itertools

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Frozen here: the levels the rows below are built for (dockyard.tracking.rollups.LEVELS).
LEVELS = (4, 8, 12, 16)
_COLUMNS = (
    'series_id, "level", bucket, "count", min_value, min_step, min_ts, max_value, max_step, max_ts'
)


_PICK = (
    "max(CASE WHEN lo = 1 THEN {v} END), max(CASE WHEN lo = 1 THEN {s} END), "
    "max(CASE WHEN lo = 1 THEN {t} END), max(CASE WHEN hi = 1 THEN {V} END), "
    "max(CASE WHEN hi = 1 THEN {S} END), max(CASE WHEN hi = 1 THEN {T} END)"
)


def _from_points(level: int) -> str:
    """Rollup rows of ``level`` from the raw points: each bucket's count, and its points
    ranked by (value, step, ts) both ways to pick the lowest and the highest."""
    within = f"PARTITION BY series_id, step >> {level}"
    pick = _PICK.format(v="value", s="step", t="ts", V="value", S="step", T="ts")
    return (
        f"INSERT INTO metric_rollups ({_COLUMNS}) "
        f"SELECT series_id, {level}, b, max(n), {pick} FROM ("
        f"SELECT series_id, step >> {level} AS b, step, ts, value, "
        f"count(*) OVER ({within}) AS n, "
        f"row_number() OVER ({within} ORDER BY value, step, ts) AS lo, "
        f"row_number() OVER ({within} ORDER BY value DESC, step DESC, ts DESC) AS hi "
        "FROM metric_points) AS ranked "
        "WHERE lo = 1 OR hi = 1 GROUP BY series_id, b"
    )


def _from_level(level: int, finer: int) -> str:
    """Rollup rows of ``level`` from those of the ``finer`` level: counts summed, the lowest
    of the lowest points and the highest of the highest."""
    bucket = f"bucket >> {level - finer}"
    within = f"PARTITION BY series_id, {bucket}"
    pick = _PICK.format(
        v="min_value", s="min_step", t="min_ts", V="max_value", S="max_step", T="max_ts"
    )
    return (
        f"INSERT INTO metric_rollups ({_COLUMNS}) "
        f"SELECT series_id, {level}, b, max(n), {pick} FROM ("
        f"SELECT series_id, {bucket} AS b, "
        "min_value, min_step, min_ts, max_value, max_step, max_ts, "
        f'sum("count") OVER ({within}) AS n, '
        f"row_number() OVER ({within} ORDER BY min_value, min_step, min_ts) AS lo, "
        f"row_number() OVER ({within} ORDER BY max_value DESC, max_step DESC, max_ts DESC) "
        f'AS hi FROM metric_rollups WHERE "level" = {finer}) AS ranked '
        "WHERE lo = 1 OR hi = 1 GROUP BY series_id, b"
    )


def upgrade() -> None:
    op.create_table(
        "metric_rollups",
        sa.Column(
            "series_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("bucket", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("min_value", sa.Float(), nullable=False),
        sa.Column("min_step", sa.BigInteger(), nullable=False),
        sa.Column("min_ts", sa.BigInteger(), nullable=False),
        sa.Column("max_value", sa.Float(), nullable=False),
        sa.Column("max_step", sa.BigInteger(), nullable=False),
        sa.Column("max_ts", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["metric_series.id"],
            name=op.f("fk_metric_rollups_series_id_metric_series"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("series_id", "level", "bucket", name=op.f("pk_metric_rollups")),
        sqlite_with_rowid=False,
    )
    op.execute(_from_points(LEVELS[0]))
    for finer, level in itertools.pairwise(LEVELS):
        op.execute(_from_level(level, finer))


def downgrade() -> None:
    op.drop_table("metric_rollups")
