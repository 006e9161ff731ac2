"""AppFlow custom connector registrations and the records pushed to Event-triggered flows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "connector_registrations",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("label", sa.String(256), nullable=False),
        sa.Column("entry_point", sa.String(256), nullable=False),
        sa.Column("lambda_arn", sa.String(512), nullable=False),
        sa.Column("description", sa.String(1024)),
        sa.Column("client_token", sa.String(256)),
        sa.Column("registered_by", sa.String(512), nullable=False),
        sa.Column("registered_at", _ts, nullable=False),
        sa.Column("last_updated_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_connector_registrations"),
        sa.UniqueConstraint("account_id", "region", "label", name="uq_connector_registrations_account_id_region_label"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "flow_event_batches",
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("record_count", sa.Integer, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("execution_id", name="pk_flow_event_batches"),
        sa.ForeignKeyConstraint(
            ["execution_id"], ["flow_executions.execution_id"],
            name="fk_flow_event_batches_execution_id_flow_executions", ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("flow_event_batches")
    op.drop_table("connector_registrations")
