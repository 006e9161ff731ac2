"""Wrapped data keys, one per encryption scope."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select
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
