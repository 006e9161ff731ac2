"""KMS-wrapped data keys: data_keys.master_key_id holds a KMS key ARN (up to 2048 characters).

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


def upgrade() -> None:
    with op.batch_alter_table("data_keys") as batch:
        batch.alter_column("master_key_id", existing_type=sa.String(64), type_=sa.String(2048),
                           existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("data_keys") as batch:
        batch.alter_column("master_key_id", existing_type=sa.String(2048), type_=sa.String(64),
                           existing_nullable=False)
