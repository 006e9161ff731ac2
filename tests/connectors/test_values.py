"""connectors/values.py: typed source values as JSON-friendly data."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from openprofiles import json_depth
from openprofiles.connectors.values import plain


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), (True, True), (3, 3), (1.5, 1.5), ("x", "x"),
    (datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "2024-01-02T03:04:05.000006+00:00"),
    (date(2024, 1, 2), "2024-01-02"),
    (time(3, 4), "03:04:00"),
    (Decimal("1.10"), "1.10"),  # exact, as a string
    (b"\x00\xff", "AP8="), (bytearray(b"a"), "YQ=="), (memoryview(b"a"), "YQ=="),
    (timedelta(minutes=1, milliseconds=500), 60.5),
    (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    ({1: Decimal("2"), "l": (date(2024, 1, 1), [b"a"])}, {"1": "2", "l": ["2024-01-01", ["YQ=="]]}),
])
def test_plain(value: Any, expected: Any) -> None:
    assert plain(value) == expected


def test_a_container_too_deep_is_left_as_it_is() -> None:
    deep: Any = [Decimal(1)]
    for _ in range(json_depth.MAX_DEPTH):
        deep = [deep]
    assert plain(deep) is deep
    shallow: Any = [Decimal(1)]
    for _ in range(json_depth.MAX_DEPTH - 2):
        shallow = [shallow]
    assert json_depth.depth_beyond(plain(shallow)) is None
