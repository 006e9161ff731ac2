"""connectors/soql.py: SOQL literals, field types and flow filters as WHERE conditions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from openprofiles.connectors.base import RecordFilter
from openprofiles.connectors.soql import condition, data_type, instant, quote, temporal_literal


@pytest.mark.parametrize(("field_type", "expected"), [
    ("int", "integer"), ("currency", "double"), ("boolean", "boolean"), ("datetime", "datetime"),
    ("address", "struct"), ("picklist", "string"), ("anything", "string"),
])
def test_data_type(field_type: str, expected: str) -> None:
    assert data_type(field_type) == expected


def test_quote_escapes_and_like_escapes_wildcards() -> None:
    assert quote("O'Brien\\\n") == "'O\\'Brien\\\\\\n'"
    assert quote("50%_off") == "'50%_off'"
    assert quote("50%_off", like=True) == "'50\\%\\_off'"


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-01-02T03:04:05.000+0000", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2024-01-02", datetime(2024, 1, 2, tzinfo=UTC)),
    ("", None), (None, None), (5, None), ("soon", None),
])
def test_instant(value: object, expected: datetime | None) -> None:
    assert instant(value) == expected


def test_temporal_literals_round_outwards() -> None:
    exact = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    inexact = exact.replace(microsecond=500)
    assert temporal_literal("datetime", exact) == ("2024-01-02T03:04:05Z", True)
    assert temporal_literal("datetime", inexact) == ("2024-01-02T03:04:05Z", False)
    assert temporal_literal("datetime", inexact, upward=True) == ("2024-01-02T03:04:06Z", False)
    assert temporal_literal("date", exact) == ("2024-01-02", False)
    assert temporal_literal("date", exact, upward=True) == ("2024-01-03", False)
    assert temporal_literal("date", datetime(2024, 1, 2, tzinfo=UTC)) == ("2024-01-02", True)


@pytest.mark.parametrize(("spec", "field_type", "expected"), [
    (RecordFilter("N__c", "GREATER_THAN", ("5", "2"), "integer"), "int", "N__c > 2"),  # any value: the loosest
    (RecordFilter("N__c", "LESS_THAN", ("1e1",), "double"), "double", "N__c < 10"),  # positional, never 1E+1
    (RecordFilter("N__c", "EQUAL_TO", ("2.50",), "currency"), "currency", "N__c IN (2.5)"),
    (RecordFilter("N__c", "EQUAL_TO", ("2.5",), "double"), "int", None),  # a fraction on an int field
    (RecordFilter("N__c", "EQUAL_TO", ("x",), "double"), "double", None),  # the flow would refuse it
    (RecordFilter("Day__c", "EQUAL_TO", ("1704067200000",), "date"), "date", "Day__c IN (2024-01-01)"),
    (RecordFilter("At__c", "EQUAL_TO", ("1704067200000",), "timestamp"), "datetime", "At__c = 2024-01-01T00:00:00Z"),
    (RecordFilter("At__c", "EQUAL_TO", ("1704067200500",), "timestamp"), "datetime", None),
    (RecordFilter("At__c", "BETWEEN", ("1704067200500", "2024-01-01T00:00:09.1Z"), "datetime"), "datetime",
     "At__c >= 2024-01-01T00:00:00Z AND At__c <= 2024-01-01T00:00:10Z"),
    (RecordFilter("Ok__c", "NOT_EQUAL_TO", ("TRUE",), "bool"), "boolean", "Ok__c = false"),
    (RecordFilter("Ok__c", "EQUAL_TO", ("true", "0"), "boolean"), "boolean", None),
    (RecordFilter("Name", "EQUAL_TO", ("a", "b"), "picklist"), "string", "Name IN ('a', 'b')"),
    (RecordFilter("Name", "NOT_EQUAL_TO", ("a",), "string"), "string", "Name != null"),
    (RecordFilter("Name", "CONTAINS", ("5%",), "integer"), "string", "(Name LIKE '%5\\%%')"),
    (RecordFilter("Name", "LESS_THAN", ("m",), "string"), "string", None),
    (RecordFilter("Name", "EQUAL_TO", ("1",), "integer"), "string", None),  # numbers on a text field
    (RecordFilter("Bad Name", "EQUAL_TO", ("a",), "string"), "string", None),
])
def test_condition(spec: RecordFilter, field_type: str, expected: str | None) -> None:
    assert condition(spec, field_type) == expected
