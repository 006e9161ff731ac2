"""Map's conversions (values.py), on the readers of connectors/operands.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openprofiles.connectors.operands import DataType
from openprofiles.flows.tasks.values import convert, epoch_ms, iso
from tests.flows.tasks.helpers import output, task


@given(moment=st.integers(-(10**13), 10**13))
def test_timestamps_round_trip_through_iso(moment: int) -> None:
    iso = output({"t": moment}, task("Map", ["t"], destination="t", DESTINATION_DATA_TYPE="datetime"))["t"]
    assert output({"t": iso}, task("Map", ["t"], destination="t", DESTINATION_DATA_TYPE="timestamp")) == {"t": moment}


@pytest.mark.parametrize(
    ("value", "source", "destination", "expected"),
    [
        (None, None, DataType.INTEGER, None),
        ({"a": 1}, None, None, {"a": 1}),
        ("7", None, DataType.INTEGER, 7),
        ("2.5", None, DataType.DOUBLE, 2.5),
        (1704067200000, DataType.TIMESTAMP, DataType.STRING, "2024-01-01T00:00:00.000Z"),
        ("2024-01-01T05:00:00+05:00", DataType.DATE, DataType.STRING, "2024-01-01"),
        ("2024-01-01T00:00:00.0009Z", None, DataType.TIMESTAMP, 1704067200000),
        (True, DataType.BOOLEAN, DataType.STRING, "true"),
    ],
)
def test_convert(value: Any, source: DataType | None, destination: DataType | None, expected: Any) -> None:
    assert convert(value, source, destination) == expected


def test_convert_names_what_the_value_is_not() -> None:
    with pytest.raises(ValueError, match="not an integer"):
        convert("2.5", None, DataType.INTEGER)


def test_iso_and_epoch_ms_are_inverse_to_the_millisecond() -> None:
    moment = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert iso(moment) == "2024-01-02T03:04:05.678Z"
    assert epoch_ms(moment) == 1704164645678
    assert epoch_ms(datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=UTC)) == -1
