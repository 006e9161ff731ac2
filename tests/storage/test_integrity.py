"""`violation`: the typed error for a database's unique or foreign-key violation (SQLAlchemy's
IntegrityError or the driver's own), None for other integrity errors."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from openprofiles.storage.database import Database
from openprofiles.storage.integrity import DuplicateKey, MissingReference, violation


def _error(db: Database, sql: str) -> IntegrityError:
    with db.engine.connect() as conn, pytest.raises(IntegrityError) as raised:
        conn.execute(text(sql))
    return raised.value


def test_each_violation_gets_its_type(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO tags (resource_arn, tag_key, tag_value) VALUES ('a', 'k', 'v')"))
    duplicate = _error(db, "INSERT INTO tags (resource_arn, tag_key, tag_value) VALUES ('a', 'k', 'w')")
    missing = _error(db, "INSERT INTO object_types (domain_id, name, definition, created_at, last_updated_at) "
                         "VALUES (999, 'x', '{}', '2026-01-01', '2026-01-01')")
    null = _error(db, "INSERT INTO tags (resource_arn, tag_key, tag_value) VALUES ('b', 'k', NULL)")
    assert isinstance(violation(duplicate), DuplicateKey)
    assert isinstance(violation(missing), MissingReference)
    assert violation(null) is None
    assert duplicate.orig is not None
    assert isinstance(violation(duplicate.orig), DuplicateKey)  # the driver's error, as bulk writes raise it
    assert violation(ValueError("not a database error")) is None
