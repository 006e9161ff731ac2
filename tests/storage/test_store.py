"""The unit of work: one transaction, committed at the end of the block, rolled back on an error;
the database's unique and foreign-key violations raised as DuplicateKey and MissingReference,
whether a statement or the commit reports them, through SQLAlchemy or the driver's cursor."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from openprofiles.storage.domains import DomainRecord
from openprofiles.storage.integrity import DuplicateKey, MissingReference
from openprofiles.storage.profiles import ProfileRow
from openprofiles.storage.store import Store
from tests.storage.conftest import ACCOUNT, NOW, REGION


def _add_domain(store: Store, name: str) -> DomainRecord:
    with store.write() as uow:
        return uow.domains.add(ACCOUNT, REGION, name, default_expiration_days=None, default_encryption_key=None,
                               dead_letter_queue_url=None, settings={"k": 1}, now=NOW)


def test_a_block_commits_and_an_error_rolls_it_back(store: Store) -> None:
    _add_domain(store, "kept")
    with pytest.raises(RuntimeError), store.write() as uow:
        uow.tags.put("arn:x", {"a": "1"})
        raise RuntimeError("abort")
    with store.read() as uow:
        assert uow.domains.get(ACCOUNT, REGION, "kept") is not None
        assert uow.tags.get("arn:x") == {}


def test_a_taken_unique_key_raises_duplicate_key_and_nothing_of_the_block_stays(store: Store) -> None:
    _add_domain(store, "d")
    with pytest.raises(DuplicateKey) as raised, store.write() as uow:
        uow.tags.put("arn:y", {"a": "1"})
        uow.domains.add(ACCOUNT, REGION, "d", default_expiration_days=None, default_encryption_key=None,
                        dead_letter_queue_url=None, settings={}, now=NOW)
    assert isinstance(raised.value.__cause__, IntegrityError)
    with store.read() as uow:
        assert uow.tags.get("arn:y") == {}
        assert len(uow.domains.list(ACCOUNT, REGION, None, 10)) == 1


def test_a_duplicate_written_through_the_driver_cursor_raises_duplicate_key(store: Store, domain: DomainRecord) -> None:
    row = ProfileRow("p" * 32, b"doc", NOW, NOW, None)
    with store.write() as uow:
        uow.profiles.insert_many(domain.id, [row])
    with pytest.raises(DuplicateKey), store.write() as uow:
        uow.profiles.insert_many(domain.id, [row])


def test_a_reference_to_a_missing_row_raises_missing_reference(store: Store) -> None:
    with pytest.raises(MissingReference), store.write() as uow:
        uow.executions.add(12345, "run-x", "OnDemand", NOW, None, None)


def test_a_violation_reported_at_commit_is_typed_too(store: Store) -> None:
    """SQLite checks deferred foreign keys at COMMIT; PostgreSQL deferred unique constraints."""
    if store.db.dialect == "sqlite":
        with pytest.raises(MissingReference), store.write() as uow:
            uow.conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
            uow.executions.add(12345, "run-x", "OnDemand", NOW, None, None)
    else:
        with store.write() as uow:
            uow.conn.execute(text("CREATE TABLE deferred (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)"))
        with pytest.raises(DuplicateKey), store.write() as uow:
            uow.conn.execute(text("INSERT INTO deferred VALUES (1), (1)"))
    with store.read() as uow:
        assert uow.executions.get("run-x") is None


def test_other_integrity_errors_are_not_translated(store: Store) -> None:
    with pytest.raises(IntegrityError), store.write() as uow:
        uow.conn.execute(text("INSERT INTO tags (resource_arn, tag_key, tag_value) VALUES ('a', 'b', NULL)"))

