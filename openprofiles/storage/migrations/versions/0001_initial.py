"""Initial schema: access keys, data keys, domains, tags, profiles, profile objects.

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
_bigid = sa.BigInteger().with_variant(sa.Integer, "sqlite")


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
        sa.Column("master_key_id", sa.String(64), nullable=False),
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
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("last_updated_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_domains"),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_domains_account_id_region_name"),
    )
    op.create_table(
        "tags",
        sa.Column("resource_arn", sa.String(1011), nullable=False),
        sa.Column("tag_key", sa.String(128), nullable=False),
        sa.Column("tag_value", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("resource_arn", "tag_key", name="pk_tags"),
    )
    op.create_table(
        "profiles",
        sa.Column("id", _bigid, autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.Integer, nullable=False),
        sa.Column("profile_id", sa.String(32), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("last_updated_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_profiles"),
        sa.ForeignKeyConstraint(["domain_id"], ["domains.id"], name="fk_profiles_domain_id_domains", ondelete="CASCADE"),
        sa.UniqueConstraint("domain_id", "profile_id", name="uq_profiles_domain_id_profile_id"),
    )
    op.create_table(
        "profile_objects",
        sa.Column("id", _bigid, autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.Integer, nullable=False),
        sa.Column("profile_id", sa.String(32), nullable=False),
        sa.Column("object_type_name", sa.String(255), nullable=False),
        sa.Column("unique_key", sa.String(255), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("created_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_profile_objects"),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name="fk_profile_objects_domain_id_domains", ondelete="CASCADE"
        ),
        sa.UniqueConstraint(
            "domain_id", "object_type_name", "unique_key", name="uq_profile_objects_domain_id_object_type_name_unique_key"
        ),
    )
    op.create_index("ix_profile_objects_profile_id", "profile_objects", ["profile_id"])


def downgrade() -> None:
    for table in ("profile_objects", "profiles", "tags", "domains", "data_keys", "access_keys"):
        op.drop_table(table)
