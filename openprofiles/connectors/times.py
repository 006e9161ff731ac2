"""Modification times as connectors use them: instants read from source values, the [since, until)
window of an incremental pull, and the high-water mark of a page (the latest time it holds)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

Record = TypeVar("Record")

_EPOCH = re.compile(r"[+-]?\d+(?:\.\d*)?")


def utc(moment: datetime) -> datetime:
    """The time in UTC (a naive one taken as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_instant(value: Any) -> datetime | None:
    """An ISO 8601 string or epoch seconds/milliseconds (number or digits) as an aware datetime (UTC
    unless the string names its offset); None for no value. ValueError for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, str) and not _EPOCH.fullmatch(value.strip()):
        moment = datetime.fromisoformat(value.strip())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    seconds = float(value)
    try:
        return datetime.fromtimestamp(seconds / 1000 if abs(seconds) >= 1e11 else seconds, UTC)
    except (OverflowError, OSError):
        raise ValueError(f"epoch time out of range: {value!r}") from None


def within(moment: datetime | None, since: datetime | None, until: datetime | None, *, unknown: bool) -> bool:
    """Whether a modification time lies in [since, until) (naive bounds taken as UTC); `unknown` is the
    answer for a record without one."""
    if moment is None:
        return unknown
    return (since is None or moment >= utc(since)) and (until is None or moment < utc(until))


def later(high: datetime | None, moment: datetime | None) -> datetime | None:
    """The high-water mark once a record modified at `moment` (None: unknown) is taken."""
    if moment is None or (high is not None and moment <= high):
        return high
    return moment


def in_window(records: Iterable[Record], time_of: Callable[[Record], datetime | None], since: datetime | None,
              until: datetime | None, *, unknown: bool) -> tuple[list[Record], datetime | None]:
    """The records whose modification time lies in [since, until) (`unknown`: whether those without
    one are kept), and the latest of their times."""
    kept: list[Record] = []
    high: datetime | None = None
    for record in records:
        moment = time_of(record)
        if within(moment, since, until, unknown=unknown):
            kept.append(record)
            high = later(high, moment)
    return kept, high
