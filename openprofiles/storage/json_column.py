"""The JSON column type: Python values in, Python values out, stored as JSON text.

Repositories hand dicts and lists to the columns of this type and read them back parsed; the
raw-driver paths (`bulk`, `fast_reads`, which bypass SQLAlchemy's types) use `dump_json` and
`load_json`, so both ways store the same text.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Dialect, Text, TypeDecorator


def dump_json(value: Any) -> str:
    """The stored text of a value."""
    return orjson.dumps(value).decode()


def load_json(text: str | bytes) -> Any:
    """The value of stored text."""
    return orjson.loads(text)


class Json(TypeDecorator[Any]):
    """A JSON value in a TEXT column; SQL NULL is None (a JSON `null` is never stored)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else dump_json(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else load_json(value)
