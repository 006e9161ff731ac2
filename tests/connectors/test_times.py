"""connectors/times.py: instants from source values, the [since, until) window and the high-water mark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from openprofiles.connectors.times import in_window, later, parse_instant, utc, within

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_utc() -> None:
    assert utc(datetime(2024, 1, 1)) == T0
    assert utc(datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))) == T0
    assert utc(T0).tzinfo is UTC


@pytest.mark.parametrize(("value", "expected"), [
    (None, None),
    ("", None),
    ("2024-01-01T00:00:00Z", T0),
    (" 2024-01-01 00:00:00 ", T0),  # no offset: UTC
    ("2024-01-01T02:00:00+02:00", T0),
    (1704067200, T0),  # epoch seconds
    ("1704067200", T0),
    (1704067200000, T0),  # from 1e11 on: milliseconds
    ("1704067200000", T0),
    (1704067200.5, T0 + timedelta(milliseconds=500)),
])
def test_parse_instant(value: Any, expected: datetime | None) -> None:
    assert parse_instant(value) == expected


def test_an_iso_string_keeps_its_offset() -> None:
    moment = parse_instant("2024-01-01T02:00:00+02:00")
    assert moment is not None and moment.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize("value", [True, [1], {"a": 1}, "soon", "1e400", 1e300])
def test_parse_instant_refuses(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_instant(value)


def test_within_is_half_open_and_unknown_decides_for_no_time() -> None:
    assert within(T0, T0, T0 + timedelta(1), unknown=False)
    assert not within(T0 + timedelta(1), T0, T0 + timedelta(1), unknown=True)
    assert within(T0, datetime(2024, 1, 1), None, unknown=False)  # naive bounds are UTC
    assert within(T0, None, None, unknown=False)
    assert within(None, T0, None, unknown=True) and not within(None, T0, None, unknown=False)


def test_later() -> None:
    assert later(None, T0) == T0
    assert later(T0, None) == T0
    assert later(T0 + timedelta(1), T0) == T0 + timedelta(1)
    assert later(T0, T0 + timedelta(1)) == T0 + timedelta(1)


def test_in_window_keeps_records_in_order_with_their_latest_time() -> None:
    records = [{"at": T0 + timedelta(hours=h)} for h in (3, 0, 5, 1)] + [{"at": None}]
    kept, high = in_window(records, lambda r: r["at"], T0 + timedelta(hours=1), T0 + timedelta(hours=5), unknown=True)
    assert kept == [records[0], records[3], records[4]]
    assert high == T0 + timedelta(hours=3)
    assert in_window([], lambda r: r, None, None, unknown=True) == ([], None)
