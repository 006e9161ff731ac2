"""Foundation schema: access keys, data keys, domains, tags.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "access_keys",
        sa.Column("access_key_id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("revoked_at", _ts),
        sa.PrimaryKeyConstraint("access_key_id", name="pk_access_keys"),
    )
    op.create_index("ix_access_keys_account_id", "access_keys", ["account_id"])
    op.create_table(
        "data_keys",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(300), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("master_key_id", sa.String(2048), nullable=False),
        sa.Column("created_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_data_keys"),
        sa.UniqueConstraint("scope", name="uq_data_keys_scope"),
    )
    op.create_table(
        "domains",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("default_expiration_days", sa.Integer),
        sa.Column("default_encryption_key", sa.String(255)),
        sa.Column("dead_letter_queue_url", sa.String(255)),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("profile_count", sa.BigInteger, nullable=False),
        sa.Column("object_count", sa.BigInteger, nullable=False),
        sa.Column("total_size", sa.BigInteger, nullable=False),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("last_updated_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_domains"),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_domains_account_id_region_name"),
        sqlite_autoincrement=True,  # a deleted domain's id (and so its data key scope) is never reused
    )
    op.create_table(
        "tags",
        sa.Column("resource_arn", sa.String(1011), nullable=False),
        sa.Column("tag_key", sa.String(128), nullable=False),
        sa.Column("tag_value", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("resource_arn", "tag_key", name="pk_tags"),
    )


def downgrade() -> None:
    for table in ("tags", "domains", "data_keys", "access_keys"):
        op.drop_table(table)
