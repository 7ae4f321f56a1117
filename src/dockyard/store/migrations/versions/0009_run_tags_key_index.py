"""run tags: an index on the key, for listing the distinct tag keys of many runs

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_run_tags_key", "run_tags", ["key"])


def downgrade() -> None:
    op.drop_index("ix_run_tags_key", table_name="run_tags")
