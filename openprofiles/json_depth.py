"""The nesting depth of JSON from outside, capped where it comes in.

Every JSON document a caller or a source supplies is held to `MAX_DEPTH` levels of objects and
arrays when it is parsed or received: API request bodies (api/parser.py), JSON held in string
members (PutProfileObject's Object, DetectProfileObjectType's Objects, a Map_all exclusion list),
records pushed to an Event flow, and every record a connector delivers to a flow run. Below the
cap, the code that walks documents recursively (the request parser and validator, the response
serializer, `orjson.dumps` with its own limit of 254 levels, `json.dumps`, the flow tasks) has
room to spare; nothing deeper reaches it. The functions here are iterative: they never recurse,
whatever the depth of what they are given.
"""

from __future__ import annotations

from typing import Any

import orjson

#: Levels of objects and arrays a document may have: `{}` is 1 level, `{"a": [1]}` 2. Far above
#: what the service models need (10 levels at most) and below `orjson.dumps`'s limit of 254 with
#: room for the envelopes records are stored in.
MAX_DEPTH = 128
#: What `orjson.loads` itself refuses beyond (without recursing in Python).
ORJSON_MAX_DEPTH = 1024

_CONTAINERS = (dict, list, tuple)


class TooDeep(ValueError):
    """A document nested deeper than `limit`; `path` leads to the first container beyond it
    (object keys and 1-based array positions), empty when unknown."""

    def __init__(self, limit: int, path: tuple[str | int, ...] = ()) -> None:
        self.limit = limit
        self.path = path
        where = f" (at '{dotted(path)}')" if path else ""
        super().__init__(f"nested deeper than {limit} levels{where}")

    @property
    def reason(self) -> str:
        return str(self)


def dotted(path: tuple[str | int, ...], most: int = 6) -> str:
    """A path as `a.b.1.c`, its first `most` steps only (`…` after them)."""
    shown = ".".join(str(step) for step in path[:most])
    return shown + ".…" if len(path) > most else shown


def _children(value: Any) -> Any:
    return iter(value.items()) if isinstance(value, dict) else enumerate(value, 1)


def depth_beyond(value: Any, limit: int = MAX_DEPTH) -> tuple[str | int, ...] | None:
    """The path to the first object or array nested deeper than `limit` levels, or None when
    `value` is within the limit (a scalar is 0 levels deep)."""
    if not isinstance(value, _CONTAINERS):
        return None
    if limit < 1:
        return ()
    stack = [_children(value)]
    keys: list[str | int] = []
    while stack:
        for key, child in stack[-1]:
            if isinstance(child, _CONTAINERS):
                if len(stack) >= limit:
                    return (*keys, key)
                stack.append(_children(child))
                keys.append(key)
                break
        else:
            stack.pop()
            if keys:
                keys.pop()
    return None


def check(value: Any, limit: int = MAX_DEPTH) -> Any:
    """`value` itself, or TooDeep when it nests deeper than `limit`."""
    path = depth_beyond(value, limit)
    if path is not None:
        raise TooDeep(limit, path)
    return value


def may_exceed(data: bytes | str, limit: int) -> bool:
    """Whether a text has enough `{` and `[` to nest deeper than `limit` (a quick, safe filter)."""
    if isinstance(data, str):
        return data.count("{") + data.count("[") > limit
    return data.count(b"{") + data.count(b"[") > limit


def loads(data: bytes | str, limit: int | None = MAX_DEPTH) -> Any:
    """A JSON text decoded by orjson (which does not recurse in Python), held to `limit` levels
    (None: only orjson's own 1024). TooDeep beyond the limit; orjson.JSONDecodeError for other
    bad JSON (both are ValueErrors)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        if "depth limit exceeded" in str(error):
            raise TooDeep(min(limit or ORJSON_MAX_DEPTH, ORJSON_MAX_DEPTH)) from None
        raise
    if limit is not None and may_exceed(data, limit):
        check(value, limit)
    return value


class _Raw(str):
    """JSON text to write as it is (punctuation and keys), told apart from string values."""


def dumps(value: Any) -> str:
    """The JSON text of a value of any depth (orjson when it can take it, else written
    iteratively); values orjson does not know are written as their `str`, as `default=str` does.
    For the stored copy of a record too deep to be ingested."""
    if depth_beyond(value, 250) is None:
        return orjson.dumps(value, default=str).decode()
    return _dumps_iteratively(value)


def _dumps_iteratively(value: Any) -> str:
    out: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if type(item) is _Raw:
            out.append(item)
        elif isinstance(item, dict):
            entries = list(item.items())
            parts: list[Any] = [_Raw("}")]
            for i in range(len(entries) - 1, -1, -1):
                key, child = entries[i]
                parts += [child, _Raw(("," if i else "") + orjson.dumps(str(key)).decode() + ":")]
            stack += parts
            out.append("{")
        elif isinstance(item, list | tuple):
            parts = [_Raw("]")]
            for i in range(len(item) - 1, -1, -1):
                parts += [item[i], _Raw(",")] if i else [item[i]]
            stack += parts
            out.append("[")
        else:
            out.append(orjson.dumps(item, default=str).decode())
    return "".join(out)
