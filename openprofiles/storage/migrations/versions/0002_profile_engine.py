"""Profile engine: object types, profiles, key index, objects, history, dead letters.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)
_bigid = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _domain(table: str) -> list[sa.Column[int] | sa.ForeignKeyConstraint]:
    return [
        sa.Column("domain_id", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(["domain_id"], ["domains.id"], name=f"fk_{table}_domain_id_domains", ondelete="CASCADE"),
    ]


def upgrade() -> None:
    op.create_table(
        "object_types",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        *_domain("object_types"),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("last_updated_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_object_types"),
        sa.UniqueConstraint("domain_id", "name", name="uq_object_types_domain_id_name"),
    )
    op.create_table(
        "profiles",
        sa.Column("id", _bigid, autoincrement=True, nullable=False),
        *_domain("profiles"),
        sa.Column("profile_id", sa.String(32), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("last_updated_at", _ts, nullable=False),
        sa.Column("expires_at", _ts),
        sa.PrimaryKeyConstraint("id", name="pk_profiles"),
        sa.UniqueConstraint("domain_id", "profile_id", name="uq_profiles_domain_id_profile_id"),
    )
    op.create_index("ix_profiles_expires_at", "profiles", ["expires_at"])
    op.create_table(
        "profile_keys",
        *_domain("profile_keys"),
        sa.Column("key_name", sa.String(64), nullable=False),
        sa.Column("value_index", sa.LargeBinary(32), nullable=False),
        sa.Column("profile_id", sa.String(32), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("domain_id", "key_name", "value_index", "profile_id", "source", name="pk_profile_keys"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_profile_keys_domain_id_profile_id", "profile_keys", ["domain_id", "profile_id"])
    op.create_table(
        "profile_objects",
        sa.Column("id", _bigid, autoincrement=True, nullable=False),
        *_domain("profile_objects"),
        sa.Column("profile_id", sa.String(32), nullable=False),
        sa.Column("object_type_name", sa.String(255), nullable=False),
        sa.Column("object_key", sa.String(64), nullable=False),
        sa.Column("unique_index", sa.LargeBinary(32), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("source_updated_at", _ts),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("last_updated_at", _ts, nullable=False),
        sa.Column("expires_at", _ts),
        sa.PrimaryKeyConstraint("id", name="pk_profile_objects"),
        sa.UniqueConstraint(
            "domain_id", "object_type_name", "unique_index",
            name="uq_profile_objects_domain_id_object_type_name_unique_index",
        ),
        sa.UniqueConstraint("domain_id", "object_key", name="uq_profile_objects_domain_id_object_key"),
    )
    op.create_index(
        "ix_profile_objects_profile", "profile_objects", ["domain_id", "profile_id", "object_type_name", "id"]
    )
    op.create_index("ix_profile_objects_expires_at", "profile_objects", ["expires_at"])
    op.create_table(
        "profile_history",
        sa.Column("id", _bigid, autoincrement=True, nullable=False),
        *_domain("profile_history"),
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("profile_id", sa.String(32), nullable=False),
        sa.Column("object_type_name", sa.String(255), nullable=False),
        sa.Column("action_type", sa.String(32), nullable=False),
        sa.Column("performed_by", sa.String(255)),
        sa.Column("profile_object_unique_key", sa.String(255)),
        sa.Column("content", sa.LargeBinary),
        sa.Column("created_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_profile_history"),
        sa.UniqueConstraint("record_id", name="uq_profile_history_record_id"),
    )
    op.create_index("ix_profile_history_profile", "profile_history", ["domain_id", "profile_id", "id"])
    op.create_table(
        "dead_letters",
        sa.Column("id", _bigid, autoincrement=True, nullable=False),
        *_domain("dead_letters"),
        sa.Column("object_type_name", sa.String(255), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("queue_state", sa.String(16), nullable=False),
        sa.Column("queue_attempts", sa.Integer, nullable=False),
        sa.Column("queue_error", sa.Text),
        sa.Column("redriven_at", _ts),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
    )
    op.create_index("ix_dead_letters_queue_state", "dead_letters", ["queue_state"])
    op.create_index("ix_dead_letters_domain_id", "dead_letters", ["domain_id", "id"])


def downgrade() -> None:
    for table in ("dead_letters", "profile_history", "profile_objects", "profile_keys", "profiles",
                  "object_types"):
        op.drop_table(table)
