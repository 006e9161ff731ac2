"""The wire format both ways, for every modeled operation of both services.

Inputs: a valid parameter dict generated from the input shape is serialized by botocore's own
rest-json serializer, prepared into the URL botocore would send, routed by our `Router`, parsed
by our `parse_request` and must come back exactly, and pass our validator. Outputs: a valid
result generated from the output shape is serialized by our `serialize_response` and parsed back
by botocore's rest-json parser.

`ValueGenerator` is deterministic (no randomness at all), so a failure reproduces every time.
"""

from __future__ import annotations

import functools
import math
import re
import re._constants as sre_c  # type: ignore[import-not-found]
import re._parser as sre_parse  # type: ignore[import-not-found]
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import botocore.parsers
import botocore.serialize
import botocore.validate
import pytest
from botocore.awsrequest import AWSRequest, prepare_request_dict
from botocore.model import Shape, StructureShape

from openprofiles.api.parser import parse_request
from openprofiles.api.router import Router
from openprofiles.api.serializer import serialize_response
from openprofiles.api.spec import Operation, all_operations
from openprofiles.api.validator import _compiled, validate

#: Characters tried in turn wherever a pattern allows them: letters first, then the ones that
#: stress percent-encoding, query parsing and JSON escaping.
PREFERRED = "aZ0-_ /.+:%é=@~&?#😀9,!\"\\'b;$()*[]{}<>|^`\tY1"
FALLBACK = [chr(c) for c in range(0x20, 0x2FF)] + ["\u4e2d", "\U0001f600"]
INPUT_TIME = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
SPECIAL_FLOATS = (math.nan, math.inf, -math.inf)
OUTPUT_TIMES = (datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC), datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC))


def _clamp(value: int, low: int | None, high: int | None) -> int:
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    return value


def _category(name: str, char: str) -> bool:
    name = name.upper()
    if "NOT_DIGIT" in name:
        return not char.isdigit()
    if "DIGIT" in name:
        return bool(re.fullmatch(r"\d", char))
    if "NOT_SPACE" in name:
        return not re.fullmatch(r"\s", char)
    if "SPACE" in name:
        return bool(re.fullmatch(r"\s", char))
    if "NOT_WORD" in name:
        return not re.fullmatch(r"\w", char)
    if "WORD" in name:
        return bool(re.fullmatch(r"\w", char))
    raise ValueError(f"unknown regex category {name}")


def _not_literal(code: int, char: str) -> bool:
    return ord(char) != code


def _in_class(items: list[tuple[Any, Any]], char: str) -> bool:
    negate = False
    hit = False
    code = ord(char)
    for op, av in items:
        if op is sre_c.NEGATE:
            negate = True
        elif op is sre_c.LITERAL:
            hit = hit or code == av
        elif op is sre_c.RANGE:
            hit = hit or av[0] <= code <= av[1]
        elif op is sre_c.CATEGORY:
            hit = hit or _category(str(av), char)
        else:
            raise ValueError(f"unsupported character-class item {op}")
    return hit != negate


