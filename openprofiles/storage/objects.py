"""Profile objects and standard objects (sealed payloads) and their key values."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, delete, func, select, update

from openprofiles.storage.bulk import insert_rows, optional_time, select_in, stored_time, update_rows
from openprofiles.storage.dialect import chunks
from openprofiles.storage.domains import count_change
from openprofiles.storage.tables import profile_objects


@dataclass(frozen=True)
class ObjectRow:
    id: int
    profile_id: str
    object_type_name: str
    object_key: str
    unique_index: bytes
    payload: bytes
    size: int
    source_updated_at: datetime | None
    created_at: datetime
    last_updated_at: datetime
    expires_at: datetime | None


class NewObject(NamedTuple):
    """An object to insert (or to replace a stored one with)."""

    profile_id: str
    object_type_name: str
    object_key: str
    unique_index: bytes
    payload: bytes
    size: int
    source_updated_at: datetime | None
    created_at: datetime
    expires_at: datetime | None


_COLUMNS = (
    profile_objects.c.id,
    profile_objects.c.profile_id,
    profile_objects.c.object_type_name,
    profile_objects.c.object_key,
    profile_objects.c.unique_index,
    profile_objects.c.payload,
    profile_objects.c.size,
    profile_objects.c.source_updated_at,
    profile_objects.c.created_at,
    profile_objects.c.last_updated_at,
    profile_objects.c.expires_at,
)
_NAMES = ", ".join(column.name for column in _COLUMNS)


def _row(row: Any) -> ObjectRow:
    return ObjectRow(
        id=row.id,
        profile_id=row.profile_id,
        object_type_name=row.object_type_name,
        object_key=row.object_key,
        unique_index=bytes(row.unique_index),
        payload=bytes(row.payload),
        size=row.size,
        source_updated_at=row.source_updated_at,
        created_at=row.created_at,
        last_updated_at=row.last_updated_at,
        expires_at=row.expires_at,
    )


class ObjectRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def by_unique(self, domain_id: int, object_type_name: str, indexes: Iterable[bytes]) -> dict[bytes, ObjectRow]:
        rows = select_in(
            self.conn,
            f"SELECT {_NAMES} FROM profile_objects WHERE domain_id = ? AND object_type_name = ? "
            "AND unique_index IN ({marks})",
            (domain_id, object_type_name),
            sorted(set(indexes)),
        )
        out: dict[bytes, ObjectRow] = {}
        for row in rows:
            obj = ObjectRow(row[0], row[1], row[2], row[3], bytes(row[4]), bytes(row[5]), row[6],
                            optional_time(row[7]), stored_time(row[8]), stored_time(row[9]), optional_time(row[10]))
            out[obj.unique_index] = obj
        return out

    def by_key(self, domain_id: int, object_key: str) -> ObjectRow | None:
        row = self.conn.execute(
            select(*_COLUMNS).where(profile_objects.c.domain_id == domain_id, profile_objects.c.object_key == object_key)
        ).first()
        return _row(row) if row else None

    def insert(self, domain_id: int, objects: Sequence[NewObject]) -> None:
        insert_rows(
            self.conn,
            profile_objects,
            ("domain_id", "profile_id", "object_type_name", "object_key", "unique_index", "payload", "size",
             "source_updated_at", "created_at", "last_updated_at", "expires_at"),
            [(domain_id, o.profile_id, o.object_type_name, o.object_key, o.unique_index, o.payload, o.size,
              o.source_updated_at, o.created_at, o.created_at, o.expires_at) for o in objects],
        )
        count_change(self.conn, domain_id, objects=len(objects), size=sum(o.size for o in objects))

    def replace(self, domain_id: int, replacements: Sequence[tuple[int, NewObject]]) -> None:
        """Replace stored objects wholesale (same UNIQUE key), keeping their key and creation time;
        the UNIQUE key value finds the profile again (even if DeleteProfileKey had removed it)."""
        if not replacements:
            return
        old = self._sizes([object_id for object_id, _ in replacements])
        new = sum(o.size for _, o in replacements)
        count_change(self.conn, domain_id, size=new - sum(size for _, _, size in old))
        update_rows(
            self.conn,
            profile_objects,
            ("profile_id", "payload", "size", "source_updated_at", "last_updated_at", "expires_at", "unique_key_removed"),
            ("id",),
            [(o.profile_id, o.payload, o.size, o.source_updated_at, o.created_at, o.expires_at, False, object_id)
             for object_id, o in replacements],
        )

    def remove_unique_values(self, domain_id: int, profile_id: str, object_type_names: Sequence[str],
                             indexes: Iterable[bytes]) -> int:
        """DeleteProfileKey for a UNIQUE key: these objects' values no longer find their profile.
        Returns how many objects were found by them."""
        if not object_type_names:
            return 0
        result = self.conn.execute(
            update(profile_objects)
            .where(
                profile_objects.c.domain_id == domain_id,
                profile_objects.c.profile_id == profile_id,
                profile_objects.c.object_type_name.in_(list(object_type_names)),
                profile_objects.c.unique_index.in_(list(indexes)),
                profile_objects.c.unique_key_removed.is_(False),
            )
            .values(unique_key_removed=True)
        )
        return int(result.rowcount)

    def for_profile(
        self, domain_id: int, profile_id: str, object_type_name: str, after: int | None, limit: int
    ) -> list[ObjectRow]:
        query = select(*_COLUMNS).where(
            profile_objects.c.domain_id == domain_id,
            profile_objects.c.profile_id == profile_id,
            profile_objects.c.object_type_name == object_type_name,
        )
        if after is not None:
            query = query.where(profile_objects.c.id > after)
        return [_row(row) for row in self.conn.execute(query.order_by(profile_objects.c.id).limit(limit))]

    def latest_for_profile(self, domain_id: int, profile_id: str, object_type_name: str, limit: int) -> list[ObjectRow]:
        """A profile's newest `limit` objects of a type, newest first."""
        query = select(*_COLUMNS).where(
            profile_objects.c.domain_id == domain_id,
            profile_objects.c.profile_id == profile_id,
            profile_objects.c.object_type_name == object_type_name,
        )
        return [_row(row) for row in self.conn.execute(query.order_by(profile_objects.c.id.desc()).limit(limit))]

    def type_names_for_profile(self, domain_id: int, profile_id: str) -> list[str]:
        """The object types a profile holds objects of, by name."""
        rows = self.conn.execute(
            select(profile_objects.c.object_type_name)
            .where(profile_objects.c.domain_id == domain_id, profile_objects.c.profile_id == profile_id)
            .distinct()
            .order_by(profile_objects.c.object_type_name)
        )
        return [name for (name,) in rows]

    def oldest_beyond(self, domain_id: int, profile_id: str, object_type_name: str, keep: int) -> list[int]:
        """Ids of this profile's objects of a type past the newest `keep`, oldest first."""
        rows = self.conn.execute(
            select(profile_objects.c.id)
            .where(
                profile_objects.c.domain_id == domain_id,
                profile_objects.c.profile_id == profile_id,
                profile_objects.c.object_type_name == object_type_name,
            )
            .order_by(profile_objects.c.last_updated_at.desc(), profile_objects.c.id.desc())
            .offset(keep)
        )
        return [row.id for row in rows]

    def _sizes(self, ids: Sequence[int]) -> list[tuple[int, int, int]]:
        """(domain id, object count, total size) of these objects, per domain."""
        totals: dict[int, list[int]] = {}
        for part in chunks(list(ids)):
            rows = self.conn.execute(
                select(profile_objects.c.domain_id, func.count(), func.coalesce(func.sum(profile_objects.c.size), 0))
                .where(profile_objects.c.id.in_(part))
                .group_by(profile_objects.c.domain_id)
            )
            for domain_id, count, size in rows:
                total = totals.setdefault(domain_id, [0, 0])
                total[0] += int(count)
                total[1] += int(size)
        return [(domain_id, count, size) for domain_id, (count, size) in totals.items()]

    def delete_ids(self, ids: Sequence[int]) -> None:
        for domain_id, count, size in self._sizes(ids):
            count_change(self.conn, domain_id, objects=-count, size=-size)
        for part in chunks(list(ids)):
            self.conn.execute(delete(profile_objects).where(profile_objects.c.id.in_(part)))

    def profiles_with_type(self, domain_id: int, object_type_name: str) -> list[str]:
        rows = self.conn.execute(
            select(profile_objects.c.profile_id)
            .where(profile_objects.c.domain_id == domain_id, profile_objects.c.object_type_name == object_type_name)
            .distinct()
        )
        return [row.profile_id for row in rows]

    def _delete_where(self, *conditions: ColumnElement[bool]) -> None:
        self.delete_ids([row.id for row in self.conn.execute(select(profile_objects.c.id).where(*conditions))])

    def delete_type(self, domain_id: int, object_type_name: str) -> None:
        self._delete_where(profile_objects.c.domain_id == domain_id, profile_objects.c.object_type_name == object_type_name)

    def delete_for_profile(self, domain_id: int, profile_id: str) -> None:
        self._delete_where(profile_objects.c.domain_id == domain_id, profile_objects.c.profile_id == profile_id)

    def expired(self, now: datetime, limit: int) -> list[int]:
        rows = self.conn.execute(
            select(profile_objects.c.id)
            .where(profile_objects.c.expires_at.is_not(None), profile_objects.c.expires_at <= now)
            .limit(limit)
        )
        return [row.id for row in rows]
