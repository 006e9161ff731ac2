"""The search hot path: key lookups and profile documents read through the driver directly.

Building and compiling SQLAlchemy statements costs more than the lookup itself (a few tens of
microseconds on an indexed key), so these two reads use fixed SQL on a pooled DBAPI connection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Any

from openprofiles.storage.bulk import stored_time
from openprofiles.storage.database import Database
from openprofiles.storage.dialect import chunks
from openprofiles.storage.domains import DomainCounts, DomainRecord
from openprofiles.storage.json_column import load_json

#: Parsed domain rows kept (`FastReadSession.domain`) before the memo starts over.
DOMAIN_MEMO_SIZE = 1024
#: Rows a SQLite read connection remembers while the database is unchanged (`FastReadSession._recall`).
ROW_MEMO_SIZE = 4096

DomainFound = tuple[DomainRecord, DomainCounts]


class FastReadSession:
    def __init__(self, cursor: Any, sqlite: bool, domains: dict[tuple[Any, ...], DomainFound]) -> None:
        self.cursor = cursor
        self.sqlite = sqlite
        self._domains = domains
        self.marker = "?" if sqlite else "%s"
        self._by_one = (_found_by_one_sql(sqlite, after=False), _found_by_one_sql(sqlite, after=True))
        self._rows: dict[tuple[str, ...], Any] = {}
        self._version: int | None = None

    def _recall(self, key: tuple[str, ...]) -> Any:
        """On SQLite, a row this connection read before (`_remember`), if no connection of any
        process has committed since: `PRAGMA data_version` changes with every commit but this
        connection's own, and these connections only read. One pragma instead of a SELECT, so a
        revoked key or a changed domain is seen at once. None when there is nothing to recall."""
        if not self.sqlite:
            return None
        self.cursor.execute("PRAGMA data_version")
        version = self.cursor.fetchone()[0]
        if version != self._version:
            self._rows.clear()
            self._version = version
            return None
        return self._rows.get(key)

    def _remember(self, key: tuple[str, ...], row: Any) -> None:
        # Read after the pragma: as new as the version it is filed under, or newer (a commit in
        # between changes the version, so the next `_recall` reads again).
        if self.sqlite and row is not None:
            if len(self._rows) >= ROW_MEMO_SIZE:
                self._rows.clear()
            self._rows[key] = row

    def _marks(self, n: int) -> str:
        return ", ".join([self.marker] * n)

    def _found_by(self, domain_id: int, key_name: str, indexes: Sequence[bytes], unique_types: Sequence[str],
                  after: str | None) -> tuple[str, tuple[Any, ...]]:
        """The SELECT (and its parameters) of the (value index, profile id) pairs that these values of
        a key find: its key index entries and, when it is the UNIQUE key of some object types
        (`unique_types`), their objects whose value DeleteProfileKey has not removed."""
        m, marks = self.marker, self._marks(len(indexes))
        tail: tuple[Any, ...] = (after,) if after is not None else ()
        after_clause = f" AND profile_id > {m}" if after is not None else ""
        sql = (f"SELECT DISTINCT value_index, profile_id FROM profile_keys WHERE domain_id = {m} "
               f"AND key_name = {m} AND value_index IN ({marks}){after_clause}")
        params: tuple[Any, ...] = (domain_id, key_name, *indexes, *tail)
        if unique_types:
            sql += (f" UNION SELECT unique_index, profile_id FROM profile_objects WHERE domain_id = {m} "
                    f"AND object_type_name IN ({self._marks(len(unique_types))}) AND unique_index IN ({marks}) "
                    f"AND NOT unique_key_removed{after_clause}")
            params += (domain_id, *unique_types, *indexes, *tail)
        return sql, params

    def lookup(self, domain_id: int, key_name: str, indexes: Sequence[bytes],
               unique_types: Sequence[str] = ()) -> list[tuple[bytes, str]]:
        """(value index, profile id) of the profiles these values of a key find (see `_found_by`)."""
        out: list[tuple[bytes, str]] = []
        for part in chunks(list(indexes)):
            self.cursor.execute(*self._found_by(domain_id, key_name, part, unique_types, None))
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

    def domain(self, account_id: str, region: str, name: str) -> DomainFound | None:
        """A domain and its counters. Each distinct row is parsed once (every API call reads its
        domain; the records are frozen and shared), and on SQLite recalled while nothing changed."""
        key = ("domain", account_id, region, name)
        found: DomainFound | None = self._recall(key)
        if found is not None:
            return found
        self.cursor.execute(
            "SELECT id, account_id, region, name, default_expiration_days, default_encryption_key, "
            "dead_letter_queue_url, settings, created_at, last_updated_at, profile_count, object_count, total_size "
            f"FROM domains WHERE account_id = {self.marker} AND region = {self.marker} AND name = {self.marker}",
            (account_id, region, name),
        )
        row = self.cursor.fetchone()
        if row is None:
            return None
        found = self._domains.get(row)
        if found is None:
            record = DomainRecord(
                id=row[0], account_id=row[1], region=row[2], name=row[3], default_expiration_days=row[4],
                default_encryption_key=row[5], dead_letter_queue_url=row[6], settings=load_json(row[7] or "{}"),
                created_at=stored_time(row[8]), last_updated_at=stored_time(row[9]),
            )
            found = (record, DomainCounts(profiles=int(row[10]), objects=int(row[11]), total_size=int(row[12])))
            if len(self._domains) >= DOMAIN_MEMO_SIZE:
                self._domains.clear()
            self._domains[row] = found
        self._remember(key, found)
        return found

    def tags(self, arn: str) -> dict[str, str]:
        self.cursor.execute(
            f"SELECT tag_key, tag_value FROM tags WHERE resource_arn = {self.marker} ORDER BY tag_key", (arn,)
        )
        return dict(self.cursor.fetchall())

    def access_key(self, access_key_id: str) -> tuple[str, bool, bytes] | None:
        """(account id, active, sealed secret) of an access key."""
        key = ("access_key", access_key_id)
        found: tuple[str, bool, bytes] | None = self._recall(key)
        if found is not None:
            return found
        self.cursor.execute(
            f"SELECT account_id, active, secret_ciphertext FROM access_keys WHERE access_key_id = {self.marker}",
            (access_key_id,),
        )
        row = self.cursor.fetchone()
        found = (row[0], bool(row[1]), bytes(row[2])) if row else None
        self._remember(key, found)
        return found

    def object_type_version(self, domain_id: int, name: str) -> datetime | None:
        """When an object type was last changed (its version), or None when it does not exist."""
        m = self.marker
        self.cursor.execute(f"SELECT last_updated_at FROM object_types WHERE domain_id = {m} AND name = {m}",
                            (domain_id, name))
        row = self.cursor.fetchone()
        return stored_time(row[0]) if row else None

    def found_documents(self, domain_id: int, key_name: str, indexes: Sequence[bytes], after: str | None,
                        limit: int, unique_types: Sequence[str] = ()) -> list[tuple[str, bytes, bytes]]:
        """(profile id, value index, sealed document) of the first profiles in id order (after `after`)
        that these values of a key find (see `_found_by`), in one statement: at most `limit`
        profiles, each with every value that found it."""
        if len(indexes) == 1 and not unique_types:
            return self._found_by_one(domain_id, key_name, indexes[0], after, limit)
        found_by, params = self._found_by(domain_id, key_name, indexes, unique_types, after)
        self.cursor.execute(
            f"SELECT m.profile_id, m.value_index, p.document FROM ({found_by}) m "
            f"JOIN profiles p ON p.domain_id = {self.marker} AND p.profile_id = m.profile_id "
            f"ORDER BY m.profile_id LIMIT {self.marker}",
            # A profile has one row per distinct value that finds it: this many rows hold `limit` profiles.
            (*params, domain_id, limit * len(indexes)),
        )
        return [(pid, bytes(index), bytes(document)) for pid, index, document in self.cursor.fetchall()]

    def _found_by_one(self, domain_id: int, key_name: str, index: bytes, after: str | None,
                      limit: int) -> list[tuple[str, bytes, bytes]]:
        """`found_documents` for one value (see `_found_by_one_sql`)."""
        params: tuple[Any, ...] = (domain_id, key_name, index, limit) if after is None else (
            domain_id, key_name, index, after, limit)
        self.cursor.execute(self._by_one[after is not None], params if self.sqlite else (*params, domain_id))
        return [(pid, index, bytes(document)) for pid, document in self.cursor.fetchall()]

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


def _found_by_one_sql(sqlite: bool, after: bool) -> str:
    """The statement of `found_documents` for one value: its index entries are already in profile
    id order, so the database reads only the first `limit` of them (a value shared by a million
    profiles costs what a unique one does). A profile can have one entry per source of the value.
    Parameters: domain id, key name, value index, [after,] limit, and on PostgreSQL the domain id."""
    m = "?" if sqlite else "%s"
    after_clause = f"AND k.profile_id > {m} " if after else ""
    where = f"k.domain_id = {m} AND k.key_name = {m} AND k.value_index = {m} {after_clause}"
    if sqlite:  # SQLite groups in index order and reads a bare column of the group
        return ("SELECT k.profile_id, p.document FROM profile_keys k JOIN profiles p "
                f"ON p.domain_id = k.domain_id AND p.profile_id = k.profile_id WHERE {where}"
                f"GROUP BY k.profile_id ORDER BY k.profile_id LIMIT {m}")
    return (f"SELECT k.profile_id, p.document FROM (SELECT DISTINCT k.profile_id FROM profile_keys k "
            f"WHERE {where}ORDER BY k.profile_id LIMIT {m}) k "
            f"JOIN profiles p ON p.domain_id = {m} AND p.profile_id = k.profile_id ORDER BY k.profile_id")


#: Searches read the database through a memory map (as much of the file as SQLite allows): a
#: lookup's random index pages then cost no read() call each. Only these read connections map
#: the file, so a writer's memory stays its page cache.
SQLITE_READ_MMAP_BYTES = 1 << 40


class FastReader:
    """Fast read sessions. On SQLite each thread keeps its own connection (opening one per search
    would cost more than the search); on PostgreSQL connections come from the engine's pool."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._local = threading.local()
        self._kept: list[Any] = []
        self._lock = threading.Lock()
        self._domains: dict[tuple[Any, ...], DomainFound] = {}

    def _sqlite_session(self) -> FastReadSession:
        """This thread's connection, with one cursor kept for its reads."""
        session: FastReadSession | None = getattr(self._local, "session", None)
        if session is None:
            conn = self.db.engine.raw_connection()
            conn.detach()  # ours for this thread's lifetime, not the pool's
            cursor = conn.cursor()
            cursor.execute(f"PRAGMA mmap_size={SQLITE_READ_MMAP_BYTES}")
            session = self._local.session = FastReadSession(cursor, sqlite=True, domains=self._domains)
            with self._lock:
                self._kept.append(conn)
        return session

    def found_documents(self, domain_id: int, key_name: str, indexes: Sequence[bytes], after: str | None,
                        limit: int, unique_types: Sequence[str] = ()) -> list[tuple[str, bytes, bytes]]:
        """`FastReadSession.found_documents` as a read of its own (one statement: one snapshot)."""
        with self.session(statements=1) as session:
            return session.found_documents(domain_id, key_name, indexes, after, limit, unique_types)

    def session(self, statements: int = 2) -> AbstractContextManager[FastReadSession]:
        """Reads in one transaction (a consistent view of the key index and the profiles); on SQLite
        a session of one statement needs none (a statement reads one snapshot): it is the thread's
        session as it stands."""
        if self.db.dialect == "sqlite" and statements == 1:
            return nullcontext(self._sqlite_session())
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[FastReadSession]:
        if self.db.dialect == "sqlite":
            session = self._sqlite_session()
            session.cursor.execute("BEGIN")
            try:
                yield session
            finally:
                session.cursor.execute("ROLLBACK")
            return
        conn = self.db.engine.raw_connection()
        try:
            cursor = conn.cursor()
            try:
                yield FastReadSession(cursor, sqlite=False, domains=self._domains)
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
