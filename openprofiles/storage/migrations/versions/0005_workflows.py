"""Customer Profiles integration workflows and their steps; integrations remember whether
Customer Profiles created their flow.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("integrations") as batch:
        batch.add_column(sa.Column("flow_created", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "workflows",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("workflow_id", sa.String(32), nullable=False),
        sa.Column("domain_id", sa.Integer, nullable=False),
        sa.Column("workflow_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_description", sa.Text),
        sa.Column("flow_name", sa.String(256), nullable=False),
        sa.Column("object_type_name", sa.String(255), nullable=False),
        sa.Column("role_arn", sa.String(512)),
        sa.Column("tags", sa.Text),
        sa.Column("source_connector_type", sa.String(32), nullable=False),
        sa.Column("connector_profile_name", sa.String(256)),
        sa.Column("deleted_at", _ts),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("last_updated_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workflows"),
        sa.ForeignKeyConstraint(["domain_id"], ["domains.id"], name="fk_workflows_domain_id_domains",
                                ondelete="CASCADE"),
        sa.UniqueConstraint("workflow_id", name="uq_workflows_workflow_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_workflows_domain", "workflows", ["domain_id", "id"])
    op.create_index("ix_workflows_status", "workflows", ["status"])
    op.create_table(
        "workflow_steps",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("workflow_id", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("batch_start", _ts),
        sa.Column("batch_end", _ts),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("execution_id", sa.String(64)),
        sa.Column("records_processed", sa.BigInteger, nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("last_updated_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workflow_steps"),
        sa.ForeignKeyConstraint(["workflow_id"], ["workflows.id"], name="fk_workflow_steps_workflow_id_workflows",
                                ondelete="CASCADE"),
        sa.UniqueConstraint("workflow_id", "position", name="uq_workflow_steps_workflow_id_position"),
    )


def downgrade() -> None:
    op.drop_table("workflow_steps")
    op.drop_index("ix_workflows_status", "workflows")
    op.drop_index("ix_workflows_domain", "workflows")
    op.drop_table("workflows")
    with op.batch_alter_table("integrations") as batch:
        batch.drop_column("flow_created")
