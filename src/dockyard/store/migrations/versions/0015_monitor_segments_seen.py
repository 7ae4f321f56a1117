"""monitoring: the newest log segment a monitor has taken in, so late segments are computed

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

from dockyard.store.tables import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (SQLite has it): a batch copy of ``monitors`` would cascade-delete
    # the windows, references and alerts that point at it
    op.add_column("monitors", sa.Column("segments_seen", UTCDateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("monitors", "segments_seen")
