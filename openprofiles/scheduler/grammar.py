"""AppFlow schedule expressions — ``rate(...)`` and AWS ``cron(...)`` — and their fire times.

``parse_schedule`` turns a ``scheduleExpression`` into a :class:`Schedule`; ``Schedule.next_after``
gives the next fire time after a moment, honouring AppFlow's ``timezone``, ``scheduleStartTime``,
``scheduleEndTime`` and ``scheduleOffset``. Every datetime in and out is timezone-aware; results are
UTC. The accepted syntax and every decision are written down in ``docs/schedules.md``.
"""

from __future__ import annotations

import calendar
import re
from abc import ABC, abstractmethod
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cached_property
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from openprofiles.errors import Invalid

MAX_EXPRESSION_LENGTH = 256
MAX_OFFSET_SECONDS = 36_000
MIN_YEAR, MAX_YEAR = 1970, 2199
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The anchor of a rate schedule that has no ``scheduleStartTime``."""

_MINUTE = timedelta(minutes=1)
_TICK = timedelta(microseconds=1)
_RATE_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_MONTH_LABELS = dict(
    enumerate(
        [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ],
        start=1,
    )
)
_MONTH_NAMES = {label[:3].upper(): number for number, label in _MONTH_LABELS.items()}
_DAY_LABELS = dict(enumerate(["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"], start=1))
_DAY_NAMES = {label[:3].upper(): number for number, label in _DAY_LABELS.items()}
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}
_RATE_RE = re.compile(r"rate\(\s*(?P<value>[^\s()a-zA-Z]*)\s*(?P<unit>[a-zA-Z]*)\s*\)", re.IGNORECASE)
_CRON_RE = re.compile(r"cron\((?P<fields>[^()]*)\)", re.IGNORECASE)


def resolve_timezone(name: str | None) -> ZoneInfo:
    """The IANA zone for AppFlow's ``timezone`` (UTC when absent); unknown names raise ``Invalid``."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid(f"Unknown timezone '{name}': expected an IANA name such as America/New_York.") from None


def parse_schedule(expression: str) -> Schedule:
    """Parse ``rate(N unit)`` or ``cron(min hour day-of-month month day-of-week year)``."""
    text = expression.strip()
    if not text:
        raise Invalid("The schedule expression is empty: expected rate(...) or cron(...).")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise Invalid(f"The schedule expression is longer than {MAX_EXPRESSION_LENGTH} characters.")
    if match := _RATE_RE.fullmatch(text):
        return _parse_rate(expression, match.group("value"), match.group("unit"))
    if match := _CRON_RE.fullmatch(text):
        return _parse_cron(expression, match.group("fields"))
    raise _invalid(
        expression, "expected rate(value unit), e.g. rate(5minutes), or cron(fields), e.g. cron(0 12 * * ? *)"
    )


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _invalid(expression: str, reason: str) -> Invalid:
    return Invalid(f"Invalid schedule expression '{expression}': {reason}.")


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Invalid(f"{name} must be a timezone-aware datetime, got {moment.isoformat()}.")
    return moment.astimezone(UTC)


