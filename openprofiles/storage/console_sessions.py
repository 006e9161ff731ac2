"""Console sessions, found by the SHA-256 of their id, and the sign-in attempt counters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Table, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from openprofiles.storage.tables import console_sessions, console_sign_in_attempts


@dataclass(frozen=True)
class ConsoleSessionRecord:
    access_key_id: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None


class ConsoleSessionRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, id_hash: bytes, access_key_id: str, now: datetime, expires_at: datetime) -> None:
        self.conn.execute(insert(console_sessions).values(
            id_hash=id_hash, access_key_id=access_key_id, created_at=now, expires_at=expires_at, last_seen_at=now))

    def get(self, id_hash: bytes) -> ConsoleSessionRecord | None:
        t = console_sessions
        row = self.conn.execute(
            select(t.c.access_key_id, t.c.created_at, t.c.expires_at, t.c.last_seen_at, t.c.revoked_at)
            .where(t.c.id_hash == id_hash)).first()
        return ConsoleSessionRecord(**row._mapping) if row else None

    def touch(self, id_hash: bytes, now: datetime) -> None:
        self.conn.execute(update(console_sessions).where(console_sessions.c.id_hash == id_hash).values(last_seen_at=now))

    def revoke(self, id_hash: bytes, now: datetime) -> bool:
        """End the session; whether there was one still open."""
        t = console_sessions
        result = self.conn.execute(
            update(t).where(t.c.id_hash == id_hash, t.c.revoked_at.is_(None)).values(revoked_at=now))
        return result.rowcount == 1

    def sweep(self, now: datetime) -> int:
        """Delete the revoked and expired sessions; how many."""
        t = console_sessions
        return self.conn.execute(delete(t).where(or_(t.c.expires_at <= now, t.c.revoked_at.is_not(None)))).rowcount


def _insert_ignore(conn: Connection, table: Table, **values: object) -> None:
    """Insert a row unless one with its primary key exists (either dialect's ON CONFLICT DO NOTHING)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).values(**values).on_conflict_do_nothing())


class SignInAttemptRepository:
    """Attempts counted per subject in a fixed window that opens with the subject's first counted
    attempt and lasts `window`. The rows of the subjects are locked (SELECT … FOR UPDATE on
    PostgreSQL; SQLite has one writer) so that concurrent attempts are all counted."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def take(self, limits: Sequence[tuple[bytes, int]], now: datetime, window: timedelta) -> datetime | None:
        """Count one attempt for each (subject, limit), unless a subject already had `limit`
        attempts in its open window: then count none and return when the last such window closes."""
        t = console_sign_in_attempts
        subjects = sorted(subject for subject, _ in limits)  # one lock order for every transaction
        for subject in subjects:
            _insert_ignore(self.conn, t, subject=subject, attempts=0, window_started_at=now, expires_at=now + window)
        rows = {row.subject: row for row in self.conn.execute(
            select(t.c.subject, t.c.attempts, t.c.window_started_at)
            .where(t.c.subject.in_(subjects)).order_by(t.c.subject).with_for_update())}
        blocked: list[datetime] = [rows[s].window_started_at + window for s, limit in limits
                   if rows[s].window_started_at + window > now and rows[s].attempts >= limit]
        if blocked:
            return max(blocked)
        for subject in subjects:
            if rows[subject].window_started_at + window <= now:
                values: dict[str, object] = {"attempts": 1, "window_started_at": now, "expires_at": now + window}
            else:
                values = {"attempts": t.c.attempts + 1}
            self.conn.execute(update(t).where(t.c.subject == subject).values(**values))
        return None

    def forgive(self, subject: bytes) -> None:
        """Take back one counted attempt."""
        t = console_sign_in_attempts
        self.conn.execute(update(t).where(t.c.subject == subject, t.c.attempts > 0).values(attempts=t.c.attempts - 1))

    def clear(self, subject: bytes) -> None:
        self.conn.execute(delete(console_sign_in_attempts).where(console_sign_in_attempts.c.subject == subject))

    def sweep(self, now: datetime) -> int:
        """Delete the counters whose window has closed; how many."""
        t = console_sign_in_attempts
        return self.conn.execute(delete(t).where(t.c.expires_at <= now)).rowcount
