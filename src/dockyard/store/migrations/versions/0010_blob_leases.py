"""blob leases: uploads that reuse (or just stored) a blob hold it until they reference it

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from dockyard.store.tables import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blob_leases",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("leased_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_blob_leases_leased_at", "blob_leases", ["leased_at"])


def downgrade() -> None:
    op.drop_index("ix_blob_leases_leased_at", table_name="blob_leases")
    op.drop_table("blob_leases")
