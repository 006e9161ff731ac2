"""Console sessions by id hash (touched, revoked once, swept when revoked or expired, gone with
their access key) and the sign-in attempt counters (a fixed window per subject, all-or-nothing
counting over several subjects, forgive, clear, sweep)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from openprofiles.storage.store import Store
from tests.storage.conftest import NOW

WINDOW = timedelta(minutes=15)
A, B = b"a" * 32, b"b" * 32


@pytest.fixture
def key(store: Store) -> str:
    with store.write() as uow:
        uow.access_keys.add("AKID", "111111111111", b"sealed", NOW)
    return "AKID"


def test_a_session_is_touched_revoked_once_and_swept(store: Store, key: str) -> None:
    with store.write() as uow:
        uow.console_sessions.add(A, key, NOW, NOW + timedelta(hours=8))
        uow.console_sessions.add(B, key, NOW, NOW + timedelta(hours=1))
        uow.console_sessions.touch(A, NOW + timedelta(minutes=5))
    with store.read() as uow:
        session = uow.console_sessions.get(A)
        assert uow.console_sessions.get(b"c" * 32) is None
    assert session is not None and session.access_key_id == key and session.revoked_at is None
    assert (session.created_at, session.last_seen_at) == (NOW, NOW + timedelta(minutes=5))
    with store.write() as uow:
        assert uow.console_sessions.revoke(A, NOW + timedelta(minutes=6))
        assert not uow.console_sessions.revoke(A, NOW + timedelta(minutes=7))
    with store.write() as uow:
        assert uow.console_sessions.sweep(NOW + timedelta(minutes=30)) == 1  # A: revoked; B still open
        assert uow.console_sessions.get(B) is not None
        assert uow.console_sessions.sweep(NOW + timedelta(hours=1)) == 1  # B: expired


def test_sessions_go_with_their_access_key(store: Store, key: str) -> None:
    with store.write() as uow:
        uow.console_sessions.add(A, key, NOW, NOW + timedelta(hours=8))
        uow.conn.exec_driver_sql("DELETE FROM access_keys")
    with store.read() as uow:
        assert uow.console_sessions.get(A) is None


def _take(store: Store, limits: list[tuple[bytes, int]], minutes: float) -> object:
    with store.write() as uow:
        return uow.sign_in_attempts.take(limits, NOW + timedelta(minutes=minutes), WINDOW)


def test_attempts_are_counted_in_a_fixed_window(store: Store) -> None:
    assert _take(store, [(A, 2)], 0) is None
    assert _take(store, [(A, 2)], 1) is None
    assert _take(store, [(A, 2)], 2) == NOW + WINDOW  # blocked until the window that opened at 0 closes
    assert _take(store, [(A, 2)], 15) is None  # a new window
    with store.write() as uow:
        uow.sign_in_attempts.forgive(A)
        uow.sign_in_attempts.forgive(A)  # never below zero
    assert _take(store, [(A, 2)], 16) is None
    assert _take(store, [(A, 2)], 17) is None
    assert _take(store, [(A, 2)], 18) == NOW + timedelta(minutes=15) + WINDOW


def test_a_blocked_subject_counts_no_attempt_for_the_others(store: Store) -> None:
    assert _take(store, [(A, 1)], 0) is None
    assert _take(store, [(A, 1), (B, 5)], 1) == NOW + WINDOW
    with store.read() as uow:
        counted = uow.conn.exec_driver_sql("SELECT attempts FROM console_sign_in_attempts ORDER BY subject").all()
    assert [row[0] for row in counted] == [1, 0]
    with store.write() as uow:
        uow.sign_in_attempts.clear(A)
    assert _take(store, [(A, 1), (B, 5)], 2) is None
    with store.write() as uow:
        assert uow.sign_in_attempts.sweep(NOW + timedelta(minutes=16)) == 1  # B's window (opened at 1) is open
        assert uow.sign_in_attempts.sweep(NOW + timedelta(minutes=17)) == 1