class _RegexText:
    """Text matching one parsed pattern, grown repeat by repeat until long enough."""

    def __init__(self, parsed: Any, rotation: int, branch: int = 0) -> None:
        self.parsed = parsed
        self.rotation = rotation
        self.branch = branch
        self.counts: dict[int, int] = {}
        self.limits: dict[int, int] = {}
        self.order: list[int] = []
        self.picks = 0
        self.classes: dict[object, list[str]] = {}

    def pick(self, accepts: Callable[[str], bool], key: object) -> str:
        """A character `accepts` takes; `key` names the character class (its choices are cached)."""
        self.picks += 1
        accepted = self.classes.get(key)
        if accepted is None:
            accepted = [c for c in PREFERRED if accepts(c)] or [c for c in FALLBACK if accepts(c)][:8]
            self.classes[key] = accepted
        # The first character is a plain letter where possible (no leading '.', '/' or space).
        if not accepted:
            raise ValueError("no character satisfies the pattern")
        return accepted[0 if self.picks == 1 else (self.rotation + self.picks) % len(accepted)]

    def render(self) -> str:
        self.picks = 0
        return self._items(self.parsed)

    def _items(self, items: Any) -> str:
        out: list[str] = []
        for op, av in items:
            if op is sre_c.LITERAL:
                out.append(chr(av))
            elif op is sre_c.NOT_LITERAL:
                out.append(self.pick(functools.partial(_not_literal, av), key=("not", av)))
            elif op is sre_c.ANY:
                out.append(self.pick(lambda c: c != "\n", key="any"))
            elif op is sre_c.IN:
                out.append(self.pick(functools.partial(_in_class, av), key=id(av)))
            elif op is sre_c.BRANCH:
                out.append(self._items(av[1][self.branch % len(av[1])]))
            elif op is sre_c.SUBPATTERN:
                out.append(self._items(av[-1]))
            elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
                low, high, sub = av
                key = id(av)
                if key not in self.counts:
                    self.counts[key] = low
                    self.limits[key] = high
                    self.order.append(key)
                out.extend(self._items(sub) for _ in range(self.counts[key]))
            elif op in (sre_c.AT, sre_c.ASSERT_NOT, sre_c.ASSERT):
                continue  # anchors add nothing; look-arounds are checked on the result
            else:
                raise ValueError(f"unsupported regex construct {op}")
        return "".join(out)

    def grow(self, by: int = 1) -> bool:
        for key in self.order:
            if self.counts[key] < self.limits[key]:
                self.counts[key] = min(self.counts[key] + by, self.limits[key])
                return True
        return False


