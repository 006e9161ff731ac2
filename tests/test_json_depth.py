"""json_depth: the nesting cap on JSON from outside, and the functions that never recurse."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openprofiles import json_depth
from openprofiles.connectors.base import ExtractRequest, UnreadableRecord
from openprofiles.connectors.tabular import CHUNK, SourceFile, _json_records, extract_pages
from openprofiles.connectors.values import plain
from openprofiles.json_depth import MAX_DEPTH, TooDeep

#: Deeper than Python's recursion limit, and than orjson's own 1024.
VERY_DEEP = 5000


def nested(depth: int, leaf: Any = 1) -> Any:
    """`depth` levels, objects and arrays by turns, built without recursion."""
    value = leaf
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return value


def nested_text(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=20,
)


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


@settings(max_examples=200, deadline=None)
@given(json_values, st.integers(min_value=0, max_value=6))
def test_depth_beyond_agrees_with_the_recursive_definition(value: Any, limit: int) -> None:
    path = json_depth.depth_beyond(value, limit)
    assert (path is not None) == (depth_of(value) > limit)
    if path is not None:
        inner = value
        for step in path:
            inner = inner[step] if isinstance(inner, dict) else inner[int(step) - 1]
        assert isinstance(inner, dict | list)
        assert len(path) == limit


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_dumps_writes_what_orjson_writes(value: Any) -> None:
    assert json_depth._dumps_iteratively(value) == orjson.dumps(value).decode()
    assert json_depth.dumps(value) == orjson.dumps(value).decode()


def test_dumps_writes_any_depth_without_recursion() -> None:
    text = json_depth.dumps(nested(VERY_DEEP))
    assert text.startswith('{"k":[{"k":[') and text.endswith("]}]}")
    assert text.count("[") + text.count("{") == VERY_DEEP
    with pytest.raises(RecursionError):
        json.loads(text)  # what it is, for the record: deeper than Python's own decoder goes


def test_depth_beyond_walks_any_depth_and_names_the_path() -> None:
    assert sys.getrecursionlimit() < VERY_DEEP
    path = json_depth.depth_beyond(nested(VERY_DEEP))
    assert path is not None and len(path) == MAX_DEPTH
    assert json_depth.depth_beyond(nested(MAX_DEPTH)) is None
    assert json_depth.depth_beyond(nested(MAX_DEPTH + 1)) is not None
    assert json_depth.depth_beyond("x") is None and json_depth.depth_beyond({}) is None
    assert json_depth.depth_beyond({}, 0) == ()


def test_loads_caps_the_depth_with_a_path() -> None:
    assert json_depth.loads(nested_text(MAX_DEPTH)) is not None
    with pytest.raises(TooDeep) as raised:
        json_depth.loads(nested_text(MAX_DEPTH + 1))
    assert raised.value.path == ("a",) * MAX_DEPTH
    assert str(raised.value) == "nested deeper than 128 levels (at 'a.a.a.a.a.a.…')"
    with pytest.raises(TooDeep):  # beyond orjson's own limit too
        json_depth.loads(nested_text(VERY_DEEP))
    assert json_depth.loads('{"a": "[[[[[[[[[[[[[[[["}', limit=1) == {"a": "[[[[[[[[[[[[[[[["}
    assert json_depth.loads(nested_text(1000), limit=None) is not None
    with pytest.raises(orjson.JSONDecodeError):
        json_depth.loads("{")


@pytest.mark.parametrize("form", ["lines", "array"])
def test_a_file_record_too_deep_to_decode_is_delivered_as_unreadable(form: str) -> None:
    good = [json.dumps({"id": i}) for i in range(3)]
    deep = nested_text(VERY_DEEP)
    items = [good[0], deep, good[1], deep, good[2]]
    text = "\n".join(items) if form == "lines" else "[" + ",".join(items) + "]"
    records = list(_json_records(io.StringIO(text), "deep.json"))
    assert [r.get("id") for r in records] == [0, None, 1, None, 2]
    unreadable = [r for r in records if isinstance(r, UnreadableRecord)]
    assert [r.text for r in unreadable] == [deep, deep]
    assert "deep.json: the record is nested deeper than 128 levels" in unreadable[0].reason


def test_a_record_too_deep_to_decode_spanning_chunks_and_strings() -> None:
    """Brackets inside strings do not count; a record larger than a read chunk is read whole."""
    deep = '{"s": "]]}}\\"]", "a":' * (CHUNK // 10) + "1" + "}" * (CHUNK // 10)
    text = deep + '\n{"id": 7}\n'
    records = list(_json_records(io.StringIO(text), "deep.jsonl"))
    assert isinstance(records[0], UnreadableRecord) and records[0].text == deep
    assert records[1] == {"id": 7}


def test_plain_leaves_a_container_too_deep_as_it_is() -> None:
    value = nested(2000)
    assert plain(value) is value
    assert plain({"a": [1, {"b": 2}]}) == {"a": [1, {"b": 2}]}


def test_an_incremental_read_by_record_time_delivers_a_record_too_deep_to_decode() -> None:
    """Its modification field cannot be read, so no window skips it (nor does it move the high-water mark)."""
    since = datetime(2026, 1, 2, tzinfo=UTC)
    text = "\n".join([json.dumps({"id": 1, "updated": "2026-01-01T00:00:00Z"}), nested_text(VERY_DEEP),
                      json.dumps({"id": 3, "updated": "2026-01-03T00:00:00Z"})])

    @contextmanager
    def open_file(_: SourceFile) -> Iterator[io.BufferedReader]:
        yield io.BufferedReader(io.BytesIO(text.encode()))

    request = ExtractRequest(entity="f", since=since, modified_field="updated")
    (page,) = extract_pages([SourceFile("f.jsonl", since)], open_file, request)
    assert [type(r).__name__ for r in page.records] == ["UnreadableRecord", "dict"]
    assert page.high_water == datetime(2026, 1, 3, tzinfo=UTC)