class Schedule(ABC):
    """A parsed schedule expression."""

    expression: str

    def next_after(
        self,
        after: datetime,
        *,
        tz: tzinfo | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        offset_seconds: int = 0,
    ) -> datetime | None:
        """The first fire time strictly after ``after``, or None when there is none before ``end``.

        Fire times are the expression's times (cron: wall-clock times in ``tz``, default UTC; rate:
        every interval from ``start``, else from the epoch) plus ``offset_seconds``; they lie in
        ``[start, end)``.
        """
        if isinstance(offset_seconds, bool) or not 0 <= offset_seconds <= MAX_OFFSET_SECONDS:
            raise Invalid(f"scheduleOffset must be between 0 and {MAX_OFFSET_SECONDS} seconds, got {offset_seconds}.")
        offset = timedelta(seconds=offset_seconds)
        after_utc = _utc(after, "after")
        start_utc = None if start is None else _utc(start, "scheduleStartTime")
        end_utc = None if end is None else _utc(end, "scheduleEndTime")
        try:
            # The unshifted time must be > floor: later than `after`, and not before `start` once shifted.
            floor = after_utc - offset
            if start_utc is not None:
                floor = max(floor, start_utc - offset - _TICK)
            base = self._next_base(floor, tz=tz or UTC, start=start_utc)
            fire = None if base is None else base + offset
        except OverflowError:
            return None
        if fire is None or (end_utc is not None and fire >= end_utc):
            return None
        return fire

    def upcoming(
        self,
        after: datetime,
        count: int,
        *,
        tz: tzinfo | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        offset_seconds: int = 0,
    ) -> list[datetime]:
        """Up to ``count`` consecutive fire times after ``after`` (options as for ``next_after``)."""
        times: list[datetime] = []
        moment: datetime | None = after
        while moment is not None and len(times) < count:
            moment = self.next_after(moment, tz=tz, start=start, end=end, offset_seconds=offset_seconds)
            if moment is not None:
                times.append(moment)
        return times

    @abstractmethod
    def minimum_interval(self) -> timedelta:
        """The shortest time between two consecutive fire times (``timedelta.max`` if it fires once)."""

    @abstractmethod
    def describe(self) -> str:
        """The schedule in words, e.g. ``every 5 minutes``."""

    @abstractmethod
    def _next_base(self, floor: datetime, *, tz: tzinfo, start: datetime | None) -> datetime | None:
        """The first unshifted fire time strictly after ``floor`` (UTC)."""


# ---------------------------------------------------------------------------------------------- rate


@dataclass(frozen=True)
class RateSchedule(Schedule):
    """``rate(N unit)``: every ``interval`` of elapsed time from the anchor."""

    expression: str
    value: int
    unit: str  # minute | hour | day
    interval: timedelta

    def _next_base(self, floor: datetime, *, tz: tzinfo, start: datetime | None) -> datetime | None:
        anchor = start if start is not None else EPOCH
        steps = (floor - anchor) // self.interval + 1
        if start is not None:
            steps = max(steps, 0)
        return anchor + steps * self.interval

    def minimum_interval(self) -> timedelta:
        return self.interval

    def describe(self) -> str:
        return f"every {self.unit}" if self.value == 1 else f"every {self.value} {self.unit}s"


def _parse_rate(expression: str, value_text: str, unit_text: str) -> RateSchedule:
    if not _is_number(value_text):
        raise _invalid(expression, f"the rate value must be a positive whole number, got '{value_text}'")
    value = int(value_text)
    if value < 1:
        raise _invalid(expression, "the rate value must be at least 1")
    unit = unit_text.lower()
    unit = unit[:-1] if unit.endswith("s") else unit
    if unit not in _RATE_UNITS:
        raise _invalid(expression, f"the rate unit must be minute(s), hour(s) or day(s), got '{unit_text}'")
    try:
        interval = value * _RATE_UNITS[unit]
    except OverflowError:
        raise _invalid(expression, "the rate is too long") from None
    return RateSchedule(expression=expression, value=value, unit=unit, interval=interval)


# ---------------------------------------------------------------------------------------------- days


def _aws_weekday(day: date) -> int:
    """1 = Sunday … 7 = Saturday, as in AWS cron."""
    return (day.weekday() + 1) % 7 + 1


class _DayRule(ABC):
    """Which days of a month a cron expression fires on."""

    @abstractmethod
    def days(self, year: int, month: int) -> Sequence[int]:
        """Matching days of the month, ascending."""

    @abstractmethod
    def describe(self) -> str: ...


@dataclass(frozen=True)
class _MonthDays(_DayRule):
    values: tuple[int, ...]  # 1..31, ascending

    def days(self, year: int, month: int) -> Sequence[int]:
        last = calendar.monthrange(year, month)[1]
        return self.values[: bisect_left(self.values, last + 1)]

    def describe(self) -> str:
        return "every day" if len(self.values) == 31 else f"on day {_join(self.values)} of the month"


