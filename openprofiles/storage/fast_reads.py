"""The search hot path: key lookups and profile documents read through the driver directly.

Building and compiling SQLAlchemy statements costs more than the lookup itself (a few tens of
microseconds on an indexed key), so these two reads use fixed SQL on a pooled DBAPI connection.
"""

from __future__ import annotations

import threading
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
    """Fast read sessions. On SQLite each thread keeps its own connection (opening one per search
    would cost more than the search); on PostgreSQL connections come from the engine's pool."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.marker = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
        self._local = threading.local()
        self._kept: list[Any] = []
        self._lock = threading.Lock()

    def _sqlite_connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.db.engine.raw_connection()
            conn.detach()  # ours for this thread's lifetime, not the pool's
            self._local.conn = conn
            with self._lock:
                self._kept.append(conn)
        return conn

    @contextmanager
    def session(self) -> Iterator[FastReadSession]:
        """Reads in one transaction (a consistent view of the key index and the profiles)."""
        if self.db.dialect == "sqlite":
            cursor = self._sqlite_connection().cursor()
            cursor.execute("BEGIN")
            try:
                yield FastReadSession(cursor, self.marker)
            finally:
                cursor.execute("ROLLBACK")
                cursor.close()
            return
        conn = self.db.engine.raw_connection()
        try:
            cursor = conn.cursor()
            try:
                yield FastReadSession(cursor, self.marker)
            finally:
                conn.rollback()
                cursor.close()
        finally:
            conn.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._kept:
                conn.close()
            self._kept.clear()