class ValueGenerator:
    """Valid values for botocore shapes: every constraint met, optional members filled down to
    `max_depth`, choices rotating so that sibling values differ. Fully deterministic.

    `extreme` pushes every value to an edge of what the model allows: "low" (shortest strings,
    empty where allowed, smallest numbers and collections) or "high" (longest strings, largest
    numbers, fullest collections, capped to keep requests small)."""

    def __init__(
        self,
        max_depth: int = 5,
        string_length: int = 8,
        for_output: bool = False,
        special_floats: bool = False,
        extreme: str | None = None,
    ) -> None:
        assert extreme in (None, "low", "high")
        self.max_depth = max_depth
        self.string_length = string_length
        self.for_output = for_output
        self.special_floats = special_floats
        self.extreme = extreme
        self.turn = 0

    def _next(self) -> int:
        self.turn += 1
        return self.turn

    def _size(self, meta: dict[str, Any], depth: int, at_least: int = 0) -> int:
        if self.extreme == "low":
            return max(int(meta.get("min", 0)), at_least)
        if self.extreme == "high":
            return _clamp(3 if depth < 3 else 1, meta.get("min"), meta.get("max"))
        return _clamp(2 if depth < 3 else 1, meta.get("min"), meta.get("max"))

    def value(self, shape: Shape, depth: int = 0, stack: tuple[str, ...] = (), *, location: str | None = None) -> Any:
        if depth > 20:
            raise RecursionError(f"shape {shape.name} nests too deeply")
        kind = shape.type_name
        meta = shape.metadata
        if kind == "structure":
            return self.structure(shape, depth, stack)
        if kind == "list":
            # An empty list in a query string is no parameter at all: it cannot come back.
            size = self._size(meta, depth, at_least=1 if location else 0)
            return [self.value(shape.member, depth + 1, stack) for _ in range(size)]  # type: ignore[attr-defined]
        if kind == "map":
            return self.map(shape, depth, stack)
        if kind == "string":
            return self.string(shape, allow_empty=location != "uri")
        if kind in ("integer", "long"):
            return self.integer(kind, meta)
        if kind in ("double", "float"):
            return self.double(meta)
        if kind == "boolean":
            return self._next() % 2 == 0
        if kind == "timestamp":
            if self.extreme == "low":
                return datetime(1970, 1, 1, tzinfo=UTC)
            if self.extreme == "high":
                return datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
            if self.for_output:
                return OUTPUT_TIMES[self._next() % 2]
            return INPUT_TIME
        if kind == "blob":
            return b"\x00\xffblob" + bytes([self._next() % 256])
        raise ValueError(f"no generator for shape type {kind}")

    def integer(self, kind: str, meta: dict[str, Any]) -> int:
        bits = 31 if kind == "integer" else 63
        if self.extreme == "low":
            return int(meta.get("min", -(2**bits)))
        if self.extreme == "high":
            return int(meta.get("max", 2**bits - 1))
        base = 1_234_567_890_123 if kind == "long" else 7 + self._next() % 5
        return _clamp(base, meta.get("min"), meta.get("max"))

    def double(self, meta: dict[str, Any]) -> float:
        if self.special_floats and "min" not in meta and "max" not in meta:
            return SPECIAL_FLOATS[self._next() % len(SPECIAL_FLOATS)]
        if self.extreme == "low":
            return float(meta.get("min", -1.7976931348623157e308))
        if self.extreme == "high":
            return float(meta.get("max", 1.7976931348623157e308))
        number = 1.5 + self._next() % 3
        if "max" in meta and number > meta["max"]:
            number = float(meta["max"])
        if "min" in meta and number < meta["min"]:
            number = float(meta["min"])
        return number

    def structure(self, shape: Shape, depth: int, stack: tuple[str, ...]) -> dict[str, Any]:
        assert isinstance(shape, StructureShape)
        recursive = shape.name in stack
        stack = (*stack, shape.name)
        members = list(shape.members.items())
        if shape.metadata.get("union"):
            name, member = members[self._next() % len(members)]
            return {name: self.value(member, depth + 1, stack)}
        required = set(shape.required_members)
        out: dict[str, Any] = {}
        for name, member in members:
            location = member.serialization.get("location")
            if location == "statusCode":
                out[name] = 202
                continue
            if name in required or (depth < self.max_depth and not recursive):
                out[name] = self.value(member, depth + 1, stack, location=location)
                if location == "uri" and not out[name]:
                    raise AssertionError(f"empty path label {shape.name}.{name}")
        return out

    def map(self, shape: Shape, depth: int, stack: tuple[str, ...]) -> dict[Any, Any]:
        meta = shape.metadata
        size = self._size(meta, depth)
        key_shape, value_shape = shape.key, shape.value  # type: ignore[attr-defined]
        enum = key_shape.metadata.get("enum")
        if enum:
            size = min(size, len(enum))
        out: dict[Any, Any] = {}
        for attempt in range(size * 10):
            if len(out) >= size:
                break
            # Keys must differ: vary their length as well as their characters.
            key = self.string(key_shape, allow_empty=False, length=self.string_length + attempt % 3)
            if key not in out:
                out[key] = self.value(value_shape, depth + 1, stack)
        assert len(out) >= size, f"cannot make {size} distinct keys for {shape.name}"
        return out

    def string(self, shape: Shape, allow_empty: bool = True, length: int | None = None) -> str:
        meta = shape.metadata
        enum = meta.get("enum")
        pattern = meta.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if enum:
            options = [e for e in enum if compiled is None or compiled.search(e)]
            return str(options[self._next() % len(options)])
        low = int(meta.get("min", 0))
        if not (allow_empty and self.extreme == "low"):
            low = max(low, 1)
        high = int(meta.get("max", 1 << 30))
        if length is not None:
            target = _clamp(length, low, high)
        elif self.extreme == "low":
            target = low
        elif self.extreme == "high":
            target = min(high, 2048)
        else:
            target = _clamp(self.string_length, low, high)
        rotation = self._next()
        if compiled is None:
            text = _RegexText([], rotation)
            return "".join(text.pick(lambda c: c != "\n", key="any") for _ in range(target))
        if target == 0 and compiled.search(""):
            return ""
        for attempt in range(2 * len(PREFERRED)):
            candidate = self._from_pattern(compiled.pattern, rotation + attempt * 7, attempt % 2, max(low, 1), target)
            if candidate is not None and low <= len(candidate) <= high and compiled.search(candidate):
                return candidate
        raise ValueError(f"cannot generate a value for {shape.name} (pattern {pattern}, length {low}..{high})")

    @staticmethod
    def _from_pattern(pattern: str, rotation: int, branch: int, low: int, target: int) -> str | None:
        text = _RegexText(sre_parse.parse(pattern), rotation, branch)
        value = text.render()
        for _ in range(4 * target + 64):
            if len(value) >= target or not text.grow():
                break
            before, value = len(value), text.render()
            step = len(value) - before
            if step > 0 and len(value) + step <= target:
                text.grow((target - len(value)) // step)  # the same repeat, as often as fits
                value = text.render()
        return value if len(value) >= low else None


# ---------------------------------------------------------------------------------------------


OPERATIONS = all_operations()
IDS = [f"{op.service.name}:{op.name}" for op in OPERATIONS]
ROUTER = Router()
ENDPOINT = "https://profile.us-east-1.amazonaws.com"


def test_every_operation_is_covered() -> None:
    assert len({op.service.name for op in OPERATIONS}) == 2
    assert len(OPERATIONS) == 131


def _wire(op: Operation, params: dict[str, Any]) -> tuple[str, str, str, dict[str, str], bytes]:
    """What botocore puts on the wire for these parameters: method, raw path, raw query,
    headers (lower-cased) and body."""
    serializer = botocore.serialize.create_serializer("rest-json", include_validation=True)
    request = serializer.serialize_to_request(params, op.model)
    prepare_request_dict(request, endpoint_url=ENDPOINT)
    prepared = AWSRequest(
        method=request["method"], url=request["url"], data=request["body"], headers=request["headers"]
    ).prepare()
    split = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else str(v) for k, v in prepared.headers.items()}
    return prepared.method, split.path, split.query, headers, body


