"""monitoring: monitors, their references and windows, prediction labels and alerts

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from dockyard.store.tables import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("cron", sa.String(length=128), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", UTCDateTime(), nullable=True),
        sa.Column("computed_until", UTCDateTime(), nullable=True),
        sa.Column("last_run_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_monitors_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitors")),
        sa.UniqueConstraint("model_id", "name", name=op.f("uq_monitors_model_id_name")),
    )
    op.create_index(op.f("ix_monitors_next_run_at"), "monitors", ["next_run_at"])
    op.create_table(
        "monitor_references",
        sa.Column("monitor_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=256), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("binning", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.id"],
            name=op.f("fk_monitor_references_monitor_id_monitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("monitor_id", "version", name=op.f("pk_monitor_references")),
    )
    op.create_table(
        "monitor_windows",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("monitor_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("start", UTCDateTime(), nullable=False),
        sa.Column("end", UTCDateTime(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("labelled", sa.BigInteger(), nullable=False),
        sa.Column("summary", sa.LargeBinary(), nullable=False),
        sa.Column("drift", sa.Text(), nullable=False),
        sa.Column("quality", sa.Text(), nullable=False),
        sa.Column("performance", sa.Text(), nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.id"],
            name=op.f("fk_monitor_windows_monitor_id_monitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_windows")),
        sa.UniqueConstraint(
            "monitor_id",
            "version",
            "start",
            name=op.f("uq_monitor_windows_monitor_id_version_start"),
        ),
    )
    op.create_index(
        op.f("ix_monitor_windows_monitor_id_start"), "monitor_windows", ["monitor_id", "start"]
    )
    op.create_table(
        "prediction_labels",
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("prediction_id", sa.String(length=32), nullable=False),
        sa.Column("label", sa.Float(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("predicted_at", UTCDateTime(), nullable=False),
        sa.Column("labelled_at", UTCDateTime(), nullable=False),
        sa.Column("labelled_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_prediction_labels_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_id", "prediction_id", name=op.f("pk_prediction_labels")),
    )
    op.create_index(
        op.f("ix_prediction_labels_model_id_predicted_at"),
        "prediction_labels",
        ["model_id", "predicted_at"],
    )
    op.create_table(
        "monitor_alerts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("monitor_id", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("raised_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.id"],
            name=op.f("fk_monitor_alerts_monitor_id_monitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_alerts")),
        sa.UniqueConstraint(
            "monitor_id",
            "rule",
            "version",
            "window_start",
            name=op.f("uq_monitor_alerts_monitor_id_rule_version_window_start"),
        ),
    )
    op.create_index(
        op.f("ix_monitor_alerts_monitor_id_raised_at"),
        "monitor_alerts",
        ["monitor_id", "raised_at"],
    )


def downgrade() -> None:
    op.drop_table("monitor_alerts")
    op.drop_table("prediction_labels")
    op.drop_table("monitor_windows")
    op.drop_table("monitor_references")
    op.drop_table("monitors")
