"""serving: model traffic and freeze, model-wide events in the alias history, server
instances and the prediction log's segments

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from dockyard.store.tables import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registered_models") as batch:
        batch.add_column(sa.Column("traffic", sa.Text(), nullable=True))
        batch.add_column(sa.Column("frozen_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("frozen_by", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("frozen_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("model_alias_moves") as batch:
        batch.add_column(sa.Column("detail", sa.Text(), nullable=True))
    op.create_table(
        "serving_instances",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=256), nullable=False),
        sa.Column("started_by", sa.String(length=128), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.Column("stopped_at", UTCDateTime(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serving_instances")),
    )
    op.create_index(
        op.f("ix_serving_instances_heartbeat_at"), "serving_instances", ["heartbeat_at"]
    )
    op.create_table(
        "prediction_segments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("instance_id", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.String(length=32), nullable=False),
        sa.Column("versions", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_prediction_segments_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_segments")),
    )
    op.create_index(
        "ix_prediction_segments_model_id_hour", "prediction_segments", ["model_id", "hour"]
    )
    op.create_index("ix_prediction_segments_hour", "prediction_segments", ["hour"])


def downgrade() -> None:
    op.drop_index("ix_prediction_segments_hour", table_name="prediction_segments")
    op.drop_index("ix_prediction_segments_model_id_hour", table_name="prediction_segments")
    op.drop_table("prediction_segments")
    op.drop_index(op.f("ix_serving_instances_heartbeat_at"), table_name="serving_instances")
    op.drop_table("serving_instances")
    with op.batch_alter_table("model_alias_moves") as batch:
        batch.drop_column("detail")
    with op.batch_alter_table("registered_models") as batch:
        batch.drop_column("frozen_at")
        batch.drop_column("frozen_by")
        batch.drop_column("frozen_reason")
        batch.drop_column("traffic")
