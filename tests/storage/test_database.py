"""Schema migrations and transactions on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from openprofiles.storage.database import MIGRATIONS, Database, SchemaTooNew, normalise_url
from openprofiles.storage.profiles import ProfileRow
from openprofiles.storage.store import Store
from openprofiles.storage.tables import metadata


def test_migrations_build_exactly_the_declared_schema(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    db.migrate()  # idempotent
    assert db.current_revision() == db.head_revision()
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    db.dispose()


def test_newer_schema_refuses(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(SchemaTooNew, match="9999_from_the_future"):
        db.migrate()
    db.dispose()


def test_rollback_on_error_and_cascade_delete(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    store = Store(db)
    now = datetime.now(UTC)
    with pytest.raises(RuntimeError), store.write() as uow:
        uow.domains.add("111111111111", "us-east-1", "rolled", default_expiration_days=1,
                        default_encryption_key=None, dead_letter_queue_url=None, settings={}, now=now)
        raise RuntimeError("abort")
    with store.read() as uow:
        assert uow.domains.get("111111111111", "us-east-1", "rolled") is None
    with store.write() as uow:
        record = uow.domains.add("111111111111", "us-east-1", "kept", default_expiration_days=1,
                                 default_encryption_key=None, dead_letter_queue_url=None,
                                 settings={"Matching": {"Enabled": True}}, now=now)
        uow.profiles.insert_many(record.id, [ProfileRow("a" * 32, b"x", now, now, None)])
    with store.read() as uow:
        assert uow.domains.counts(record.id).profiles == 1
        again = uow.domains.get("111111111111", "us-east-1", "kept")
        assert again is not None and again.settings == {"Matching": {"Enabled": True}}
        assert again.created_at.tzinfo is not None
    with store.write() as uow:
        uow.domains.delete(record.id)
    with store.read() as uow:
        assert uow.conn.execute(text("SELECT count(*) FROM profiles")).scalar_one() == 0
    db.dispose()


def test_postgres_urls_use_psycopg() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_checkpoints_run_after_writes_on_their_own_thread(tmp_path: Path) -> None:
    """A commit only appends to the write-ahead log; the checkpoint thread copies it into the
    file soon after (writers alone would wait for 100,000 pages)."""
    path = tmp_path / "db.sqlite"
    db = Database(f"sqlite:///{path}")
    assert db.checkpoints is not None
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE t (b BLOB)")
    with db.write() as conn:
        conn.connection.driver_connection.executemany(  # type: ignore[union-attr]
            "INSERT INTO t VALUES (?)", [(os.urandom(1000),) for _ in range(2000)]
        )
    deadline = time.monotonic() + 10
    while path.stat().st_size < 2_000_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size >= 2_000_000, "the log was not checkpointed into the database file"
    thread = db.checkpoints._thread
    db.dispose()
    assert not thread.is_alive()
    check = sqlite3.connect(path)
    assert check.execute("SELECT count(*) FROM t").fetchone() == (2000,)
    check.close()


def test_upgrade_to_0007_moves_unique_key_values_to_their_objects(database_url: str) -> None:
    """A UNIQUE-only key's index entries go (its objects' values find the profile from now on); an
    object whose entry DeleteProfileKey had removed is marked so; a UNIQUE + PROFILE key keeps its
    entries, and the downgrade puts the removed entries back."""
    db = Database(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0006")
        conn.commit()
    stamp = "2026-11-29 00:00:00"
    keys = {"ticketId": [{"StandardIdentifiers": ["UNIQUE"], "FieldNames": ["id"]}],
            "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}]}
    both = {"accountRef": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["ref"]}]}
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO domains (id, account_id, region, name, settings, profile_count, object_count, "
                          "total_size, created_at, last_updated_at) VALUES (1, '111111111111', 'us-east-1', 'd', "
                          "'{}', 1, 3, 3, :t, :t)"), {"t": stamp})
        for name, definition in (("Tickets", {"Keys": keys}), ("Accounts", {"Keys": both})):
            conn.execute(text("INSERT INTO object_types (domain_id, name, definition, created_at, last_updated_at) "
                              "VALUES (1, :n, :d, :t, :t)"), {"n": name, "d": json.dumps(definition), "t": stamp})
        conn.execute(text("INSERT INTO profiles (domain_id, profile_id, document, created_at, last_updated_at) "
                          "VALUES (1, :p, :doc, :t, :t)"), {"p": "p" * 32, "doc": b"{}", "t": stamp})
        objects = (("Tickets", "o1", b"t1"), ("Tickets", "o2", b"t2"), ("Accounts", "o3", b"a1"))
        for type_name, key, index in objects:
            conn.execute(text("INSERT INTO profile_objects (domain_id, profile_id, object_type_name, object_key, "
                              "unique_index, payload, size, created_at, last_updated_at) "
                              "VALUES (1, :p, :n, :k, :i, :b, 1, :t, :t)"),
                         {"p": "p" * 32, "n": type_name, "k": key, "i": index, "b": b"x", "t": stamp})
        # t2's entry was removed by DeleteProfileKey; _email and the UNIQUE + PROFILE key stay.
        for name, index, source in (("ticketId", b"t1", "Tickets"), ("_email", b"e1", "Tickets"),
                                    ("accountRef", b"a1", "Accounts")):
            conn.execute(text("INSERT INTO profile_keys (domain_id, key_name, value_index, profile_id, source) "
                              "VALUES (1, :k, :i, :p, :s)"), {"k": name, "i": index, "p": "p" * 32, "s": source})
    db.migrate()

    def state() -> tuple[list[str], dict[str, bool]]:
        with db.engine.connect() as conn:
            entries = sorted(r[0] for r in conn.execute(text("SELECT key_name FROM profile_keys")))
            removed = {r[0]: bool(r[1]) for r in conn.execute(
                text("SELECT object_key, unique_key_removed FROM profile_objects"))} if db.current_revision() != "0006" else {}
        return entries, removed

    assert state() == (["_email", "accountRef"], {"o1": False, "o2": True, "o3": False})
    with db.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
        conn.commit()
    assert state() == (["_email", "accountRef", "ticketId"], {})
    db.dispose()


def test_upgrade_to_0010_drops_the_unused_leases_table_and_keeps_the_rest(database_url: str) -> None:
    """A database at 0009 (with a row in `leases`, a domain and a flow with JSON columns) upgrades:
    `leases` goes, the JSON written before reads back through the JSON column type; the downgrade
    brings the table back."""
    db = Database(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0009")
        conn.commit()
    stamp = "2026-12-01 00:00:00"
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO leases (name, holder, expires_at) VALUES ('x', 'w', :t)"), {"t": stamp})
        conn.execute(text("INSERT INTO domains (id, account_id, region, name, settings, profile_count, object_count, "
                          "total_size, created_at, last_updated_at) VALUES (1, '111111111111', 'us-east-1', 'd', "
                          "'{\"Matching\": {\"Enabled\": true}}', 0, 0, 0, :t, :t)"), {"t": stamp})
        conn.execute(text("INSERT INTO flows (account_id, region, name, definition, status, consecutive_failures, "
                          "cursor, created_at, last_updated_at) VALUES ('111111111111', 'us-east-1', 'f', "
                          "'{\"flowName\": \"f\"}', 'Active', 0, '[1, \"a\"]', :t, :t)"), {"t": stamp})
    db.migrate()
    assert db.current_revision() == "0010"
    with db.engine.connect() as conn:
        assert "leases" not in inspect(conn).get_table_names()
    store = Store(db)
    with store.read() as uow:
        domain = uow.domains.get("111111111111", "us-east-1", "d")
        flow = uow.flows.get("111111111111", "us-east-1", "f")
    assert domain is not None and domain.settings == {"Matching": {"Enabled": True}}
    assert flow is not None and (flow.definition, flow.cursor) == ({"flowName": "f"}, [1, "a"])
    with db.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0009")
        conn.commit()
        assert "leases" in inspect(conn).get_table_names()
    db.dispose()
