"""Check parameters against every constraint the model states.

Required members, enums, string length (min/max), numeric range, regular-expression patterns,
list and map sizes, recursively. Messages follow the AWS wording and name the member path:
`Value 'x!' at 'DomainName' failed to satisfy constraint: Member must satisfy regular
expression pattern: ^[a-zA-Z0-9_-]+$`.

Each shape's constraints are turned into one check function the first time a request meets the
shape (`_checker`), so a request pays only for the constraints its members have.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

from botocore.model import Shape, StructureShape

from openprofiles.api.errors import ValidationFailed

log = logging.getLogger(__name__)

MAX_REPORTED = 10

#: Checks a value found at a member path, adding what it breaks to the list.
Check = Callable[[Any, str, list[str]], None]

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


def _shown(sensitive: bool, value: Any) -> str:
    """The `Value '…' ` prefix, left out for sensitive members and shortened when long."""
    if sensitive or not isinstance(value, str | int | float):
        return "Value"
    text = str(value)
    return f"Value '{text[:64]}{'…' if len(text) > 64 else ''}'"


def _size_messages(meta: dict[str, Any], noun: str) -> tuple[int | None, str, int | None, str]:
    """(min, its message tail, max, its message tail) of a length or value range."""
    return (
        meta.get("min"), f"failed to satisfy constraint: Member must have {noun} greater than or equal to {meta.get('min')}",
        meta.get("max"), f"failed to satisfy constraint: Member must have {noun} less than or equal to {meta.get('max')}",
    )


@cache
def _checker(shape: Shape) -> Check | None:
    """The check for a shape's constraints, built once; None when the shape has none."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return _structure(shape)
    if kind in ("list", "map"):
        return _collection(shape)
    if kind == "string":
        return _string(shape)
    if kind in ("integer", "long", "double", "float"):
        return _number(shape)
    if kind == "blob":
        return _blob(shape)
    return None


def _structure(shape: StructureShape) -> Check:
    required = tuple(shape.required_members)
    # A member's own check is looked up when a value is there to check: shapes can be recursive.
    members = tuple(shape.members.items())
    union = bool(shape.metadata.get("union"))

    def check(value: Any, where: str, errors: list[str]) -> None:
        for name in required:
            if value.get(name) is None:
                errors.append(f"Value null at '{f'{where}.{name}' if where else name}' failed to satisfy "
                              "constraint: Member must not be null")
        for name, member in members:
            item = value.get(name)
            if item is not None:
                member_check = _checker(member)
                if member_check is not None:
                    member_check(item, f"{where}.{name}" if where else name, errors)
        if union and sum(1 for v in value.values() if v is not None) != 1:
            errors.append(f"Value at '{where}' failed to satisfy constraint: Member must set exactly one member")

    return check


def _collection(shape: Shape) -> Check:
    low, too_few, high, too_many = _size_messages(shape.metadata, "length")
    is_list = shape.type_name == "list"

    def check(value: Any, where: str, errors: list[str]) -> None:
        size = len(value)
        if low is not None and size < low:
            errors.append(f"Value at '{where}' {too_few}")
        if high is not None and size > high:
            errors.append(f"Value at '{where}' {too_many}")
        if is_list:
            item_check = _checker(shape.member)  # type: ignore[attr-defined]
            for i, item in enumerate(value):
                if item is None:
                    errors.append(f"Value null at '{where}.{i + 1}' failed to satisfy constraint: Member must not be null")
                elif item_check is not None:
                    item_check(item, f"{where}.{i + 1}", errors)
        else:
            key_check, value_check = _checker(shape.key), _checker(shape.value)  # type: ignore[attr-defined]
            for k, v in value.items():
                if key_check is not None:
                    key_check(k, f"{where}.key", errors)
                if v is not None and value_check is not None:
                    value_check(v, f"{where}.{k}", errors)

    return check


def _string(shape: Shape) -> Check | None:
    meta = shape.metadata
    sensitive = bool(meta.get("sensitive"))
    low, too_short, high, too_long = _size_messages(meta, "length")
    enum = meta.get("enum")
    allowed = frozenset(enum or ())
    not_in_enum = f"failed to satisfy constraint: Member must satisfy enum value set: [{', '.join(enum or ())}]"
    pattern_text = meta.get("pattern")
    pattern = _compiled(pattern_text) if pattern_text else None
    not_matching = f"failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern_text}"
    if low is None and high is None and not enum and pattern is None:
        return None

    def check(value: Any, where: str, errors: list[str]) -> None:
        length = len(value)
        if low is not None and length < low:
            errors.append(f"{_shown(sensitive, value)} at '{where}' {too_short}")
        if high is not None and length > high:
            errors.append(f"{_shown(sensitive, value)} at '{where}' {too_long}")
        if enum and value not in allowed:
            errors.append(f"{_shown(sensitive, value)} at '{where}' {not_in_enum}")
        if pattern is not None and not pattern.search(value):
            errors.append(f"{_shown(sensitive, value)} at '{where}' {not_matching}")

    return check


def _number(shape: Shape) -> Check | None:
    sensitive = bool(shape.metadata.get("sensitive"))
    low, too_small, high, too_large = _size_messages(shape.metadata, "value")
    if low is None and high is None:
        return None

    def check(value: Any, where: str, errors: list[str]) -> None:
        # `not >=` rather than `<`: NaN lies within no range.
        if low is not None and not value >= low:
            errors.append(f"{_shown(sensitive, value)} at '{where}' {too_small}")
        if high is not None and not value <= high:
            errors.append(f"{_shown(sensitive, value)} at '{where}' {too_large}")

    return check


def _blob(shape: Shape) -> Check | None:
    low, too_short, high, too_long = _size_messages(shape.metadata, "length")
    if low is None and high is None:
        return None

    def check(value: Any, where: str, errors: list[str]) -> None:
        if low is not None and len(value) < low:
            errors.append(f"Value at '{where}' {too_short}")
        if high is not None and len(value) > high:
            errors.append(f"Value at '{where}' {too_long}")

    return check


def validate(shape: Shape | None, params: dict[str, Any]) -> None:
    """Raise `ValidationFailed` listing every broken constraint (up to ten)."""
    if shape is None:
        return
    errors: list[str] = []
    check = _checker(shape)
    if check is not None:
        check(params, "", errors)
    if errors:
        shown = errors[:MAX_REPORTED]
        noun = "error" if len(errors) == 1 else "errors"
        raise ValidationFailed(f"{len(errors)} validation {noun} detected: " + "; ".join(shown))
