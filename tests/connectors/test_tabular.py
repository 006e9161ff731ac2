"""Streaming reads, type inference and instants shared by the file connectors."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from openprofiles.connectors import tabular
from openprofiles.connectors.base import ConnectorError
from openprofiles.connectors.tabular import declared_format, describe_file, read_records, suffix_format
from openprofiles.connectors.times import parse_instant


def _binary(data: bytes) -> io.BufferedReader:
    return io.BufferedReader(io.BytesIO(data))


def read(data: bytes, fmt: str | None = None) -> list[dict[str, Any]]:
    return list(read_records(_binary(data), fmt, "f"))


def test_csv_values_stay_the_strings_of_the_file() -> None:
    data = b'\xef\xbb\xbfid,name,note\r\n1,"Doe, Jane","two\nlines"\n002,Bob,\n'
    assert read(data, "csv") == [
        {"id": "1", "name": "Doe, Jane", "note": "two\nlines"},
        {"id": "002", "name": "Bob", "note": ""},
    ]


def test_short_csv_rows_get_nulls_and_long_rows_fail() -> None:
    assert read(b"a,b\n1\n", "csv") == [{"a": "1", "b": None}]
    with pytest.raises(ConnectorError, match="line 2 has more values"):
        read(b"a,b\n1,2,3\n", "csv")


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1}\n{"a": 2.5}\n\n{"a": [3]}\n',
        b'[{"a": 1}, {"a": 2.5},\n {"a": [3]}]',
        b'{\n  "a": 1\n}\n{"a": 2.5} {"a": [3]}',
        b' [ ] [{"a": 1}] [{"a": 2.5}, {"a": [3]} ]\n',
    ],
    ids=["json-lines", "array", "pretty-printed", "several-arrays"],
)
def test_json_lines_and_arrays_are_detected(data: bytes) -> None:
    assert read(data, "json") == [{"a": 1}, {"a": 2.5}, {"a": [3]}]


def test_json_values_split_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tabular, "CHUNK", 7)
    rows = [{"n": 1234567890123, "s": "x" * 20, "f": 1.5e10} for _ in range(5)]
    assert read(json.dumps(rows).encode(), "json") == rows
    assert read("\n".join(json.dumps(r) for r in rows).encode(), "json") == rows


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a": 1}\n[1]', "record 2 is not a JSON object"),
        (b'{"a": }', "invalid JSON"),
        (b'{"a": 1', "invalid JSON"),
        (b'[{"a": 1},', "unexpected end"),
        (b'[{"a": 1} {"a": 2}]', "expected ','"),
    ],
)
def test_bad_json_is_a_connector_error(data: bytes, message: str) -> None:
    with pytest.raises(ConnectorError, match=message):
        read(data, "json")


def test_content_is_sniffed_when_the_format_is_unknown() -> None:
    assert read(b' \n[{"a": 1}]') == [{"a": 1}]
    assert read(b"a\n1\n") == [{"a": "1"}]


def test_non_utf8_text_is_a_connector_error() -> None:
    with pytest.raises(ConnectorError, match="not UTF-8"):
        read(b"a\n\xff\xfe\n", "csv")


def test_formats() -> None:
    assert declared_format("JSON") == "json"
    assert declared_format(None) is None
    with pytest.raises(ConnectorError, match="PARQUET"):
        declared_format("PARQUET")
    assert [suffix_format(n) for n in ("a.CSV", "b.jsonl", "c.ndjson", "d.json", "e.txt", "dir.csv/f")] == [
        "csv", "json", "json", "json", None, None,
    ]


def test_csv_types_are_inferred_from_the_first_rows() -> None:
    data = (
        b"id,score,active,born,seen,zip,mixed,empty,name\n"
        b"1,2.5,true,1990-01-02,2024-01-02T03:04:05Z,02134,1,,Ann\n"
        b"-7,3,FALSE,1991-12-31,2024-01-02 03:04,10001,x,,Bob\n"
        b"12,,true,,2024-01-03,,2,,\n"
    )
    fields = {f.name: f.data_type for f in describe_file(_binary(data), "csv", "f")}
    assert fields == {
        "id": "integer", "score": "double", "active": "boolean", "born": "date", "seen": "datetime",
        "zip": "string", "mixed": "string", "empty": "string", "name": "string",
    }


def test_a_csv_header_without_rows_describes_string_fields() -> None:
    assert [(f.name, f.data_type) for f in describe_file(_binary(b"a,b\n"), "csv", "f")] == [
        ("a", "string"), ("b", "string"),
    ]


def test_json_types_follow_the_parsed_values() -> None:
    data = b'{"id": 1, "n": "12", "at": "2024-01-02T00:00:00+02:00", "x": 1}\n{"id": 2, "x": 2.5, "tags": ["a"], "addr": {"c": 1}, "ok": true}\n'
    fields = [(f.name, f.data_type) for f in describe_file(_binary(data), "json", "f")]
    assert fields == [
        ("id", "integer"), ("n", "string"), ("at", "datetime"), ("x", "double"),
        ("tags", "list"), ("addr", "struct"), ("ok", "boolean"),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T05:04:05+02:00", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02", datetime(2024, 1, 2, tzinfo=UTC)),
        (1704164645, datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("1704164645000", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (1704164645.5, datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_instants(value: Any, expected: datetime | None) -> None:
    assert parse_instant(value) == expected


@pytest.mark.parametrize("value", ["yesterday", True, [1], 1e300])
def test_bad_instants(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_instant(value)


def test_an_oversized_json_value_stops_the_read_without_buffering_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tabular, "CHUNK", 64)
    monkeypatch.setattr(tabular, "MAX_JSON_VALUE", 1 << 20)
    data = b'{"a": 1}\n{"big": "' + b"x" * (3 << 20) + b'"}\n'
    with pytest.raises(ConnectorError, match="a value over 1 MiB"):
        read(data, "json")