@dataclass(frozen=True)
class _LastDay(_DayRule):
    weekday_only: bool  # LW

    def days(self, year: int, month: int) -> Sequence[int]:
        last = calendar.monthrange(year, month)[1]
        if self.weekday_only:
            while date(year, month, last).weekday() >= 5:
                last -= 1
        return (last,)

    def describe(self) -> str:
        return "on the last weekday of the month" if self.weekday_only else "on the last day of the month"


@dataclass(frozen=True)
class _NearestWeekday(_DayRule):
    day: int  # nW

    def days(self, year: int, month: int) -> Sequence[int]:
        last = calendar.monthrange(year, month)[1]
        if self.day > last:
            return ()
        weekday = date(year, month, self.day).weekday()
        if weekday == 5:  # Saturday: the Friday before, or Monday the 3rd when the 1st is a Saturday
            return (self.day - 1,) if self.day > 1 else (self.day + 2,)
        if weekday == 6:  # Sunday: the Monday after, or the Friday before at the end of the month
            return (self.day + 1,) if self.day < last else (self.day - 2,)
        return (self.day,)

    def describe(self) -> str:
        return f"on the weekday nearest day {self.day} of the month"


@dataclass(frozen=True)
class _WeekDays(_DayRule):
    values: tuple[int, ...]  # 1 (Sunday) .. 7 (Saturday)

    def days(self, year: int, month: int) -> Sequence[int]:
        first = _aws_weekday(date(year, month, 1))
        last = calendar.monthrange(year, month)[1]
        return [day for day in range(1, last + 1) if (first + day - 2) % 7 + 1 in self.values]

    def describe(self) -> str:
        if len(self.values) == 7:
            return "every day"
        return "on " + _join(self.values, _DAY_LABELS)


@dataclass(frozen=True)
class _LastWeekdayOf(_DayRule):
    weekday: int  # nL

    def days(self, year: int, month: int) -> Sequence[int]:
        last = calendar.monthrange(year, month)[1]
        back = (_aws_weekday(date(year, month, last)) - self.weekday) % 7
        return (last - back,)

    def describe(self) -> str:
        return f"on the last {_DAY_LABELS[self.weekday]} of the month"


@dataclass(frozen=True)
class _NthWeekday(_DayRule):
    weekday: int  # n#k
    nth: int

    def days(self, year: int, month: int) -> Sequence[int]:
        first = (self.weekday - _aws_weekday(date(year, month, 1))) % 7 + 1
        day = first + 7 * (self.nth - 1)
        return (day,) if day <= calendar.monthrange(year, month)[1] else ()

    def describe(self) -> str:
        return f"on the {_ORDINALS[self.nth]} {_DAY_LABELS[self.weekday]} of the month"


# ---------------------------------------------------------------------------------------------- cron


