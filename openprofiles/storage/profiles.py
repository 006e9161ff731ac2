"""Profiles (sealed documents) and the key index that finds them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, delete, func, select

from openprofiles.storage.bulk import delete_rows, insert_rows, optional_time, select_in, stored_time, update_rows
from openprofiles.storage.domains import count_change
from openprofiles.storage.tables import profile_keys, profiles


class ProfileRow(NamedTuple):
    """A stored profile; its fields are the columns of `profiles` besides the domain and row id."""

    profile_id: str
    document: bytes
    created_at: datetime
    last_updated_at: datetime
    expires_at: datetime | None


class KeyEntry(NamedTuple):
    """One key index entry (a tuple: ingestion makes millions of them; its fields are the
    columns of `profile_keys` besides the domain, so it binds as a row as it is)."""

    key_name: str
    value_index: bytes
    profile_id: str
    source: str


class ProfileRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get_many(self, domain_id: int, profile_ids: Iterable[str]) -> dict[str, ProfileRow]:
        rows = select_in(
            self.conn,
            "SELECT profile_id, document, created_at, last_updated_at, expires_at FROM profiles "
            "WHERE domain_id = ? AND profile_id IN ({marks})",
            (domain_id,),
            sorted(set(profile_ids)),
        )
        return {
            row[0]: ProfileRow(row[0], bytes(row[1]), stored_time(row[2]), stored_time(row[3]), optional_time(row[4]))
            for row in rows
        }

    def get(self, domain_id: int, profile_id: str) -> ProfileRow | None:
        return self.get_many(domain_id, [profile_id]).get(profile_id)

    def insert_many(self, domain_id: int, rows: Sequence[ProfileRow]) -> None:
        insert_rows(
            self.conn,
            profiles,
            ProfileRow._fields,
            rows,
            domain_id=domain_id,
        )
        count_change(self.conn, domain_id, profiles=len(rows))

    def update_many(self, domain_id: int, rows: Sequence[ProfileRow]) -> None:
        update_rows(
            self.conn,
            profiles,
            ("document", "last_updated_at", "expires_at"),
            ("domain_id", "profile_id"),
            [(r.document, r.last_updated_at, r.expires_at, domain_id, r.profile_id) for r in rows],
        )

    def delete(self, domain_id: int, profile_id: str) -> None:
        self.conn.execute(
            delete(profile_keys).where(profile_keys.c.domain_id == domain_id, profile_keys.c.profile_id == profile_id)
        )
        result = self.conn.execute(
            delete(profiles).where(profiles.c.domain_id == domain_id, profiles.c.profile_id == profile_id)
        )
        count_change(self.conn, domain_id, profiles=-result.rowcount)

    def all_documents(self, domain_id: int) -> Iterator[ProfileRow]:
        """Every profile of a domain, streamed."""
        rows = self.conn.execution_options(yield_per=1000).execute(
            select(
                profiles.c.profile_id,
                profiles.c.document,
                profiles.c.created_at,
                profiles.c.last_updated_at,
                profiles.c.expires_at,
            ).where(profiles.c.domain_id == domain_id)
        )
        for row in rows:
            yield ProfileRow(*row)

    def expired(self, now: datetime, limit: int) -> list[tuple[int, str]]:
        """(domain id, profile id) of profiles whose retention ended."""
        rows = self.conn.execute(
            select(profiles.c.domain_id, profiles.c.profile_id)
            .where(profiles.c.expires_at.is_not(None), profiles.c.expires_at <= now)
            .limit(limit)
        )
        return [(row.domain_id, row.profile_id) for row in rows]

    def count(self, domain_id: int) -> int:
        return int(
            self.conn.execute(
                select(func.count()).select_from(profiles).where(profiles.c.domain_id == domain_id)
            ).scalar_one()
        )


class KeyIndexRepository:
    """Blind-indexed key values per profile."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lookup(self, domain_id: int, key_name: str, indexes: Iterable[bytes]) -> list[tuple[bytes, str, str]]:
        """(value index, profile id, source) for each stored entry of these values."""
        rows = select_in(
            self.conn,
            "SELECT DISTINCT value_index, profile_id, source FROM profile_keys "
            "WHERE domain_id = ? AND key_name = ? AND value_index IN ({marks})",
            (domain_id, key_name),
            sorted(set(indexes)),
        )
        return [(bytes(row[0]), row[1], row[2]) for row in rows]

    def add(self, domain_id: int, entries: Iterable[KeyEntry]) -> None:
        insert_rows(
            self.conn,
            profile_keys,
            KeyEntry._fields,
            # In primary-key order: each index page is then visited once, not once per entry.
            sorted(set(entries)),
            ignore_duplicates=True,
            domain_id=domain_id,
        )

    def remove(self, domain_id: int, entries: Iterable[KeyEntry]) -> None:
        delete_rows(self.conn, profile_keys, KeyEntry._fields, sorted(set(entries)), domain_id=domain_id)

    def remove_values(self, domain_id: int, profile_id: str, key_name: str, indexes: Iterable[bytes]) -> int:
        """Remove these values of a key from a profile, whatever their source."""
        result = self.conn.execute(
            delete(profile_keys).where(
                profile_keys.c.domain_id == domain_id,
                profile_keys.c.profile_id == profile_id,
                profile_keys.c.key_name == key_name,
                profile_keys.c.value_index.in_(list(indexes)),
            )
        )
        return int(result.rowcount)

    def remove_source(self, domain_id: int, source: str) -> None:
        self.conn.execute(
            delete(profile_keys).where(profile_keys.c.domain_id == domain_id, profile_keys.c.source == source)
        )


