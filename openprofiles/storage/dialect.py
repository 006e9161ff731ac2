"""The few statements that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

_DOMAIN_LOCK_BASE = 0x0F00_0000_0000


def lock_domain(conn: Connection, domain_id: int) -> None:
    """Serialise writers of one domain's profiles until the transaction ends.

    SQLite already has a single writer (BEGIN IMMEDIATE); PostgreSQL takes a transaction-scoped
    advisory lock, so two writers with the same new key cannot both create a profile."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _DOMAIN_LOCK_BASE + domain_id})


def chunks(values: Sequence[Any], size: int = 900) -> list[Sequence[Any]]:
    """Slices small enough for an IN (...) list on either database."""
    return [values[i : i + size] for i in range(0, len(values), size)]
