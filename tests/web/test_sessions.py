"""Console sessions and sign-in throttling over time, on SQLite and PostgreSQL: an injected clock
moves past a session's lifetime and past the throttling window; expired and signed-out records
and closed windows are swept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Table, func, select

from openprofiles.app import Runtime, build_runtime
from openprofiles.clock import FixedClock
from openprofiles.settings import Settings
from openprofiles.storage.tables import console_sessions, console_sign_in_attempts
from openprofiles.web.sessions import ATTEMPT_WINDOW, KEY_ATTEMPTS, Sessions, Throttled

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
def sessions(runtime: Runtime, clock: FixedClock) -> Sessions:
    return Sessions(runtime.keyring.derive("console-sessions"), runtime.access_keys.lookup, runtime.store, clock,
                    LIFETIME)


def rows(runtime: Runtime, table: Table) -> int:
    with runtime.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_session_ends_at_its_expiry_and_is_swept(runtime: Runtime, sessions: Sessions, clock: FixedClock) -> None:
    key = runtime.access_keys.create("111111111111")
    first = sessions.sign_in(key.access_key_id, key.secret_access_key, "192.0.2.1")
    assert isinstance(first, str)
    session = sessions.current(first)
    assert session is not None and session.account_id == "111111111111"
    assert sessions.session_token_matches(first, session.csrf_token)
    assert not sessions.session_token_matches(first, sessions.sign_in_token(first))  # tokens are per purpose

    clock.advance(LIFETIME - timedelta(seconds=1))
    assert sessions.current(first) is not None
    clock.advance(timedelta(seconds=1))
    assert sessions.current(first) is None

    second = sessions.sign_in(key.access_key_id, key.secret_access_key, "192.0.2.1")  # sweeps the expired one
    assert isinstance(second, str) and rows(runtime, console_sessions) == 1
    sessions.sign_out(second)
    assert sessions.current(second) is None
    third = sessions.sign_in(key.access_key_id, key.secret_access_key, "192.0.2.1")  # sweeps the signed-out one
    assert isinstance(third, str) and rows(runtime, console_sessions) == 1


def test_the_throttling_window_closes(runtime: Runtime, sessions: Sessions, clock: FixedClock) -> None:
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
