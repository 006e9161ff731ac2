"""Wrapped data keys, one per encryption scope.

`master_key_id` names what wrapped the key: a local master key's id (a 16-hex fingerprint) or,
starting with `arn:`, the AWS KMS key's ARN.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from openprofiles.storage.database import Database
from openprofiles.storage.tables import data_keys


class DataKeyRepository:
    """The `DataKeyStore` the envelope cipher uses; each call is its own short transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def find(self, scope: str) -> tuple[int, bytes, str] | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(data_keys.c.id, data_keys.c.wrapped_key, data_keys.c.master_key_id).where(
                    data_keys.c.scope == scope
                )
            ).first()
        return (row.id, row.wrapped_key, row.master_key_id) if row else None

    def get(self, key_id: int) -> tuple[str, bytes, str]:
        with self.db.read() as conn:
            row = conn.execute(
                select(data_keys.c.scope, data_keys.c.wrapped_key, data_keys.c.master_key_id).where(
                    data_keys.c.id == key_id
                )
            ).one()
        return row.scope, row.wrapped_key, row.master_key_id

    def add(self, scope: str, wrapped: bytes, master_key_id: str) -> None:
        try:
            with self.db.write() as conn:
                conn.execute(
                    insert(data_keys).values(
                        scope=scope, wrapped_key=wrapped, master_key_id=master_key_id, created_at=datetime.now(UTC)
                    )
                )
        except IntegrityError:
            pass  # another process stored this scope's key first

    def replace_wrapping(self, key_id: int, expected_master_key_id: str, wrapped: bytes, master_key_id: str) -> bool:
        """Store a new wrapping of the same data key, unless the row changed since it was read
        (its master_key_id is no longer `expected_master_key_id`); whether it was replaced."""
        with self.db.write() as conn:
            result = conn.execute(
                update(data_keys)
                .where(data_keys.c.id == key_id, data_keys.c.master_key_id == expected_master_key_id)
                .values(wrapped_key=wrapped, master_key_id=master_key_id)
            )
        return bool(result.rowcount)

    def rewrap_all(self, rewrap: Callable[[str, bytes, str], tuple[bytes, str] | None]) -> int:
        """In one write transaction, replace each row's wrapping with what `rewrap(scope, wrapped,
        master_key_id)` returns (None leaves the row as it is); the number of rows changed. Rows
        are locked while this runs, so no other process re-wraps them at the same time."""
        changed = 0
        with self.db.write() as conn:
            rows = conn.execute(
                select(data_keys.c.id, data_keys.c.scope, data_keys.c.wrapped_key, data_keys.c.master_key_id)
                .order_by(data_keys.c.id)
                .with_for_update()
            ).all()
            for row in rows:
                result = rewrap(row.scope, bytes(row.wrapped_key), row.master_key_id)
                if result is None:
                    continue
                wrapped, master_key_id = result
                conn.execute(
                    update(data_keys)
                    .where(data_keys.c.id == row.id)
                    .values(wrapped_key=wrapped, master_key_id=master_key_id)
                )
                changed += 1
        return changed

    def count_by_wrapper(self) -> dict[str, int]:
        """How many data keys each master key id (or KMS key ARN) wraps."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(data_keys.c.master_key_id, func.count()).group_by(data_keys.c.master_key_id)
            ).all()
        return {master_key_id: count for master_key_id, count in rows}
