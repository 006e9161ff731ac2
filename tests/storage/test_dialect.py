"""The statements that differ by database: the domain lock (PostgreSQL: a transaction-scoped
advisory lock; SQLite: its single writer) and IN-list slices."""

from __future__ import annotations

from sqlalchemy import text

from openprofiles.storage.database import Database
from openprofiles.storage.dialect import _DOMAIN_LOCK_BASE, chunks, lock_domain


def test_chunks_cover_the_values_in_order_in_slices_of_at_most_size() -> None:
    values = list(range(2000))
    parts = chunks(values)
    assert [len(p) for p in parts] == [900, 900, 200]
    assert [v for p in parts for v in p] == values
    assert chunks([], 3) == []
    assert chunks([1, 2, 3], 3) == [[1, 2, 3]]


def test_the_domain_lock_is_held_until_the_transaction_ends(db: Database) -> None:
    with db.write() as conn:
        lock_domain(conn, 7)
        if db.dialect == "postgresql":
            with db.engine.connect() as other:
                taken = other.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _DOMAIN_LOCK_BASE + 7})
                assert taken.scalar_one() is False
                other.rollback()
                other_domain = other.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _DOMAIN_LOCK_BASE + 8})
                assert other_domain.scalar_one() is True
                other.rollback()
        else:
            assert conn.connection.driver_connection.in_transaction  # type: ignore[union-attr]
    if db.dialect == "postgresql":
        with db.engine.connect() as other:
            free = other.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _DOMAIN_LOCK_BASE + 7})
            assert free.scalar_one() is True
