"""projects and blob references

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from dockyard.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
        sa.UniqueConstraint("name", name="uq_projects_name"),
    )
    op.create_table(
        "blob_refs",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("owner_type", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest", "owner_type", "owner_id", name="pk_blob_refs"),
    )
    op.create_index("ix_blob_refs_owner", "blob_refs", ["owner_type", "owner_id"])


def downgrade() -> None:
    op.drop_index("ix_blob_refs_owner", table_name="blob_refs")
    op.drop_table("blob_refs")
    op.drop_table("projects")
