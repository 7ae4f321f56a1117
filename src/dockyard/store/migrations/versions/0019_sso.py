"""single sign-on: a user's OpenID Connect identity (issuer and subject), a team's group

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("sso_issuer", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("sso_subject", sa.String(length=256), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_users_sso_issuer_sso_subject"), ["sso_issuer", "sso_subject"]
        )
    with op.batch_alter_table("teams") as batch:
        batch.add_column(sa.Column("sso_group", sa.String(length=256), nullable=True))
    op.create_index(op.f("ix_teams_sso_group"), "teams", ["sso_group"])


def downgrade() -> None:
    op.drop_index(op.f("ix_teams_sso_group"), table_name="teams")
    with op.batch_alter_table("teams") as batch:
        batch.drop_column("sso_group")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_sso_issuer_sso_subject"), type_="unique")
        batch.drop_column("sso_subject")
        batch.drop_column("sso_issuer")
