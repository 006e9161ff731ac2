"""UNIQUE key values find profiles through their objects, not through key index entries.

Every object already holds its UNIQUE key's blind index (`unique_index`, uniquely indexed per
object type), so the key index's copy of it is dropped, for a UNIQUE key with no other role (a
UNIQUE + PROFILE key keeps its entries, which match other types' objects). An object whose entry
DeleteProfileKey had removed is marked `unique_key_removed`, so that value still does not find it.
Only defined object types need this: no shipped template has a UNIQUE key without another role.
The migration reads the stored definitions, not the application's code (which later versions change).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _unique_key(keys: dict[str, list[dict[str, list[str]]]]) -> str | None:
    """The UNIQUE key's name when it has no other role (KeySpec.found_by_object)."""
    return next((name for name, specs in keys.items()
                 if any(set(s.get("StandardIdentifiers", [])) == {"UNIQUE"} for s in specs)), None)


def _unique_keys(conn: sa.Connection) -> list[tuple[int, str, str]]:
    """(domain id, object type name, its UNIQUE key name) of the defined object types whose UNIQUE
    key has no other role."""
    found = []
    for domain_id, name, definition in conn.execute(sa.text("SELECT domain_id, name, definition FROM object_types")):
        key = _unique_key(json.loads(definition).get("Keys") or {})
        if key is not None:
            found.append((domain_id, name, key))
    return found


def upgrade() -> None:
    op.add_column(
        "profile_objects",
        sa.Column("unique_key_removed", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    conn = op.get_bind()
    for domain_id, type_name, key_name in _unique_keys(conn):
        params = {"d": domain_id, "t": type_name, "k": key_name}
        conn.execute(
            sa.text(
                "UPDATE profile_objects SET unique_key_removed = :removed "
                "WHERE domain_id = :d AND object_type_name = :t AND NOT EXISTS (SELECT 1 FROM profile_keys k "
                "WHERE k.domain_id = :d AND k.key_name = :k AND k.value_index = profile_objects.unique_index "
                "AND k.profile_id = profile_objects.profile_id AND k.source = :t)"
            ),
            {**params, "removed": True},
        )
        conn.execute(
            sa.text("DELETE FROM profile_keys WHERE domain_id = :d AND key_name = :k AND source = :t"), params
        )


def downgrade() -> None:
    conn = op.get_bind()
    for domain_id, type_name, key_name in _unique_keys(conn):
        conn.execute(
            sa.text(
                "INSERT INTO profile_keys (domain_id, key_name, value_index, profile_id, source) "
                "SELECT domain_id, :k, unique_index, profile_id, object_type_name FROM profile_objects "
                "WHERE domain_id = :d AND object_type_name = :t AND NOT unique_key_removed"
            ),
            {"d": domain_id, "t": type_name, "k": key_name},
        )
    with op.batch_alter_table("profile_objects") as batch:
        batch.drop_column("unique_key_removed")
