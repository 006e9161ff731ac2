"""The database: engine set-up for SQLite and PostgreSQL, transactions, schema migrations."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from openprofiles.private_files import private_dir, private_file, tighten_if_present
from openprofiles.storage.wal_checkpoints import LOG_SIZE_LIMIT, SAFETY_NET_PAGES, WalCheckpointer

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 7_305_911_202


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer OpenProfiles than this one."""


def normalise_url(url: str) -> str:
    """`postgresql://…` and `postgres://…` use psycopg 3; anything else is passed on."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


#: Page cache per SQLite connection: random-order index inserts (blind-indexed keys) need the
#: upper levels of every index resident; SQLite's default 2 MiB is far too small at a million profiles.
SQLITE_CACHE_KIB = 65536
#: Page cache of a connection once it has written: a batch inserts into every index at random
#: places, and past ~64 MiB of indexes each insert read its page from the file again (at 400k
#: profiles a batch's statements took ~60% longer than at 50k; with this cache ~10%; the
#: indexes of a million ingested objects take ~1 GiB). The pool hands out the most recently used
#: connection first, so writes keep to one or two connections.
SQLITE_WRITE_CACHE_KIB = 393216


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'openprofiles.db'}"


def _null(_value: None) -> None:
    return None


def _register_sqlite_adapters() -> None:
    """Bind bytes and None without the adapter search. For a parameter that is not an int, float,
    str or bytearray, Python's sqlite3 looks for an adapter, and a miss raises and clears an
    AttributeError on the way (~0.6 us per value; ingestion binds about a dozen per object). An
    identity adapter is found at the first step. Bound values are unchanged."""
    sqlite3.register_adapter(bytes, bytes)  # bytes(b) is b itself
    sqlite3.register_adapter(type(None), _null)


def _sqlite_setup(engine: Engine) -> None:
    _register_sqlite_adapters()

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000",
                       f"cache_size=-{SQLITE_CACHE_KIB}", f"wal_autocheckpoint={SAFETY_NET_PAGES}",
                       f"journal_size_limit={LOG_SIZE_LIMIT}"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.connection.driver_connection.execute(f"BEGIN {mode}")  # type: ignore[union-attr]


def _private_database_file(path: Path) -> None:
    """The SQLite file created 0600 before SQLite opens it (its -wal and -shm files take the same
    mode from it), and an existing one with its -wal and -shm tightened to 0600; a missing
    directory is created 0700."""
    private_dir(path.parent, tighten=False)
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        tighten_if_present(path.with_name(path.name + suffix))


class Database:
    """One engine and the way the rest of the code opens transactions on it."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        self.checkpoints: WalCheckpointer | None = None
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                _private_database_file(Path(parsed.database))
                self.checkpoints = WalCheckpointer(parsed.database)
            self.engine = create_engine(self.url, pool_size=8, max_overflow=8, pool_use_lifo=True)
            _sqlite_setup(self.engine)
        else:
            self.engine = create_engine(self.url, pool_size=8, max_overflow=8, pool_pre_ping=True)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (on SQLite taken with BEGIN IMMEDIATE, so writers queue)."""
        with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn:
            if self.dialect == "sqlite" and not conn.info.get("write_cache"):
                conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                    f"PRAGMA cache_size=-{SQLITE_WRITE_CACHE_KIB}"
                )
                conn.info["write_cache"] = True
            with conn.begin():
                yield conn
            if self.checkpoints is not None:
                self.checkpoints.written()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _alembic_config(self, conn: Connection) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        return cfg

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return ScriptDirectory.from_config(cfg).get_current_head()

    def migrate(self) -> None:
        """Bring the schema to this version's head; refuse a schema newer than the code."""
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()
            try:
                cfg = self._alembic_config(conn)
                current = MigrationContext.configure(conn).get_current_revision()
                if current is not None:
                    try:
                        known = ScriptDirectory.from_config(cfg).get_revision(current)
                    except CommandError:
                        known = None
                    if known is None:
                        raise SchemaTooNew(
                            f"The database schema is at revision {current}, which this OpenProfiles "
                            f"does not know (its newest is {self.head_revision()}): it was written by a "
                            "newer version. Upgrade OpenProfiles, or point it at another database."
                        )
                command.upgrade(cfg, "head")
                conn.commit()
            finally:
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                    conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()
        if self.checkpoints is not None:
            self.checkpoints.close()
