"""Fixtures of the storage tests: a store on the `db` fixture's fresh database, a domain in it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from openprofiles.storage.database import Database
from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.store import Store

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "111111111111"
REGION = "us-east-1"


@pytest.fixture
def store(db: Database) -> Store:
    return Store(db)


@pytest.fixture
def domain(store: Store) -> DomainRecord:
    with store.write() as uow:
        return uow.domains.add(ACCOUNT, REGION, "d", default_expiration_days=30, default_encryption_key=None,
                               dead_letter_queue_url=None, settings={}, now=NOW)
