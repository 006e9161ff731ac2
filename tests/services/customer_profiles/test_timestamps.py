"""customer_profiles/timestamps.py: SimpleDateFormat patterns as strptime formats, and source timestamps parsed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from openprofiles.errors import Invalid
from openprofiles.services.customer_profiles.timestamps import parse_source_timestamp, to_strptime


@pytest.mark.parametrize(("pattern", "expected"), [
    ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "%Y-%m-%dT%H:%M:%S.%f%z"),
    ("yyyy-MM-dd HH:mm:ss", "%Y-%m-%d %H:%M:%S"),
    ("dd/MM/yy h:mm a", "%d/%m/%y %I:%M %p"),
    ("EEE, d MMM yyyy HH:mm:ss Z", "%a, %d %b %Y %H:%M:%S %z"),
    ("EEEE MMMM d", "%A %B %d"),
    ("yyyyMMdd", "%Y%m%d"),
    ("HH 'o''clock'", "%H o'clock"),  # '' inside quotes is a quote
    ("yyyy''MM", "%Y'%m"),  # '' alone is a quote
    ("'100%' yyyy", "100%% %Y"),  # a % stays a literal
    ("yyyy-MM-dd z", "%Y-%m-%d %Z"),
])
def test_patterns(pattern: str, expected: str) -> None:
    assert to_strptime(pattern) == expected


@pytest.mark.parametrize("pattern", ["yyyy-MM-dd'T'HH:mm:ss.SSSSXXX", "yyyyy", "GGGG yyyy", "yyyy-ww"])
def test_unsupported_letters_are_named(pattern: str) -> None:
    with pytest.raises(Invalid, match="unsupported pattern letters"):
        to_strptime(pattern)


def test_a_zone_designator_z_and_offsets_become_utc() -> None:
    pattern = "yyyy-MM-dd'T'HH:mm:ssXXX"
    assert parse_source_timestamp("2026-03-01T10:00:00Z", pattern) == datetime(2026, 3, 1, 10, tzinfo=UTC)
    parsed = parse_source_timestamp("2026-03-01T10:00:00+02:00", pattern)
    assert parsed == datetime(2026, 3, 1, 8, tzinfo=UTC) and parsed.utcoffset() == timedelta(0)


def test_a_time_without_a_zone_is_utc() -> None:
    parsed = parse_source_timestamp(" 2026-03-01 10:00:00 ", "yyyy-MM-dd HH:mm:ss")
    assert parsed == datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_fractions_of_a_second() -> None:
    parsed = parse_source_timestamp("2026-03-01T10:00:00.250Z", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX")
    assert parsed == datetime(2026, 3, 1, 10, 0, 0, 250_000, tzinfo=UTC)


def test_epoch_seconds_and_milliseconds_whatever_the_pattern() -> None:
    assert parse_source_timestamp("1767225600", "yyyy") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_source_timestamp("1767225600500", "yyyy") == datetime(2026, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01 00:00:00", "2026-03-01", ""])
def test_a_value_that_does_not_match_is_none(value: str) -> None:
    assert parse_source_timestamp(value, "yyyy-MM-dd HH:mm:ss") is None
