"""features: entities and feature views with versioned definitions, materializations and
training sets

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from dockyard.store.tables import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_objects",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("latest", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_feature_objects_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_objects")),
        sa.UniqueConstraint(
            "project_id", "kind", "name", name=op.f("uq_feature_objects_project_id_kind_name")
        ),
    )
    op.create_table(
        "feature_versions",
        sa.Column("object_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["object_id"],
            ["feature_objects.id"],
            name=op.f("fk_feature_versions_object_id_feature_objects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("object_id", "number", name=op.f("pk_feature_versions")),
    )
    op.create_table(
        "feature_materializations",
        sa.Column("object_id", sa.String(length=32), nullable=False),
        sa.Column("view_version", sa.Integer(), nullable=False),
        sa.Column("source_version", sa.Integer(), nullable=True),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("finished_by", sa.String(length=128), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["object_id"],
            ["feature_objects.id"],
            name=op.f("fk_feature_materializations_object_id_feature_objects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("object_id", name=op.f("pk_feature_materializations")),
    )
    op.create_table(
        "feature_training_sets",
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("recipe", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["dataset_versions.id"],
            name=op.f("fk_feature_training_sets_version_id_dataset_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_feature_training_sets_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_feature_training_sets")),
    )


def downgrade() -> None:
    op.drop_table("feature_training_sets")
    op.drop_table("feature_materializations")
    op.drop_table("feature_versions")
    op.drop_table("feature_objects")