@dataclass(frozen=True)
class CronSchedule(Schedule):
    """``cron(minutes hours day-of-month month day-of-week year)``, evaluated on a wall clock."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_rule: _DayRule
    months: tuple[int, ...]
    years: tuple[int, ...]

    def matches(self, wall: datetime) -> bool:
        """Whether a wall-clock time (its zone ignored) is one of the expression's times."""
        return (
            wall.second == 0
            and wall.microsecond == 0
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and wall.year in self.years
            and wall.day in self.day_rule.days(wall.year, wall.month)
        )

    def first_wall_at_or_after(self, wall: datetime) -> datetime | None:
        """The first matching naive wall-clock time ``>= wall`` (whole minutes), None past 2199."""
        wall = wall.replace(tzinfo=None, fold=0)
        if wall.second or wall.microsecond:
            wall = wall.replace(second=0, microsecond=0) + _MINUTE
        for year in self.years[bisect_left(self.years, wall.year) :]:
            same_year = year == wall.year
            for month in self.months[bisect_left(self.months, wall.month if same_year else 1) :]:
                same_month = same_year and month == wall.month
                days = self.day_rule.days(year, month)
                for day in days[bisect_left(days, wall.day if same_month else 1) :]:
                    same_day = same_month and day == wall.day
                    for hour in self.hours[bisect_left(self.hours, wall.hour if same_day else 0) :]:
                        index = bisect_left(self.minutes, wall.minute if same_day and hour == wall.hour else 0)
                        if index < len(self.minutes):
                            return datetime(year, month, day, hour, self.minutes[index])
        return None

    def _next_base(self, floor: datetime, *, tz: tzinfo, start: datetime | None) -> datetime | None:
        wall = self.first_wall_at_or_after(floor.astimezone(tz).replace(second=0, microsecond=0))
        while wall is not None:
            instant = _instant(wall, tz)
            if instant is not None and instant > floor:
                return instant
            wall = self.first_wall_at_or_after(wall + _MINUTE)
        return None

    def _walls(self) -> Iterator[date]:
        for year in self.years:
            for month in self.months:
                for day in self.day_rule.days(year, month):
                    yield date(year, month, day)

    def minimum_interval(self) -> timedelta:
        """Exact on the wall clock; see ``docs/schedules.md`` for the effect of DST."""
        return self._minimum_interval

    @cached_property
    def _minimum_interval(self) -> timedelta:
        times = [hour * 60 + minute for hour in self.hours for minute in self.minutes]
        gaps = [b - a for a, b in pairwise(times)]
        previous: int | None = None
        day_gap: int | None = None
        for day in self._walls():
            ordinal = day.toordinal()
            if previous is not None:
                day_gap = ordinal - previous if day_gap is None else min(day_gap, ordinal - previous)
                if day_gap == 1:
                    break
            previous = ordinal
        if day_gap is not None:
            gaps.append(day_gap * 1440 - (times[-1] - times[0]))
        return timedelta(minutes=min(gaps)) if gaps else timedelta.max

    def describe(self) -> str:
        if len(self.minutes) == 1 and len(self.hours) == 1:
            when = f"at {self.hours[0]:02d}:{self.minutes[0]:02d}"
        else:
            minutes = "every minute" if len(self.minutes) == 60 else f"at minute {_join(self.minutes)}"
            hours = "of every hour" if len(self.hours) == 24 else f"past hour {_join(self.hours)}"
            when = f"{minutes} {hours}"
        months = "" if len(self.months) == 12 else f", in {_join(self.months, _MONTH_LABELS)}"
        years = "" if len(self.years) == MAX_YEAR - MIN_YEAR + 1 else f", in {_join(self.years)}"
        return f"{when}, {self.day_rule.describe()}{months}{years}"


def _instant(wall: datetime, tz: tzinfo) -> datetime | None:
    """The UTC instant of a wall-clock time: None in a DST gap, the first one in a DST overlap."""
    instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    return instant if instant.astimezone(tz).replace(tzinfo=None) == wall else None


def _join(values: Sequence[int], labels: dict[int, str] | None = None) -> str:
    """``1, 3, 5-9`` style text for ascending values; names instead of numbers when given."""
    runs: list[list[int]] = []
    for value in values:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])

    def name(value: int) -> str:
        return labels[value] if labels else str(value)

    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{name(run[0])}-{name(run[-1])}")
        else:
            parts.extend(name(value) for value in run)
    return ", ".join(parts)


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None
    cyclic: bool = True


_MINUTES = _Field("minutes", 0, 59)
_HOURS = _Field("hours", 0, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, _MONTH_NAMES)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, _DAY_NAMES)
_YEAR = _Field("year", MIN_YEAR, MAX_YEAR, cyclic=False)
_NEAREST_WEEKDAY_RE = re.compile(r"(\d+)W", re.IGNORECASE)
_LAST_WEEKDAY_OF_RE = re.compile(r"(\w+?)L", re.IGNORECASE)
_NTH_WEEKDAY_RE = re.compile(r"(\w+)#(\d+)")


