"""Typed integrity errors: what the unit of work raises when the database refuses a write.

Services catch these instead of the driver's or SQLAlchemy's errors: `DuplicateKey` when a row
with the same unique key exists (a concurrent create), `MissingReference` when a row refers to
one that is gone (a concurrent delete).
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

#: SQLSTATE (PostgreSQL) and extended result codes (SQLite) of each violation.
_DUPLICATE = {"23505", "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}
_MISSING = {"23503", "SQLITE_CONSTRAINT_FOREIGNKEY"}


class IntegrityViolation(Exception):
    """The database refused a write that would break a constraint."""


class DuplicateKey(IntegrityViolation):
    """A unique key (or primary key) is taken."""


class MissingReference(IntegrityViolation):
    """A foreign key names a row that does not exist."""


def violation(error: BaseException) -> IntegrityViolation | None:
    """The typed error for SQLAlchemy's (or the driver's own) IntegrityError of a unique or
    foreign-key violation, or None for anything else (a NOT NULL or CHECK violation is a bug)."""
    driver = error.orig if isinstance(error, IntegrityError) else error
    code = getattr(driver, "sqlstate", None) or getattr(driver, "sqlite_errorname", None)
    if code in _DUPLICATE:
        return DuplicateKey(str(driver))
    if code in _MISSING:
        return MissingReference(str(driver))
    return None
