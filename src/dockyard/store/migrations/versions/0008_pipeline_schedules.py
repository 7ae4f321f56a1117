"""pipeline schedules: cron schedules and dataset triggers

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from dockyard.store.tables import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_schedules",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("pipeline", sa.String(length=512), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("executor", sa.String(length=256), nullable=False),
        sa.Column("cron", sa.String(length=128), nullable=True),
        sa.Column("dataset", sa.String(length=64), nullable=True),
        sa.Column("dataset_param", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_fire_at", UTCDateTime(), nullable=True),
        sa.Column("last_seen_version", sa.Integer(), nullable=True),
        sa.Column("last_fired_at", UTCDateTime(), nullable=True),
        sa.Column("last_run_id", sa.String(length=32), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_pipeline_schedules_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_schedules")),
        sa.UniqueConstraint(
            "project_id", "name", name=op.f("uq_pipeline_schedules_project_id_name")
        ),
    )
    op.create_index("ix_pipeline_schedules_next_fire_at", "pipeline_schedules", ["next_fire_at"])


def downgrade() -> None:
    op.drop_index("ix_pipeline_schedules_next_fire_at", table_name="pipeline_schedules")
    op.drop_table("pipeline_schedules")
