"""Object type definitions, one row per (domain, name)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from openprofiles.storage.bulk import marker, stored_time
from openprofiles.storage.json_column import load_json
from openprofiles.storage.tables import object_types


@dataclass(frozen=True)
class ObjectTypeRecord:
    id: int
    domain_id: int
    name: str
    definition: dict[str, Any]
    created_at: datetime
    last_updated_at: datetime


def _record(row: Any) -> ObjectTypeRecord:
    return ObjectTypeRecord(**row._mapping)


class ObjectTypeRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, domain_id: int, name: str) -> ObjectTypeRecord | None:
        mark = marker(self.conn)
        row = self.conn.exec_driver_sql(
            "SELECT id, domain_id, name, definition, created_at, last_updated_at FROM object_types "
            f"WHERE domain_id = {mark} AND name = {mark}",
            (domain_id, name),
        ).first()
        if row is None:
            return None
        return ObjectTypeRecord(row[0], row[1], row[2], load_json(row[3]), stored_time(row[4]), stored_time(row[5]))

    def list(self, domain_id: int, after: str | None = None, limit: int | None = None) -> list[ObjectTypeRecord]:
        query = select(object_types).where(object_types.c.domain_id == domain_id)
        if after is not None:
            query = query.where(object_types.c.name > after)
        query = query.order_by(object_types.c.name)
        if limit is not None:
            query = query.limit(limit)
        return [_record(row) for row in self.conn.execute(query)]

    def count(self, domain_id: int) -> int:
        return int(
            self.conn.execute(select(func.count()).where(object_types.c.domain_id == domain_id)).scalar_one()
        )

    def put(self, domain_id: int, name: str, definition: dict[str, Any], now: datetime) -> ObjectTypeRecord:
        """Create or replace; keeps the creation time of a replaced definition."""
        existing = self.get(domain_id, name)
        if existing is None:
            self.conn.execute(
                insert(object_types).values(
                    domain_id=domain_id, name=name, definition=definition, created_at=now, last_updated_at=now
                )
            )
        else:
            self.conn.execute(
                update(object_types)
                .where(object_types.c.id == existing.id)
                .values(definition=definition, last_updated_at=now)
            )
        found = self.get(domain_id, name)
        assert found is not None
        return found

    def delete(self, domain_id: int, name: str) -> None:
        self.conn.execute(
            delete(object_types).where(object_types.c.domain_id == domain_id, object_types.c.name == name)
        )
