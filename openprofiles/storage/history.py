"""Profile history: one row per change to a profile."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, select

from openprofiles.storage.bulk import insert_rows
from openprofiles.storage.tables import profile_history


class HistoryRow(NamedTuple):
    """One history record; its fields up to `created_at` are the columns a new record inserts."""

    record_id: str
    profile_id: str
    object_type_name: str
    action_type: str
    performed_by: str | None
    profile_object_unique_key: str | None
    content: bytes | None
    created_at: datetime
    id: int = 0


_INSERTED = HistoryRow._fields[: HistoryRow._fields.index("created_at") + 1]


def _row(row: Any) -> HistoryRow:
    return HistoryRow(
        record_id=row.record_id,
        profile_id=row.profile_id,
        object_type_name=row.object_type_name,
        action_type=row.action_type,
        performed_by=row.performed_by,
        profile_object_unique_key=row.profile_object_unique_key,
        content=bytes(row.content) if row.content is not None else None,
        created_at=row.created_at,
        id=row.id,
    )


class HistoryRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, domain_id: int, rows: Sequence[HistoryRow]) -> None:
        insert_rows(
            self.conn,
            profile_history,
            _INSERTED,
            [r[: len(_INSERTED)] for r in rows],
            domain_id=domain_id,
        )

    def for_profile(
        self,
        domain_id: int,
        profile_id: str,
        after: int | None,
        limit: int,
        object_type_name: str | None = None,
        action_type: str | None = None,
        performed_by: str | None = None,
    ) -> list[HistoryRow]:
        query = select(profile_history).where(
            profile_history.c.domain_id == domain_id, profile_history.c.profile_id == profile_id
        )
        if after is not None:
            query = query.where(profile_history.c.id > after)
        if object_type_name is not None:
            query = query.where(profile_history.c.object_type_name == object_type_name)
        if action_type is not None:
            query = query.where(profile_history.c.action_type == action_type)
        if performed_by is not None:
            query = query.where(profile_history.c.performed_by == performed_by)
        return [_row(r) for r in self.conn.execute(query.order_by(profile_history.c.id).limit(limit))]

    def latest_for_profile(self, domain_id: int, profile_id: str, limit: int) -> list[HistoryRow]:
        """A profile's newest `limit` records, newest first."""
        query = select(profile_history).where(
            profile_history.c.domain_id == domain_id, profile_history.c.profile_id == profile_id
        )
        return [_row(r) for r in self.conn.execute(query.order_by(profile_history.c.id.desc()).limit(limit))]

    def get(self, domain_id: int, profile_id: str, record_id: str) -> HistoryRow | None:
        row = self.conn.execute(
            select(profile_history).where(
                profile_history.c.domain_id == domain_id,
                profile_history.c.profile_id == profile_id,
                profile_history.c.record_id == record_id,
            )
        ).first()
        return _row(row) if row else None