def _parse_cron(expression: str, text: str) -> CronSchedule:
    fields = text.split()
    if len(fields) != 6:
        raise _invalid(
            expression, f"expected 6 fields (minutes hours day-of-month month day-of-week year), got {len(fields)}"
        )
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise _invalid(expression, "exactly one of day-of-month and day-of-week must be '?'")
    for name, value in (("minutes", minutes), ("hours", hours), ("month", month), ("year", year)):
        if "?" in value:
            raise _invalid(expression, f"'?' is only allowed in day-of-month or day-of-week, not in {name}")
    day_rule = _parse_day_of_week(expression, dow) if dom == "?" else _parse_day_of_month(expression, dom)
    schedule = CronSchedule(
        expression=expression,
        minutes=_parse_values(expression, minutes, _MINUTES),
        hours=_parse_values(expression, hours, _HOURS),
        day_rule=day_rule,
        months=_parse_values(expression, month, _MONTH),
        years=_parse_values(expression, year, _YEAR),
    )
    if schedule.first_wall_at_or_after(datetime(MIN_YEAR, 1, 1)) is None:
        raise _invalid(expression, f"it never fires (no matching date from {MIN_YEAR} to {MAX_YEAR})")
    return schedule


def _parse_day_of_month(expression: str, text: str) -> _DayRule:
    upper = text.upper()
    if upper in ("L", "LW"):
        return _LastDay(weekday_only=upper == "LW")
    if match := _NEAREST_WEEKDAY_RE.fullmatch(text):
        return _NearestWeekday(_value(expression, match.group(1), _DAY_OF_MONTH))
    if "L" in upper or "W" in upper or "#" in upper:
        raise _invalid(
            expression, f"day-of-month '{text}': L, LW and nW (e.g. 15W) must stand alone; '#' is for day-of-week"
        )
    return _MonthDays(_parse_values(expression, text, _DAY_OF_MONTH))


def _parse_day_of_week(expression: str, text: str) -> _DayRule:
    upper = text.upper()
    if upper == "L":
        return _WeekDays((7,))  # the last day of the week: Saturday
    if match := _NTH_WEEKDAY_RE.fullmatch(text):
        nth = int(match.group(2)) if _is_number(match.group(2)) else 0
        if not 1 <= nth <= 5:
            raise _invalid(expression, f"day-of-week '{text}': the number after '#' must be 1 to 5")
        return _NthWeekday(_value(expression, match.group(1), _DAY_OF_WEEK), nth)
    if match := _LAST_WEEKDAY_OF_RE.fullmatch(text):
        return _LastWeekdayOf(_value(expression, match.group(1), _DAY_OF_WEEK))
    if "#" in upper or "L" in upper or "W" in upper.replace("WED", "") or "?" in upper:
        raise _invalid(
            expression,
            f"day-of-week '{text}': '#' (e.g. MON#2) and L (e.g. 6L) must stand alone, W is for day-of-month",
        )
    return _WeekDays(_parse_values(expression, text, _DAY_OF_WEEK))


def _parse_values(expression: str, text: str, spec: _Field) -> tuple[int, ...]:
    """Numbers and names, ``*``, ranges ``a-b``, steps ``a/n``, ``*/n``, ``a-b/n`` and lists of them."""
    values: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not _is_number(step_text) or not 1 <= int(step_text) <= spec.high - spec.low + 1:
                raise _invalid(
                    expression,
                    f"{spec.name} '{item}': the step after '/' must be 1 to {spec.high - spec.low + 1}",
                )
            step = int(step_text)
        if base == "*":
            low, high = spec.low, spec.high
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _value(expression, first, spec), _value(expression, last, spec)
            if low > high and not spec.cyclic:
                raise _invalid(expression, f"{spec.name} '{item}': the range runs backwards")
        else:
            low = _value(expression, base, spec)
            high = spec.high if slash else low
        span = range(low, high + 1) if low <= high else [*range(low, spec.high + 1), *range(spec.low, high + 1)]
        values.update(list(span)[::step])
    return tuple(sorted(values))


def _value(expression: str, token: str, spec: _Field) -> int:
    if spec.names and token.upper() in spec.names:
        return spec.names[token.upper()]
    if _is_number(token) and spec.low <= int(token) <= spec.high:
        return int(token)
    names = (
        f" or {min(spec.names, key=spec.names.__getitem__)}-{max(spec.names, key=spec.names.__getitem__)}"
        if spec.names
        else ""
    )
    shown = f"'{token}'" if token else "an empty value"
    raise _invalid(expression, f"{spec.name} has {shown}; expected {spec.low}-{spec.high}{names}")
