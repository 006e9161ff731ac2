"""Customer Profiles integrations: a domain's link to an AppFlow flow (by URI) and its mapping.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "integrations",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.Integer, nullable=False),
        sa.Column("uri", sa.String(255), nullable=False),
        sa.Column("object_type_name", sa.String(255)),
        sa.Column("object_type_names", sa.Text),
        sa.Column("workflow_id", sa.String(255)),
        sa.Column("is_unstructured", sa.Boolean, nullable=False),
        sa.Column("role_arn", sa.String(512)),
        sa.Column("event_trigger_names", sa.Text),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("last_updated_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_integrations"),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name="fk_integrations_domain_id_domains", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("domain_id", "uri", name="uq_integrations_domain_id_uri"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("integrations")