def _assert_aware_utc(value: Any) -> None:
    """Every timestamp the parser produced is timezone-aware and in UTC."""
    if isinstance(value, datetime):
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0), value
    elif isinstance(value, dict):
        for item in value.values():
            _assert_aware_utc(item)
    elif isinstance(value, list):
        for item in value:
            _assert_aware_utc(item)


def _assert_botocore_accepts(shape: Shape | None, params: dict[str, Any]) -> None:
    report = botocore.validate.ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_input_round_trip(op: Operation) -> None:
    shape = op.model.input_shape
    params = ValueGenerator().value(shape) if shape is not None else {}
    _assert_botocore_accepts(shape, params)

    method, raw_path, raw_query, headers, body = _wire(op, params)
    match = ROUTER.match(op.service.name, method, raw_path)
    assert match is not None, f"{method} {raw_path} routes nowhere"
    routed, labels = match
    assert routed.name == op.name, f"{method} {raw_path} routed to {routed.name}"

    parsed = parse_request(routed, labels, parse_qsl(raw_query, keep_blank_values=True), headers, body)
    assert parsed == params
    _assert_aware_utc(parsed)
    validate(shape, parsed)


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
@pytest.mark.parametrize("extreme", ["required-only", "low", "high"])
def test_input_round_trip_edges(op: Operation, extreme: str) -> None:
    """Only the required members (empty bodies, no query string); every value at its lowest
    (empty strings and collections, minimum numbers, epoch 0); every value at its highest."""
    shape = op.model.input_shape
    if extreme == "required-only":
        generator = ValueGenerator(max_depth=0, string_length=1)
    else:
        generator = ValueGenerator(max_depth=3, extreme=extreme)
    params = generator.value(shape) if shape is not None else {}
    _assert_botocore_accepts(shape, params)
    method, raw_path, raw_query, headers, body = _wire(op, params)
    match = ROUTER.match(op.service.name, method, raw_path)
    assert match is not None and match[0].name == op.name
    parsed = parse_request(match[0], match[1], parse_qsl(raw_query, keep_blank_values=True), headers, body)
    assert parsed == params
    _assert_aware_utc(parsed)
    validate(shape, parsed)


