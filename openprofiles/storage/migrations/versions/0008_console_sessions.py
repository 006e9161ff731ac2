"""Server-side console sessions and console sign-in attempt counters.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("access_key_id", sa.String(32), nullable=False),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("expires_at", _ts, nullable=False),
        sa.Column("last_seen_at", _ts, nullable=False),
        sa.Column("revoked_at", _ts),
        sa.PrimaryKeyConstraint("id_hash", name="pk_console_sessions"),
        sa.ForeignKeyConstraint(
            ["access_key_id"], ["access_keys.access_key_id"],
            name="fk_console_sessions_access_key_id_access_keys", ondelete="CASCADE",
        ),
    )
    op.create_index("ix_console_sessions_access_key_id", "console_sessions", ["access_key_id"])
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])
    op.create_table(
        "console_sign_in_attempts",
        sa.Column("subject", sa.LargeBinary(32), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("window_started_at", _ts, nullable=False),
        sa.Column("expires_at", _ts, nullable=False),
        sa.PrimaryKeyConstraint("subject", name="pk_console_sign_in_attempts"),
    )
    op.create_index("ix_console_sign_in_attempts_expires_at", "console_sign_in_attempts", ["expires_at"])


def downgrade() -> None:
    op.drop_table("console_sign_in_attempts")
    op.drop_table("console_sessions")
