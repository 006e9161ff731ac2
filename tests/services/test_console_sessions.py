"""Console session records and sign-in throttling over time, on SQLite and PostgreSQL: an injected
clock moves past a session's lifetime and past the throttling window; expired and signed-out records
and closed windows are swept; a revoked key ends its sessions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Table, func, select

from openprofiles.app import Runtime, build_runtime
from openprofiles.clock import FixedClock
from openprofiles.services.console_sessions import (
    ADDRESS_ATTEMPTS,
    ATTEMPT_WINDOW,
    KEY_ATTEMPTS,
    TOUCH_EVERY,
    ConsoleSessionService,
    Throttled,
)
from openprofiles.settings import Settings
from openprofiles.storage.tables import console_sessions, console_sign_in_attempts

START = datetime(2026, 1, 1, tzinfo=UTC)
LIFETIME = timedelta(hours=1)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Runtime]:
    built = build_runtime(Settings(data_dir=tmp_path, database_url=database_url), clock=clock)
    yield built
    built.close()


@pytest.fixture
def sessions(runtime: Runtime, clock: FixedClock) -> ConsoleSessionService:
    return ConsoleSessionService(runtime.store, runtime.access_keys.lookup, clock, LIFETIME)


def rows(runtime: Runtime, table: Table) -> int:
    with runtime.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_session_ends_at_its_expiry_and_is_swept(runtime: Runtime, sessions: ConsoleSessionService, clock: FixedClock) -> None:
    key = runtime.access_keys.create("111111111111")
    first = sessions.sign_in(key.access_key_id, key.secret_access_key, "192.0.2.1")
    assert isinstance(first, str)
    assert sessions.account_of(first) == "111111111111"

    clock.advance(LIFETIME - timedelta(seconds=1))
    assert sessions.account_of(first) == "111111111111"
    clock.advance(timedelta(seconds=1))
    assert sessions.account_of(first) is None

    second = sessions.sign_in(key.access_key_id, key.secret_access_key, "192.0.2.1")  # sweeps the expired one
    assert isinstance(second, str) and rows(runtime, console_sessions) == 1
    sessions.sign_out(second)
    assert sessions.account_of(second) is None
    third = sessions.sign_in(key.access_key_id, key.secret_access_key, "192.0.2.1")  # sweeps the signed-out one
    assert isinstance(third, str) and rows(runtime, console_sessions) == 1


def test_the_throttling_window_closes(runtime: Runtime, sessions: ConsoleSessionService, clock: FixedClock) -> None:
    key = runtime.access_keys.create("111111111111")
    for _ in range(KEY_ATTEMPTS):
        assert sessions.sign_in(key.access_key_id, "wrong", "192.0.2.1") is None
    clock.advance(timedelta(minutes=5))
    throttled = sessions.sign_in(key.access_key_id, key.secret_access_key, "192.0.2.2")
    assert throttled == Throttled(int((ATTEMPT_WINDOW - timedelta(minutes=5)).total_seconds()))

    clock.advance(ATTEMPT_WINDOW - timedelta(minutes=5))
    assert isinstance(sessions.sign_in(key.access_key_id, key.secret_access_key, "192.0.2.2"), str)
    # The key's counter was cleared, the addresses' windows have closed: all swept at the next attempt.
    clock.advance(ATTEMPT_WINDOW)
    assert sessions.sign_in(key.access_key_id, "wrong", "192.0.2.3") is None
    assert rows(runtime, console_sign_in_attempts) == 2  # this attempt's key id and address


def test_a_revoked_key_ends_its_sessions(runtime: Runtime, sessions: ConsoleSessionService) -> None:
    key = runtime.access_keys.create("222222222222")
    session_id = sessions.sign_in(key.access_key_id, key.secret_access_key, "192.0.2.1")
    assert isinstance(session_id, str) and sessions.account_of(session_id) == "222222222222"
    runtime.access_keys.revoke(key.access_key_id)
    assert sessions.account_of(session_id) is None
    assert sessions.sign_in(key.access_key_id, key.secret_access_key, "192.0.2.1") is None


@pytest.mark.parametrize("session_id", [None, "", "unknown", "x" * 65])
def test_no_account_for_a_missing_unknown_or_overlong_id(sessions: ConsoleSessionService,
                                                         session_id: str | None) -> None:
    assert sessions.account_of(session_id) is None
    sessions.sign_out(session_id)  # nothing to revoke: no error


def test_wrong_credentials_open_no_session(runtime: Runtime, sessions: ConsoleSessionService) -> None:
    key = runtime.access_keys.create("111111111111")
    assert sessions.sign_in(key.access_key_id, key.secret_access_key + "x", "192.0.2.1") is None
    assert sessions.sign_in("AKIANOSUCHKEY0000000", key.secret_access_key, "192.0.2.1") is None
    assert sessions.sign_in("", key.secret_access_key, "192.0.2.1") is None
    assert sessions.sign_in("A" * 129, key.secret_access_key, "192.0.2.1") is None
    assert rows(runtime, console_sessions) == 0


def test_an_address_is_throttled_across_key_ids(runtime: Runtime, sessions: ConsoleSessionService) -> None:
    key = runtime.access_keys.create("111111111111")
    for n in range(ADDRESS_ATTEMPTS):
        assert sessions.sign_in(f"AKIAGUESS{n:011d}", "wrong", "198.51.100.7") is None
    assert isinstance(sessions.sign_in(key.access_key_id, key.secret_access_key, "198.51.100.7"), Throttled)
    assert isinstance(sessions.sign_in(key.access_key_id, key.secret_access_key, "198.51.100.8"), str)


def test_a_success_takes_its_attempt_back(runtime: Runtime, sessions: ConsoleSessionService) -> None:
    """Signing in again and again from one address is never throttled: each success is forgiven."""
    key = runtime.access_keys.create("111111111111")
    for _ in range(ADDRESS_ATTEMPTS + 1):
        assert isinstance(sessions.sign_in(key.access_key_id, key.secret_access_key, "192.0.2.9"), str)


def test_last_seen_is_written_at_most_every_minute(runtime: Runtime, sessions: ConsoleSessionService,
                                                   clock: FixedClock) -> None:
    key = runtime.access_keys.create("111111111111")
    session_id = sessions.sign_in(key.access_key_id, key.secret_access_key, "192.0.2.1")
    assert isinstance(session_id, str)

    def last_seen() -> datetime:
        with runtime.db.read() as conn:
            seen: datetime = conn.execute(select(console_sessions.c.last_seen_at)).scalar_one()
        return seen if seen.tzinfo else seen.replace(tzinfo=UTC)

    clock.advance(TOUCH_EVERY - timedelta(seconds=1))
    assert sessions.account_of(session_id) is not None and last_seen() == START
    clock.advance(timedelta(seconds=1))
    assert sessions.account_of(session_id) is not None and last_seen() == START + TOUCH_EVERY
