"""Schedule expressions: rate/cron syntax, time zones and DST, start/end/offset, invalid input."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from openprofiles.errors import Invalid
from openprofiles.scheduler.grammar import (
    EPOCH,
    CronSchedule,
    RateSchedule,
    Schedule,
    parse_schedule,
    resolve_timezone,
)

NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def fires(
    expression: str,
    after: datetime,
    count: int,
    *,
    tz: ZoneInfo | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    offset_seconds: int = 0,
) -> list[datetime]:
    schedule = parse_schedule(expression)
    return schedule.upcoming(after, count, tz=tz, start=start, end=end, offset_seconds=offset_seconds)


# ------------------------------------------------------------------------------------------- rate


@pytest.mark.parametrize(
    ("expression", "interval"),
    [
        ("rate(5minutes)", timedelta(minutes=5)),  # AppFlow's documented form, no space
        ("rate(5 minutes)", timedelta(minutes=5)),  # EventBridge's form
        ("rate(15minutes)", timedelta(minutes=15)),
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(1minute)", timedelta(minutes=1)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(2 hours)", timedelta(hours=2)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(3days)", timedelta(days=3)),
        ("rate(1 minutes)", timedelta(minutes=1)),  # lenient: EventBridge wants the singular for 1
        ("rate(5 minute)", timedelta(minutes=5)),  # lenient: EventBridge wants the plural above 1
        ("RATE( 10  Minutes )", timedelta(minutes=10)),  # lenient about case and spaces
        ("  rate(05 minutes)  ", timedelta(minutes=5)),
    ],
)
def test_rate_forms(expression: str, interval: timedelta) -> None:
    schedule = parse_schedule(expression)
    assert isinstance(schedule, RateSchedule)
    assert schedule.interval == interval
    assert schedule.minimum_interval() == interval
    assert schedule.expression == expression


def test_rate_without_start_is_anchored_at_the_epoch() -> None:
    assert fires("rate(5minutes)", utc(2026, 1, 1, 10, 2, 30), 3) == [
        utc(2026, 1, 1, 10, 5),
        utc(2026, 1, 1, 10, 10),
        utc(2026, 1, 1, 10, 15),
    ]
    assert parse_schedule("rate(1 day)").next_after(utc(2026, 1, 1, 0, 0)) == utc(2026, 1, 2)
    # 1970-01-01 was a Thursday, and so is 2026-01-01: weekly rates without a start fire on Thursdays.
    assert parse_schedule("rate(7 days)").next_after(utc(2025, 12, 30)) == utc(2026, 1, 1)
    assert parse_schedule("rate(7 days)").next_after(utc(2026, 1, 1)) == utc(2026, 1, 8)
    assert parse_schedule("rate(1 hour)").next_after(EPOCH - timedelta(seconds=1)) == EPOCH


def test_rate_is_anchored_at_start_and_start_is_the_first_fire() -> None:
    start = utc(2026, 1, 1, 10, 7, 30)
    schedule = parse_schedule("rate(15 minutes)")
    assert schedule.next_after(utc(2025, 6, 1), start=start) == start
    assert schedule.next_after(start, start=start) == start + timedelta(minutes=15)
    assert schedule.next_after(utc(2026, 1, 1, 12), start=start) == utc(2026, 1, 1, 12, 7, 30)


def test_rate_ignores_the_time_zone_and_counts_elapsed_time_across_dst() -> None:
    start = utc(2026, 3, 7, 14)  # 09:00 EST
    times = fires("rate(1 day)", start, 2, tz=NEW_YORK, start=start)
    assert times == [utc(2026, 3, 8, 14), utc(2026, 3, 9, 14)]  # 10:00 EDT after the change, as EventBridge
    assert times[1].astimezone(NEW_YORK).hour == 10


def test_rate_with_offset_and_end() -> None:
    start = utc(2026, 1, 1, 10)
    assert fires("rate(1 hour)", utc(2026, 1, 1), 3, start=start, offset_seconds=600) == [
        utc(2026, 1, 1, 10, 10),
        utc(2026, 1, 1, 11, 10),
        utc(2026, 1, 1, 12, 10),
    ]
    assert fires("rate(1 hour)", utc(2026, 1, 1), 5, start=start, offset_seconds=600, end=utc(2026, 1, 1, 12, 10)) == [
        utc(2026, 1, 1, 10, 10),
        utc(2026, 1, 1, 11, 10),
    ]


# ------------------------------------------------------------------------------------------- cron


CRON_EXAMPLES = [
    # (expression, after, next fire times in UTC)
    ("cron(0 12 * * ? *)", utc(2026, 5, 1, 12), [utc(2026, 5, 2, 12), utc(2026, 5, 3, 12)]),
    ("cron(0 12 * * ? *)", utc(2026, 5, 1, 11, 59, 59), [utc(2026, 5, 1, 12)]),
    ("cron(15 10 ? * 6L 2026-2030)", utc(2026, 1, 1), [utc(2026, 1, 30, 10, 15), utc(2026, 2, 27, 10, 15)]),
    ("cron(15 10 ? * 6L 2026-2030)", utc(2030, 12, 1), [utc(2030, 12, 27, 10, 15)]),  # then nothing
    ("cron(15 10 ? * 6L 2026-2030)", utc(2020, 1, 1), [utc(2026, 1, 30, 10, 15)]),
    ("cron(0/15 * * * ? *)", utc(2026, 1, 1, 9, 50), [utc(2026, 1, 1, 10), utc(2026, 1, 1, 10, 15)]),
    ("cron(*/20 9 * * ? *)", utc(2026, 1, 1), [utc(2026, 1, 1, 9), utc(2026, 1, 1, 9, 20), utc(2026, 1, 1, 9, 40)]),
    ("cron(5/20 9 * * ? *)", utc(2026, 1, 1), [utc(2026, 1, 1, 9, 5), utc(2026, 1, 1, 9, 25), utc(2026, 1, 1, 9, 45)]),
    ("cron(0-30/10 9 * * ? *)", utc(2026, 1, 1, 9, 15), [utc(2026, 1, 1, 9, 20), utc(2026, 1, 1, 9, 30)]),
    ("cron(0 8,12,17 * * ? *)", utc(2026, 1, 1, 9), [utc(2026, 1, 1, 12), utc(2026, 1, 1, 17), utc(2026, 1, 2, 8)]),
    ("cron(0 22-1 * * ? *)", utc(2026, 1, 1, 2), [utc(2026, 1, 1, 22), utc(2026, 1, 1, 23), utc(2026, 1, 2, 0)]),
    # day-of-month: value, range, list, step, L, LW, W
    ("cron(0 0 15 * ? *)", utc(2026, 1, 20), [utc(2026, 2, 15), utc(2026, 3, 15)]),
    ("cron(0 0 1-3 * ? *)", utc(2026, 1, 2, 12), [utc(2026, 1, 3), utc(2026, 2, 1)]),
    ("cron(0 0 1,15 * ? *)", utc(2026, 1, 2), [utc(2026, 1, 15), utc(2026, 2, 1)]),
    ("cron(0 0 1/10 * ? *)", utc(2026, 1, 2), [utc(2026, 1, 11), utc(2026, 1, 21), utc(2026, 1, 31), utc(2026, 2, 1)]),
    ("cron(0 0 31 * ? *)", utc(2026, 1, 31, 1), [utc(2026, 3, 31), utc(2026, 5, 31)]),  # short months skipped
    ("cron(0 0 L * ? *)", utc(2026, 1, 1), [utc(2026, 1, 31), utc(2026, 2, 28), utc(2026, 3, 31)]),
    ("cron(0 0 L * ? *)", utc(2028, 2, 1), [utc(2028, 2, 29)]),
    ("cron(0 8 LW * ? *)", utc(2026, 5, 1), [utc(2026, 5, 29, 8), utc(2026, 6, 30, 8)]),  # May 31 is a Sunday
    ("cron(0 8 1W * ? *)", utc(2026, 1, 1), [utc(2026, 1, 1, 8), utc(2026, 2, 2, 8)]),  # Feb 1: Sunday → Monday
    ("cron(0 8 1W * ? *)", utc(2026, 7, 15), [utc(2026, 8, 3, 8)]),  # Aug 1 is a Saturday → Monday the 3rd
    ("cron(0 8 15W * ? *)", utc(2026, 8, 1), [utc(2026, 8, 14, 8)]),  # Saturday → Friday before
    ("cron(0 8 15W * ? *)", utc(2026, 2, 1), [utc(2026, 2, 16, 8)]),  # Sunday → Monday after
    ("cron(0 8 31W * ? *)", utc(2026, 5, 1), [utc(2026, 5, 29, 8), utc(2026, 7, 31, 8)]),  # Sunday 31st → Friday
    # month: numbers, names, ranges, lists, steps
    ("cron(0 0 1 JAN,JUL ? *)", utc(2026, 2, 1), [utc(2026, 7, 1), utc(2027, 1, 1)]),
    ("cron(0 0 1 jun-aug ? *)", utc(2026, 1, 1), [utc(2026, 6, 1), utc(2026, 7, 1), utc(2026, 8, 1), utc(2027, 6, 1)]),
    ("cron(0 0 1 NOV-FEB ? *)", utc(2026, 3, 1), [utc(2026, 11, 1), utc(2026, 12, 1), utc(2027, 1, 1)]),
    ("cron(0 0 1 1/4 ? *)", utc(2026, 1, 2), [utc(2026, 5, 1), utc(2026, 9, 1), utc(2027, 1, 1)]),
    # day-of-week: numbers (1 = Sunday), names, ranges, lists, L, nL, #
    ("cron(0 9 ? * 1 *)", utc(2026, 1, 1), [utc(2026, 1, 4, 9)]),
    ("cron(0 9 ? * MON-FRI *)", utc(2026, 1, 2, 10), [utc(2026, 1, 5, 9), utc(2026, 1, 6, 9)]),
    ("cron(0 9 ? * SAT,SUN *)", utc(2026, 1, 1), [utc(2026, 1, 3, 9), utc(2026, 1, 4, 9), utc(2026, 1, 10, 9)]),
    ("cron(0 9 ? * FRI-MON *)", utc(2026, 1, 1), [utc(2026, 1, 2, 9), utc(2026, 1, 3, 9), utc(2026, 1, 4, 9)]),
    ("cron(0 9 ? * * *)", utc(2026, 1, 1, 10), [utc(2026, 1, 2, 9)]),
    ("cron(0 0 ? * L *)", utc(2026, 1, 1), [utc(2026, 1, 3)]),  # the last day of the week: Saturday
    ("cron(0 0 ? * 2L *)", utc(2026, 1, 1), [utc(2026, 1, 26)]),  # the last Monday
    ("cron(0 0 ? * FRIL *)", utc(2026, 1, 1), [utc(2026, 1, 30)]),
    ("cron(0 9 ? * MON#2 *)", utc(2026, 1, 1), [utc(2026, 1, 12, 9), utc(2026, 2, 9, 9), utc(2026, 3, 9, 9)]),
    ("cron(0 9 ? * 3#1 *)", utc(2026, 1, 1), [utc(2026, 1, 6, 9)]),  # the first Tuesday
    ("cron(0 9 ? * 6#5 *)", utc(2026, 1, 1), [utc(2026, 1, 30, 9), utc(2026, 5, 29, 9), utc(2026, 7, 31, 9)]),
    # year: value, range, list, step
    ("cron(0 0 1 1 ? 2030)", utc(2026, 1, 1), [utc(2030, 1, 1)]),
    ("cron(0 0 1 1 ? 2027,2029)", utc(2026, 1, 1), [utc(2027, 1, 1), utc(2029, 1, 1)]),
    ("cron(0 0 1 1 ? 2026/5)", utc(2026, 1, 1), [utc(2031, 1, 1), utc(2036, 1, 1)]),
    ("cron(0 0 1 1 ? *)", utc(2199, 1, 1), []),  # nothing after the last year AWS allows
]


@pytest.mark.parametrize(("expression", "after", "expected"), CRON_EXAMPLES)
def test_cron_examples(expression: str, after: datetime, expected: list[datetime]) -> None:
    schedule = parse_schedule(expression)
    assert isinstance(schedule, CronSchedule)
    assert schedule.upcoming(after, len(expected) or 1) == expected


def test_cron_fires_on_whole_minutes_and_strictly_after() -> None:
    schedule = parse_schedule("cron(* * * * ? *)")
    assert schedule.next_after(utc(2026, 1, 1, 10, 0, 0)) == utc(2026, 1, 1, 10, 1)
    assert schedule.next_after(utc(2026, 1, 1, 10, 0, 0, 1)) == utc(2026, 1, 1, 10, 1)
    assert schedule.next_after(datetime(2026, 1, 1, 5, 0, 30, tzinfo=timezone(timedelta(hours=-5)))) == utc(
        2026, 1, 1, 10, 1
    )


def test_cron_ends_after_last_year() -> None:
    assert parse_schedule("cron(15 10 ? * 6L 2026-2030)").next_after(utc(2030, 12, 27, 10, 15)) is None


# ------------------------------------------------------------------------------------ time zones


def test_cron_in_a_time_zone_follows_the_wall_clock() -> None:
    schedule = parse_schedule("cron(0 9 * * ? *)")
    assert schedule.next_after(utc(2026, 3, 6, 15), tz=NEW_YORK) == utc(2026, 3, 7, 14)  # 09:00 EST
    assert schedule.next_after(utc(2026, 3, 7, 15), tz=NEW_YORK) == utc(2026, 3, 8, 13)  # 09:00 EDT
    assert schedule.next_after(utc(2026, 1, 1), tz=ZoneInfo("Asia/Kolkata")) == utc(2026, 1, 1, 3, 30)
    assert schedule.next_after(utc(2026, 1, 1), tz=timezone(timedelta(hours=-3))) == utc(2026, 1, 1, 12)


def test_spring_forward_skips_wall_times_that_do_not_exist() -> None:
    # 2026-03-08 02:00 EST → 03:00 EDT: 02:30 does not happen that day.
    assert fires("cron(30 2 * * ? *)", utc(2026, 3, 7, 12), 2, tz=NEW_YORK) == [
        utc(2026, 3, 9, 6, 30),
        utc(2026, 3, 10, 6, 30),
    ]
    assert fires("cron(0/30 * * * ? *)", utc(2026, 3, 8, 6, 15), 3, tz=NEW_YORK) == [
        utc(2026, 3, 8, 6, 30),  # 01:30 EST
        utc(2026, 3, 8, 7, 0),  # 03:00 EDT
        utc(2026, 3, 8, 7, 30),
    ]


def test_fall_back_fires_repeated_wall_times_once_at_the_first_occurrence() -> None:
    # 2026-11-01 02:00 EDT → 01:00 EST: 01:00-01:59 happens twice; each fires only the first time.
    assert fires("cron(30 1 * * ? *)", utc(2026, 10, 31, 12), 2, tz=NEW_YORK) == [
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT
        utc(2026, 11, 2, 6, 30),  # 01:30 EST the next day
    ]
    assert fires("cron(0/15 * * * ? *)", utc(2026, 11, 1, 5, 20), 4, tz=NEW_YORK) == [
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 1, 5, 45),
        utc(2026, 11, 1, 7, 0),  # 02:00 EST; 01:00-01:45 EST were already fired as EDT
        utc(2026, 11, 1, 7, 15),
    ]
    # Asked from inside the repeated hour (01:10 EST), the next fire is after it.
    assert parse_schedule("cron(0/15 * * * ? *)").next_after(utc(2026, 11, 1, 6, 10), tz=NEW_YORK) == utc(
        2026, 11, 1, 7
    )


def test_resolve_timezone() -> None:
    assert resolve_timezone(None) == ZoneInfo("UTC")
    assert resolve_timezone("") == ZoneInfo("UTC")
    assert resolve_timezone("America/New_York") == NEW_YORK
    for name in ("Mars/Olympus", "../etc/passwd", "America"):
        with pytest.raises(Invalid, match="Unknown timezone"):
            resolve_timezone(name)


# ------------------------------------------------------------------------------ start/end/offset


def test_cron_start_end_and_offset() -> None:
    hourly = parse_schedule("cron(0 * * * ? *)")
    assert hourly.next_after(utc(2026, 1, 1), start=utc(2026, 1, 1, 10, 30)) == utc(2026, 1, 1, 11)
    assert hourly.next_after(utc(2026, 1, 1), start=utc(2026, 1, 1, 11)) == utc(2026, 1, 1, 11)
    assert hourly.next_after(utc(2026, 1, 1, 10, 30), end=utc(2026, 1, 1, 11)) is None  # end is exclusive
    assert hourly.next_after(utc(2026, 1, 1, 10, 30), end=utc(2026, 1, 1, 11, 0, 1)) == utc(2026, 1, 1, 11)
    noon = parse_schedule("cron(0 12 * * ? *)")
    assert noon.next_after(utc(2026, 1, 1), offset_seconds=90) == utc(2026, 1, 1, 12, 1, 30)
    assert noon.next_after(utc(2026, 1, 1, 12, 0, 30), offset_seconds=90) == utc(2026, 1, 1, 12, 1, 30)
    assert noon.next_after(utc(2026, 1, 1, 12, 1, 30), offset_seconds=90) == utc(2026, 1, 2, 12, 1, 30)
    assert noon.next_after(utc(2026, 1, 1), offset_seconds=36000) == utc(2026, 1, 1, 22)
    # start bounds the shifted time: 11:00 + 1 h is before a 12:30 start, 12:00 + 1 h is not.
    assert hourly.next_after(utc(2026, 1, 1), start=utc(2026, 1, 1, 12, 30), offset_seconds=3600) == utc(2026, 1, 1, 13)


def test_start_and_end_in_other_zones_are_instants() -> None:
    start = datetime(2026, 1, 1, 5, 0, tzinfo=NEW_YORK)  # 10:00 UTC
    result = parse_schedule("rate(1 hour)").next_after(utc(2026, 1, 1), start=start)
    assert result == utc(2026, 1, 1, 10)
    assert result is not None and result.tzinfo is UTC


@pytest.mark.parametrize("offset", [-1, 36001, True])
def test_offset_out_of_range(offset: int) -> None:
    with pytest.raises(Invalid, match="scheduleOffset"):
        parse_schedule("rate(1 hour)").next_after(utc(2026, 1, 1), offset_seconds=offset)


@pytest.mark.parametrize("name", ["after", "start", "end"])
def test_naive_datetimes_are_refused(name: str) -> None:
    arguments = {"after": utc(2026, 1, 1), name: datetime(2026, 1, 1)}
    after = arguments.pop("after")
    with pytest.raises(Invalid, match="timezone-aware"):
        parse_schedule("rate(1 hour)").next_after(after, **arguments)  # type: ignore[arg-type]


def test_far_future_returns_none_instead_of_overflowing() -> None:
    assert parse_schedule("rate(1000 days)").next_after(datetime.max.replace(tzinfo=UTC)) is None


# ----------------------------------------------------------------------------- minimum, describe


@pytest.mark.parametrize(
    ("expression", "minimum"),
    [
        ("rate(15minutes)", timedelta(minutes=15)),
        ("cron(0/15 * * * ? *)", timedelta(minutes=15)),
        ("cron(0,50 * * * ? *)", timedelta(minutes=10)),
        ("cron(0 8,20 * * ? *)", timedelta(hours=12)),
        ("cron(0 2,22 * * ? *)", timedelta(hours=4)),  # 22:00 → 02:00 the next day
        ("cron(0 0 L * ? *)", timedelta(days=28)),
        ("cron(0 0 29 2 ? *)", timedelta(days=1461)),
        ("cron(0 9 ? * MON-FRI *)", timedelta(days=1)),
        ("cron(0 9 ? * MON,WED *)", timedelta(days=2)),
        ("cron(0 0 1 1 ? 2030)", timedelta.max),  # fires once
    ],
)
def test_minimum_interval(expression: str, minimum: timedelta) -> None:
    assert parse_schedule(expression).minimum_interval() == minimum


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        ("rate(5minutes)", "every 5 minutes"),
        ("rate(1 hour)", "every hour"),
        ("rate(2 days)", "every 2 days"),
        ("cron(0 12 * * ? *)", "at 12:00, every day"),
        ("cron(15 10 ? * 6L 2026-2030)", "at 10:15, on the last Friday of the month, in 2026-2030"),
        ("cron(0/15 * * * ? *)", "at minute 0, 15, 30, 45 of every hour, every day"),
        ("cron(0 8 1W * ? *)", "at 08:00, on the weekday nearest day 1 of the month"),
        ("cron(0 9 ? * MON#2 *)", "at 09:00, on the second Monday of the month"),
        ("cron(0 0 L * ? *)", "at 00:00, on the last day of the month"),
        ("cron(0 0 LW JAN,JUL ? *)", "at 00:00, on the last weekday of the month, in January, July"),
        ("cron(* 9-17 ? * MON-FRI *)", "every minute past hour 9-17, on Monday-Friday"),
        ("cron(0 0 1-15 * ? *)", "at 00:00, on day 1-15 of the month"),
    ],
)
def test_describe(expression: str, text: str) -> None:
    assert parse_schedule(expression).describe() == text


# ------------------------------------------------------------------------------------- invalid


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("every 5 minutes", "expected rate(value unit)"),
        ("at(2026-01-01T00:00:00)", "expected rate(value unit)"),
        ("rate(0 minutes)", "at least 1"),
        ("rate(-5 minutes)", "positive whole number"),
        ("rate(1.5 hours)", "positive whole number"),
        ("rate(minutes)", "positive whole number"),
        ("rate(5)", "unit must be minute(s), hour(s) or day(s)"),
        ("rate(5 weeks)", "unit must be"),
        ("rate(5 seconds)", "unit must be"),
        ("rate(99999999999 days)", "too long"),
        ("cron(0 12 * *)", "expected 6 fields"),
        ("cron(0 12 * * ?)", "expected 6 fields"),  # Unix 5-field cron
        ("cron(0 0 12 * * ? *)", "expected 6 fields"),  # Quartz with seconds
        ("cron(0 12 * * * *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 12 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 12 1 * MON *)", "exactly one of day-of-month and day-of-week"),
        ("cron(? 12 * * ? *)", "'?' is only allowed"),
        ("cron(60 * * * ? *)", "minutes has '60'; expected 0-59"),
        ("cron(0 24 * * ? *)", "hours has '24'; expected 0-23"),
        ("cron(0 0 0 * ? *)", "day-of-month has '0'; expected 1-31"),
        ("cron(0 0 32 * ? *)", "day-of-month has '32'"),
        ("cron(0 0 1 13 ? *)", "month has '13'; expected 1-12 or JAN-DEC"),
        ("cron(0 0 1 FOO ? *)", "month has 'FOO'"),
        ("cron(0 0 ? * 8 *)", "day-of-week has '8'; expected 1-7 or SUN-SAT"),
        ("cron(0 0 ? * 0 *)", "day-of-week has '0'"),
        ("cron(0 0 1 1 ? 1969)", "year has '1969'; expected 1970-2199"),
        ("cron(0 0 1 1 ? 2200)", "year has '2200'"),
        ("cron(0 0 1 1 ? 2030-2026)", "runs backwards"),
        ("cron(0/0 * * * ? *)", "step after '/' must be 1 to 60"),
        ("cron(0/x * * * ? *)", "step after '/'"),
        ("cron(1- * * * ? *)", "minutes has an empty value"),
        ("cron(1,,2 * * * ? *)", "minutes has an empty value"),
        ("cron(a * * * ? *)", "minutes has 'a'"),
        ("cron(0 0 L-3 * ? *)", "must stand alone"),
        ("cron(0 0 1,L * ? *)", "must stand alone"),
        ("cron(0 0 1-5W * ? *)", "must stand alone"),
        ("cron(0 0 1#2 * ? *)", "'#' is for day-of-week"),
        ("cron(0 0 ? * 3#1,6#3 *)", "must stand alone"),
        ("cron(0 0 ? * 6L,2 *)", "must stand alone"),
        ("cron(0 0 ? * 2W *)", "W is for day-of-month"),
        ("cron(0 0 ? * 2#6 *)", "the number after '#' must be 1 to 5"),
        ("cron(0 0 ? * 2#0 *)", "the number after '#' must be 1 to 5"),
        ("cron(0 0 ? * 9#1 *)", "day-of-week has '9'"),
        ("cron(0 0 ? * 9L *)", "day-of-week has '9'"),
        ("cron(0 0 32W * ? *)", "day-of-month has '32'"),
        ("cron(0 0 30 2 ? *)", "never fires"),
        ("cron(0 0 31 4,6,9,11 ? *)", "never fires"),
        ("cron(0 0 ? 2 2#5 2026)", "never fires"),  # February 2026 has four Mondays
        ("cron(0 0 1 1 ? 2026", "expected rate(value unit)"),
        ("x" * 257, "longer than 256"),
    ],
)
def test_invalid_expressions(expression: str, message: str) -> None:
    with pytest.raises(Invalid) as raised:
        parse_schedule(expression)
    assert message in raised.value.message
    if expression and len(expression) <= 256:
        assert f"'{expression}'" in raised.value.message or "empty" in raised.value.message


# ------------------------------------------------------------------------------ properties


@dataclass(frozen=True)
class CronCase:
    """A generated expression with an oracle written independently of the parser."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    day: Callable[[date], bool]
    months: frozenset[int]
    years: frozenset[int]

    def matches_day(self, day: date) -> bool:
        return day.year in self.years and day.month in self.months and self.day(day)

    def matches(self, wall: datetime) -> bool:
        return (
            wall.second == 0
            and wall.microsecond == 0
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and self.matches_day(wall.date())
        )


MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def aws_weekday(day: date) -> int:
    return day.isoweekday() % 7 + 1  # Sunday 1 … Saturday 7


def last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


@st.composite
def numeric_field(
    draw: st.DrawFn, low: int, high: int, names: list[str] | None = None, cyclic: bool = True
) -> tuple[str, frozenset[int]]:
    use_names = names is not None and draw(st.booleans())

    def show(value: int) -> str:
        return names[value - low] if names and use_names else str(value)

    value = st.integers(low, high)
    kind = draw(st.sampled_from(["*", "value", "range", "list", "step", "star-step", "range-step"]))
    if kind == "*":
        return "*", frozenset(range(low, high + 1))
    if kind == "value":
        one = draw(value)
        return show(one), frozenset({one})
    if kind == "range":
        a, b = draw(value), draw(value)
        if a > b and not cyclic:
            a, b = b, a
        span = set(range(a, b + 1)) if a <= b else set(range(a, high + 1)) | set(range(low, b + 1))
        return f"{show(a)}-{show(b)}", frozenset(span)
    if kind == "list":
        items = draw(st.lists(value, min_size=1, max_size=4))
        return ",".join(map(show, items)), frozenset(items)
    step = draw(st.integers(1, max(1, (high - low + 1) // 2)))
    if kind == "step":
        a = draw(value)
        return f"{show(a)}/{step}", frozenset(range(a, high + 1, step))
    if kind == "star-step":
        return f"*/{step}", frozenset(range(low, high + 1, step))
    a, b = sorted((draw(value), draw(value)))
    return f"{show(a)}-{show(b)}/{step}", frozenset(range(a, b + 1, step))


@st.composite
def day_of_month(draw: st.DrawFn) -> tuple[str, Callable[[date], bool]]:
    kind = draw(st.sampled_from(["numeric", "L", "LW", "W"]))
    if kind == "L":
        return "L", lambda d: d.day == last_day(d)
    if kind == "LW":
        return (
            "LW",
            lambda d: (
                d.weekday() < 5
                and all(d.replace(day=later).weekday() >= 5 for later in range(d.day + 1, last_day(d) + 1))
            ),
        )
    if kind == "W":
        target = draw(st.integers(1, 31))

        def nearest(d: date) -> bool:
            if target > last_day(d):
                return False
            weekdays = [x for x in range(1, last_day(d) + 1) if d.replace(day=x).weekday() < 5]
            return d.day == min(weekdays, key=lambda x: abs(x - target))

        return f"{target}W", nearest
    text, values = draw(numeric_field(1, 31))
    return text, lambda d: d.day in values


@st.composite
def day_of_week(draw: st.DrawFn) -> tuple[str, Callable[[date], bool]]:
    kind = draw(st.sampled_from(["numeric", "L", "nL", "#"]))
    weekday = draw(st.integers(1, 7))
    shown = DAYS[weekday - 1] if draw(st.booleans()) else str(weekday)
    if kind == "L":
        return "L", lambda d: aws_weekday(d) == 7
    if kind == "nL":
        return f"{shown}L", lambda d: aws_weekday(d) == weekday and d.day + 7 > last_day(d)
    if kind == "#":
        nth = draw(st.integers(1, 5))
        return f"{shown}#{nth}", lambda d: aws_weekday(d) == weekday and (d.day - 1) // 7 + 1 == nth
    text, values = draw(numeric_field(1, 7, DAYS))
    return text, lambda d: aws_weekday(d) in values


ALL_YEARS = frozenset(range(1970, 2200))
YEARS = [
    ("*", ALL_YEARS),
    ("2024-2030", frozenset(range(2024, 2031))),
    ("2025,2027,2029", frozenset({2025, 2027, 2029})),
    ("2024/3", frozenset(range(2024, 2200, 3))),
    ("2026", frozenset({2026})),
]


@st.composite
def cron_cases(draw: st.DrawFn) -> CronCase:
    minutes_text, minutes = draw(numeric_field(0, 59))
    hours_text, hours = draw(numeric_field(0, 23))
    months_text, months = draw(numeric_field(1, 12, MONTHS))
    years_text, years = draw(st.sampled_from(YEARS))
    if draw(st.booleans()):
        dom, day = draw(day_of_month())
        dow = "?"
    else:
        dow, day = draw(day_of_week())
        dom = "?"
    expression = f"cron({minutes_text} {hours_text} {dom} {months_text} {dow} {years_text})"
    return CronCase(expression, minutes, hours, day, months, years)


ZONES = [UTC, NEW_YORK, ZoneInfo("Europe/London"), ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Asia/Kolkata")]
TRANSITIONS = [utc(2026, 3, 8, 7), utc(2026, 11, 1, 6), utc(2026, 3, 29, 1), utc(2026, 10, 25, 1), utc(2026, 4, 4, 15)]
moments = st.one_of(
    st.datetimes(datetime(2024, 1, 1), datetime(2031, 12, 31), timezones=st.just(UTC)),
    st.builds(lambda t, d: t + d, st.sampled_from(TRANSITIONS), st.timedeltas(timedelta(days=-2), timedelta(days=2))),
)


def parse_case(case: CronCase) -> Schedule:
    try:
        return parse_schedule(case.expression)
    except Invalid as error:
        assume("never fires" not in error.message)  # e.g. 30 in February only
        raise


def oracle_next(case: CronCase, after: datetime, tz: ZoneInfo | timezone, limit: datetime) -> datetime | None:
    """The first matching wall time whose instant is after `after`, scanning day by day."""
    day = after.astimezone(tz).date() - timedelta(days=1)
    while datetime.combine(day, datetime.min.time(), UTC) < limit + timedelta(days=2):
        if case.matches_day(day):
            for hour in sorted(case.hours):
                for minute in sorted(case.minutes):
                    wall = datetime(day.year, day.month, day.day, hour, minute)
                    instant = wall.replace(tzinfo=tz).astimezone(UTC)
                    if instant.astimezone(tz).replace(tzinfo=None) != wall:
                        continue  # in a DST gap
                    if instant > after:
                        return instant
        day += timedelta(days=1)
    return None


@settings(max_examples=150, deadline=None)
@given(case=cron_cases(), after=moments, tz=st.sampled_from(ZONES))
def test_cron_next_after_is_the_first_matching_time(case: CronCase, after: datetime, tz: ZoneInfo | timezone) -> None:
    schedule = parse_case(case)
    result = schedule.next_after(after, tz=tz)
    limit = after + timedelta(days=3 * 366)
    expected = oracle_next(case, after, tz, limit)
    if expected is None:
        assert result is None or result > limit
    else:
        assert result == expected
        assert result.tzinfo is UTC
        assert case.matches(result.astimezone(tz).replace(tzinfo=None))


@settings(max_examples=150, deadline=None)
@given(
    case=cron_cases(),
    after=moments,
    tz=st.sampled_from(ZONES),
    offset=st.integers(0, 36000),
)
def test_cron_fire_times_increase_and_match(
    case: CronCase, after: datetime, tz: ZoneInfo | timezone, offset: int
) -> None:
    schedule = parse_case(case)
    assert isinstance(schedule, CronSchedule)
    times = schedule.upcoming(after, 6, tz=tz, offset_seconds=offset)
    shift = timedelta(seconds=offset)
    previous = after
    for moment in times:
        assert moment > previous
        base = (moment - shift).astimezone(tz)
        assert case.matches(base.replace(tzinfo=None))
        assert schedule.matches(base)
        previous = moment
    unshifted = schedule.upcoming(after - shift, 6, tz=tz)
    assert times == [moment + shift for moment in unshifted]
    if tz is UTC:
        for earlier, later in pairwise(times):
            assert later - earlier >= schedule.minimum_interval()


@settings(max_examples=200, deadline=None)
@given(
    value=st.integers(1, 500),
    unit=st.sampled_from(["minute", "hour", "day"]),
    spaced=st.booleans(),
    start=st.none() | st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)),
    after=st.datetimes(datetime(2019, 1, 1), datetime(2032, 1, 1), timezones=st.just(UTC)),
    offset=st.integers(0, 36000),
    tz=st.sampled_from(ZONES),
)
def test_rate_fire_times_are_exact_multiples_from_the_anchor(
    value: int,
    unit: str,
    spaced: bool,
    start: datetime | None,
    after: datetime,
    offset: int,
    tz: ZoneInfo | timezone,
) -> None:
    expression = f"rate({value}{' ' if spaced else ''}{unit}{'s' if value > 1 else ''})"
    schedule = parse_schedule(expression)
    interval = value * {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}[unit]
    anchor = (start or EPOCH) + timedelta(seconds=offset)
    times = schedule.upcoming(after, 4, tz=tz, start=start, offset_seconds=offset)
    assert len(times) == 4
    first = times[0]
    assert first > after
    assert (first - anchor) % interval == timedelta(0)
    assert first >= (start or EPOCH)
    # Minimal: the fire before it is not after `after`, or would precede the start.
    assert first - interval <= after or (start is not None and first - interval < anchor)
    assert [later - earlier for earlier, later in pairwise(times)] == [interval] * 3
