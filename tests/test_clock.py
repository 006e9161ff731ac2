"""clock.py: the system clock tells aware UTC time; a fixed clock moves only when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from openprofiles.clock import Clock, FixedClock, SystemClock


def test_system_clock_is_aware_utc_now() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    after = datetime.now(UTC)
    assert now.utcoffset() == timedelta(0) and now.tzinfo is UTC
    assert before <= now <= after


def test_fixed_clock_moves_only_when_told() -> None:
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    clock: Clock = FixedClock(start)
    assert clock.now() == clock.now() == start
    assert isinstance(clock, FixedClock)
    clock.advance(timedelta(hours=1, seconds=1))
    clock.advance(timedelta(0))
    assert clock.now() == start + timedelta(hours=1, seconds=1)
    clock.advance(-timedelta(hours=2))  # backwards too, as a host's clock may step
    assert clock.now() == start - timedelta(hours=1) + timedelta(seconds=1)