def _botocore_parse(op: Operation, status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    parser = botocore.parsers.create_parser("rest-json")
    parsed = parser.parse({"status_code": status, "headers": headers, "body": body}, op.model.output_shape)
    parsed.pop("ResponseMetadata", None)
    return dict(parsed)


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
@pytest.mark.parametrize("extreme", [None, "low", "high"])
def test_output_round_trip(op: Operation, extreme: str | None) -> None:
    shape = op.model.output_shape
    generator = ValueGenerator(for_output=True, extreme=extreme, max_depth=5 if extreme is None else 3)
    result = generator.value(shape) if shape is not None else {}
    status, headers, body = serialize_response(op, result)
    assert 200 <= status < 300
    if not any(m.serialization.get("location") == "statusCode" for m in getattr(shape, "members", {}).values()):
        assert status == op.success_code
    assert _botocore_parse(op, status, headers, body) == result


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_output_round_trip_empty(op: Operation) -> None:
    status, headers, body = serialize_response(op, {})
    assert status == op.success_code
    # botocore always reports a `statusCode` member (CreateSegmentEstimate and two more).
    expected = {
        name: status
        for name, member in getattr(op.model.output_shape, "members", {}).items()
        if member.serialization.get("location") == "statusCode"
    }
    assert _botocore_parse(op, status, headers, body) == expected


# --- the generator itself -------------------------------------------------------------------


def _all_patterns() -> Iterator[tuple[str, Shape]]:
    seen: set[str] = set()

    def walk(shape: Shape) -> Iterator[tuple[str, Shape]]:
        if shape.name in seen:
            return
        seen.add(shape.name)
        if shape.type_name == "string" and "pattern" in shape.metadata:
            yield shape.metadata["pattern"], shape
        for child in _children(shape):
            yield from walk(child)

    for op in OPERATIONS:
        for shape in (op.model.input_shape, op.model.output_shape):
            if shape is not None:
                yield from walk(shape)


def _children(shape: Shape) -> list[Shape]:
    if shape.type_name == "structure":
        return list(shape.members.values())  # type: ignore[attr-defined]
    if shape.type_name == "list":
        return [shape.member]  # type: ignore[attr-defined]
    if shape.type_name == "map":
        return [shape.key, shape.value]  # type: ignore[attr-defined]
    return []


def test_generator_satisfies_every_model_pattern() -> None:
    generator = ValueGenerator()
    checked = 0
    for pattern, shape in _all_patterns():
        compiled = _compiled(pattern)
        assert compiled is not None, f"validator cannot enforce {pattern!r}"
        for length in (1, 8, 40):
            generator.string_length = length
            value = generator.string(shape)
            assert compiled.search(value), (pattern, value)
            assert shape.metadata.get("min", 0) <= len(value) <= shape.metadata.get("max", 1 << 30)
        checked += 1
    assert checked > 30


def test_generator_is_deterministic() -> None:
    for op in OPERATIONS[:10]:
        shape = op.model.input_shape
        if shape is not None:
            assert ValueGenerator().value(shape) == ValueGenerator().value(shape)


def _nan_safe(value: Any) -> Any:
    """NaN as a marker, so that results holding NaN can be compared with `==`."""
    if isinstance(value, float) and math.isnan(value):
        return "<NaN>"
    if isinstance(value, dict):
        return {k: _nan_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_safe(v) for v in value]
    return value


def _has_special_float(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_special_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_special_float(v) for v in value)
    return False


SPECIAL_INPUT_OPS = [
    op
    for op in OPERATIONS
    if op.model.input_shape is not None
    and _has_special_float(ValueGenerator(special_floats=True).value(op.model.input_shape))
]
SPECIAL_OUTPUT_OPS = [
    op
    for op in OPERATIONS
    if op.model.output_shape is not None
    and _has_special_float(ValueGenerator(for_output=True, special_floats=True).value(op.model.output_shape))
]


@pytest.mark.parametrize("op", SPECIAL_INPUT_OPS, ids=lambda op: f"{op.service.name}:{op.name}")
def test_input_non_finite_doubles(op: Operation) -> None:
    """botocore sends NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity"."""
    shape = op.model.input_shape
    params = ValueGenerator(special_floats=True).value(shape)
    method, raw_path, raw_query, headers, body = _wire(op, params)
    match = ROUTER.match(op.service.name, method, raw_path)
    assert match is not None and match[0].name == op.name
    parsed = parse_request(match[0], match[1], parse_qsl(raw_query, keep_blank_values=True), headers, body)
    assert _nan_safe(parsed) == _nan_safe(params)


@pytest.mark.parametrize("op", SPECIAL_OUTPUT_OPS, ids=lambda op: f"{op.service.name}:{op.name}")
def test_output_non_finite_doubles(op: Operation) -> None:
    """NaN and ±Infinity reach botocore as NaN and ±Infinity, not as null (a missing member)."""
    result = ValueGenerator(for_output=True, special_floats=True).value(op.model.output_shape)
    status, headers, body = serialize_response(op, result)
    assert _nan_safe(_botocore_parse(op, status, headers, body)) == _nan_safe(result)


def test_special_float_operations_exist() -> None:
    assert SPECIAL_INPUT_OPS and SPECIAL_OUTPUT_OPS


# --- protocol features neither service uses yet -----------------------------------------------
#
# Header members, prefixed-header maps, query-string maps, query-string timestamps and greedy
# labels exist in rest-json but in none of the 131 operations; a small synthetic model keeps the
# generic machinery honest for them.

SYNTHETIC_MODEL: dict[str, Any] = {
    "metadata": {
        "apiVersion": "2024-01-01",
        "endpointPrefix": "synthetic",
        "protocol": "rest-json",
        "serviceId": "Synthetic",
        "signatureVersion": "v4",
    },
    "operations": {
        "PutThing": {
            "name": "PutThing",
            "http": {"method": "PUT", "requestUri": "/things/{Name}/{Key+}", "responseCode": 201},
            "input": {"shape": "PutThingRequest"},
            "output": {"shape": "PutThingResponse"},
        }
    },
    "shapes": {
        "PutThingRequest": {
            "type": "structure",
            "required": ["Name", "Key"],
            "members": {
                "Name": {"shape": "String", "location": "uri", "locationName": "Name"},
                "Key": {"shape": "String", "location": "uri", "locationName": "Key"},
                "Since": {"shape": "Timestamp", "location": "querystring", "locationName": "since"},
                "Ratio": {"shape": "Double", "location": "querystring", "locationName": "ratio"},
                "Flag": {"shape": "Boolean", "location": "querystring", "locationName": "flag"},
                "Extra": {"shape": "StringMap", "location": "querystring"},
                "Count": {"shape": "Long", "location": "header", "locationName": "x-count"},
                "Enabled": {"shape": "Boolean", "location": "header", "locationName": "x-enabled"},
                "Modified": {"shape": "Timestamp", "location": "header", "locationName": "x-modified"},
                "Labels": {"shape": "StringList", "location": "header", "locationName": "x-labels"},
                "Sizes": {"shape": "IntegerList", "location": "header", "locationName": "x-sizes"},
                "Meta": {"shape": "StringMap", "location": "headers", "locationName": "x-meta-"},
                "Body": {"shape": "String"},
                "Score": {"shape": "Double"},
            },
        },
        "PutThingResponse": {
            "type": "structure",
            "members": {
                "Status": {"shape": "Integer", "location": "statusCode"},
                "Enabled": {"shape": "Boolean", "location": "header", "locationName": "x-enabled"},
                "Disabled": {"shape": "Boolean", "location": "header", "locationName": "x-disabled"},
                "Count": {"shape": "Long", "location": "header", "locationName": "x-count"},
                "Ratio": {"shape": "Double", "location": "header", "locationName": "x-ratio"},
                "Modified": {"shape": "Timestamp", "location": "header", "locationName": "x-modified"},
                "Names": {"shape": "StringList", "location": "header", "locationName": "x-names"},
                "Meta": {"shape": "StringMap", "location": "headers", "locationName": "x-meta-"},
                "Created": {"shape": "Timestamp"},
                "Score": {"shape": "Double"},
            },
        },
        "String": {"type": "string"},
        "Double": {"type": "double"},
        "Long": {"type": "long"},
        "Integer": {"type": "integer"},
        "Boolean": {"type": "boolean"},
        "Timestamp": {"type": "timestamp"},
        "StringMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "String"}},
        "StringList": {"type": "list", "member": {"shape": "String"}},
        "IntegerList": {"type": "list", "member": {"shape": "Integer"}},
    },
}


def _synthetic() -> tuple[Router, Operation]:
    from botocore.model import ServiceModel

    from openprofiles.api.spec import ServiceSpec, compile_uri

    spec = ServiceSpec(name="synthetic", model=ServiceModel(SYNTHETIC_MODEL, "synthetic"))
    model = spec.model.operation_model("PutThing")
    pattern, literals = compile_uri(model.http["requestUri"])
    op = Operation(spec, "PutThing", model, "PUT", model.http["requestUri"], pattern, literals, 201)
    spec.operations["PutThing"] = op
    return Router({"synthetic": spec}), op


def test_synthetic_locations_round_trip() -> None:
    router, op = _synthetic()
    params = {
        "Name": "a b/c%d",
        "Key": "folder/sub folder/file+1.txt",
        "Since": datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC),
        "Ratio": 0.25,
        "Flag": False,
        "Extra": {"custom": "x&y=z", "other": ""},
        "Count": 2**40,
        "Enabled": False,
        "Modified": datetime(2023, 4, 5, 6, 7, 8, tzinfo=UTC),
        "Labels": ["plain", "with,comma", 'with"quote', "two words"],
        "Sizes": [1, 20, 300],
        "Meta": {"colour": "blue", "size": "10"},
        "Body": "text",
        "Score": -3.5,
    }
    method, raw_path, raw_query, headers, body = _wire(op, params)
    match = router.match("synthetic", method, raw_path)
    assert match is not None
    assert match[1] == {"Name": "a b/c%d", "Key": "folder/sub folder/file+1.txt"}
    assert parse_request(op, match[1], parse_qsl(raw_query, keep_blank_values=True), headers, body) == params


def test_synthetic_output_headers_round_trip() -> None:
    _, op = _synthetic()
    result = {
        "Status": 202,
        "Enabled": True,
        "Disabled": False,
        "Count": 2**40,
        "Ratio": 0.5,
        "Modified": datetime(2023, 4, 5, 6, 7, 8, tzinfo=UTC),
        "Names": ["plain", "two words"],
        "Meta": {"colour": "blue"},
        "Created": datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC),
        "Score": math.inf,
    }
    status, headers, body = serialize_response(op, result)
    assert status == 202
    assert headers["x-enabled"] == "true" and headers["x-disabled"] == "false"
    assert _botocore_parse(op, status, headers, body) == result
    # Items holding a comma or a quote are quoted, as botocore's serializer does for requests.
    _, quoted, _ = serialize_response(op, {"Names": ["a,b", 'c"d', "e"]})
    assert quoted["x-names"] == '"a,b","c\\"d",e'
