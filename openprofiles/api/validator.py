"""Check parameters against every constraint the model states.

Required members, enums, string length (min/max), numeric range, regular-expression patterns,
list and map sizes, recursively. Messages follow the AWS wording and name the member path:
`Value 'x!' at 'DomainName' failed to satisfy constraint: Member must satisfy regular
expression pattern: ^[a-zA-Z0-9_-]+$`.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

from botocore.model import Shape, StructureShape

from openprofiles.api.errors import ValidationFailed

log = logging.getLogger(__name__)

MAX_REPORTED = 10


_SURROGATE_PAIR = re.compile(r"\\u(D[89AB][0-9A-F]{2})\\u(D[C-F][0-9A-F]{2})", re.IGNORECASE)


def _astral(m: re.Match[str]) -> str:
    """A Java/ECMA surrogate-pair escape as the one code point Python's `re` understands."""
    high, low = int(m.group(1), 16), int(m.group(2), 16)
    return "\\U%08X" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(_SURROGATE_PAIR.sub(_astral, pattern))
    except re.error:
        log.warning("model pattern not understood by Python, not enforced: %s", pattern)
        return None


def _show(shape: Shape, value: Any) -> str:
    """The `Value '…' ` prefix, left out for sensitive members and shortened when long."""
    if shape.metadata.get("sensitive") or not isinstance(value, str | int | float):
        return "Value"
    text = str(value)
    return f"Value '{text[:64]}{'…' if len(text) > 64 else ''}'"


def _where(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _check(shape: Shape, value: Any, where: str, errors: list[str]) -> None:
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        for name in shape.required_members:
            if value.get(name) is None:
                errors.append(f"Value null at '{_where(where, name)}' failed to satisfy constraint: Member must not be null")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], _where(where, name), errors)
        if meta.get("union") and sum(1 for v in value.values() if v is not None) != 1:
            errors.append(f"Value at '{where}' failed to satisfy constraint: Member must set exactly one member")
        return
    if kind in ("list", "map"):
        size = len(value)
        if "min" in meta and size < meta["min"]:
            errors.append(f"Value at '{where}' failed to satisfy constraint: Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and size > meta["max"]:
            errors.append(f"Value at '{where}' failed to satisfy constraint: Member must have length less than or equal to {meta['max']}")
        if kind == "list":
            for i, item in enumerate(value):
                if item is None:
                    errors.append(f"Value null at '{where}.{i + 1}' failed to satisfy constraint: Member must not be null")
                else:
                    _check(shape.member, item, f"{where}.{i + 1}", errors)  # type: ignore[attr-defined]
        else:
            for k, v in value.items():
                _check(shape.key, k, f"{where}.key", errors)  # type: ignore[attr-defined]
                if v is not None:
                    _check(shape.value, v, f"{where}.{k}", errors)  # type: ignore[attr-defined]
        return
    if kind == "string":
        length = len(value)
        if "min" in meta and length < meta["min"]:
            errors.append(f"{_show(shape, value)} at '{where}' failed to satisfy constraint: Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and length > meta["max"]:
            errors.append(f"{_show(shape, value)} at '{where}' failed to satisfy constraint: Member must have length less than or equal to {meta['max']}")
        enum = meta.get("enum")
        if enum and value not in enum:
            errors.append(f"{_show(shape, value)} at '{where}' failed to satisfy constraint: Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = meta.get("pattern")
        if pattern:
            compiled = _compiled(pattern)
            if compiled is not None and not compiled.search(value):
                errors.append(f"{_show(shape, value)} at '{where}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}")
        return
    if kind in ("integer", "long", "double", "float"):
        # `not >=` rather than `<`: NaN lies within no range.
        if "min" in meta and not value >= meta["min"]:
            errors.append(f"{_show(shape, value)} at '{where}' failed to satisfy constraint: Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and not value <= meta["max"]:
            errors.append(f"{_show(shape, value)} at '{where}' failed to satisfy constraint: Member must have value less than or equal to {meta['max']}")
        return
    if kind == "blob":
        length = len(value)
        if "min" in meta and length < meta["min"]:
            errors.append(f"Value at '{where}' failed to satisfy constraint: Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and length > meta["max"]:
            errors.append(f"Value at '{where}' failed to satisfy constraint: Member must have length less than or equal to {meta['max']}")


def validate(shape: Shape | None, params: dict[str, Any]) -> None:
    """Raise `ValidationFailed` listing every broken constraint (up to ten)."""
    if shape is None:
        return
    errors: list[str] = []
    _check(shape, params, "", errors)
    if errors:
        shown = errors[:MAX_REPORTED]
        noun = "error" if len(errors) == 1 else "errors"
        raise ValidationFailed(f"{len(errors)} validation {noun} detected: " + "; ".join(shown))
