"""AppFlow: connector profiles, flows, flow executions, leases.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "connector_profiles",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("connector_type", sa.String(64), nullable=False),
        sa.Column("connector_label", sa.String(256)),
        sa.Column("connection_mode", sa.String(16), nullable=False),
        sa.Column("properties", sa.Text, nullable=False),
        sa.Column("credentials", sa.LargeBinary),
        sa.Column("kms_arn", sa.String(2048)),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("last_updated_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_connector_profiles"),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_connector_profiles_account_id_region_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "flows",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_message", sa.Text),
        sa.Column("client_token", sa.String(256)),
        sa.Column("created_by", sa.String(256)),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        sa.Column("next_run_at", _ts),
        sa.Column("cursor", sa.Text),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("last_updated_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_flows"),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_flows_account_id_region_name"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_flows_next_run_at", "flows", ["next_run_at"])
    op.create_table(
        "flow_executions",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("flow_id", sa.Integer, nullable=False),
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("records_processed", sa.BigInteger, nullable=False),
        sa.Column("bytes_processed", sa.BigInteger, nullable=False),
        sa.Column("bytes_written", sa.BigInteger, nullable=False),
        sa.Column("put_failures", sa.BigInteger, nullable=False),
        sa.Column("checkpoint", sa.Text),
        sa.Column("worker", sa.String(128)),
        sa.Column("heartbeat_at", _ts),
        sa.Column("data_pull_start", _ts),
        sa.Column("data_pull_end", _ts),
        sa.Column("started_at", _ts, nullable=False),
        sa.Column("last_updated_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_flow_executions"),
        sa.ForeignKeyConstraint(["flow_id"], ["flows.id"], name="fk_flow_executions_flow_id_flows", ondelete="CASCADE"),
        sa.UniqueConstraint("execution_id", name="uq_flow_executions_execution_id"),
    )
    op.create_index("ix_flow_executions_flow", "flow_executions", ["flow_id", "id"])
    op.create_index("ix_flow_executions_status", "flow_executions", ["status"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    for table in ("leases", "flow_executions", "flows", "connector_profiles"):
        op.drop_table(table)
