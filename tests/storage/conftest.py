"""Fixtures of the storage tests: `db` as a copy of a database migrated once per session (a
PostgreSQL template database, an SQLite file), a store on it, a domain in it."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from openprofiles.storage.database import Database
from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.store import Store
from tests.harness import PostgresCluster

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "111111111111"
REGION = "us-east-1"


def _migrated(url: str) -> None:
    database = Database(url)
    database.migrate()
    database.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "openprofiles.db"
    _migrated(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres: PostgresCluster) -> str:
    url = postgres.new_database()
    _migrated(url)
    return url.rsplit("/", 1)[1]


@pytest.fixture
def db(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh, migrated database on each backend (a copy of the session's migrated one)."""
    if backend == "sqlite":
        path = tmp_path / "openprofiles.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        name = f"s{uuid.uuid4().hex[:16]}"
        template = request.getfixturevalue("postgres_template")
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            # Copying the files (PostgreSQL 15+) is quicker than WAL-logging every page, now and at shutdown.
            strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
        url = cluster.url(name)
    database = Database(url)
    yield database
    database.dispose()


@pytest.fixture
def store(db: Database) -> Store:
    return Store(db)


@pytest.fixture
def domain(store: Store) -> DomainRecord:
    with store.write() as uow:
        return uow.domains.add(ACCOUNT, REGION, "d", default_expiration_days=30, default_encryption_key=None,
                               dead_letter_queue_url=None, settings={}, now=NOW)
