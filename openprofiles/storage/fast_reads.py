"""The search hot path: key lookups and profile documents read through the driver directly.

Building and compiling SQLAlchemy statements costs more than the lookup itself (a few tens of
microseconds on an indexed key), so these two reads use fixed SQL on a pooled DBAPI connection.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from openprofiles.storage.database import Database
from openprofiles.storage.dialect import chunks


class FastReadSession:
    def __init__(self, cursor: Any, marker: str) -> None:
        self.cursor = cursor
        self.marker = marker

    def _marks(self, n: int) -> str:
        return ", ".join([self.marker] * n)

    def lookup(self, domain_id: int, key_name: str, indexes: Sequence[bytes]) -> list[tuple[bytes, str]]:
        """(value index, profile id) of the key index entries for these values."""
        out: list[tuple[bytes, str]] = []
        for part in chunks(list(indexes)):
            self.cursor.execute(
                "SELECT DISTINCT value_index, profile_id FROM profile_keys "
                f"WHERE domain_id = {self.marker} AND key_name = {self.marker} "
                f"AND value_index IN ({self._marks(len(part))})",
                (domain_id, key_name, *part),
            )
            out.extend((bytes(index), pid) for index, pid in self.cursor.fetchall())
        return out

    def existing(self, domain_id: int, profile_ids: Sequence[str]) -> list[str]:
        out: list[str] = []
        for part in chunks(list(profile_ids)):
            self.cursor.execute(
                f"SELECT profile_id FROM profiles WHERE domain_id = {self.marker} "
                f"AND profile_id IN ({self._marks(len(part))})",
                (domain_id, *part),
            )
            out.extend(pid for (pid,) in self.cursor.fetchall())
        return out

    def documents(self, domain_id: int, profile_ids: Sequence[str]) -> dict[str, bytes]:
        """The sealed documents of these profiles."""
        out: dict[str, bytes] = {}
        for part in chunks(list(profile_ids)):
            self.cursor.execute(
                f"SELECT profile_id, document FROM profiles WHERE domain_id = {self.marker} "
                f"AND profile_id IN ({self._marks(len(part))})",
                (domain_id, *part),
            )
            out.update((pid, bytes(document)) for pid, document in self.cursor.fetchall())
        return out


class FastReader:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.marker = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"

    @contextmanager
    def session(self) -> Iterator[FastReadSession]:
        """One pooled connection, read in one transaction (a consistent view on both databases)."""
        conn = self.db.engine.raw_connection()
        try:
            cursor = conn.cursor()
            if self.db.dialect == "sqlite":
                cursor.execute("BEGIN")
            try:
                yield FastReadSession(cursor, self.marker)
            finally:
                if self.db.dialect == "sqlite":
                    cursor.execute("ROLLBACK")
                else:
                    conn.rollback()
                cursor.close()
        finally:
            conn.close()
