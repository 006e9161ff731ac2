"""Invalid input over real HTTP: always a 4xx validation error naming the member, never a 500.

Each example takes a valid request for an operation (from the deterministic `ValueGenerator`)
and corrupts one thing: a required member dropped, a string too long, too short, breaking its
pattern or its enum, a number out of range, a collection too large or too small, a JSON value of
the wrong type, a query-string number that is not one, or a body that is not a JSON object.
Value corruptions go through boto3 with client-side validation turned off; type and byte
corruptions are sent with httpx, signed with SigV4 like any SDK request. Validation comes before
the not-implemented check, so unimplemented operations must answer 400 here too.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import botocore.serialize
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError
from botocore.model import Shape, StructureShape
from botocore.utils import percent_encode_sequence
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openprofiles.api.spec import Operation, load_services
from openprofiles.api.validator import _compiled
from tests.api.test_roundtrip import ValueGenerator
from tests.conftest import LiveServer

SERVICES = load_services()

OPERATION_NAMES = {
    "customer-profiles": [
        "CreateDomain",
        "UpdateDomain",
        "GetDomain",
        "DeleteDomain",
        "ListDomains",
        "SearchProfiles",
        "PutProfileObject",
        "PutProfileObjectType",
        "CreateSegmentDefinition",
        "TagResource",
        "UntagResource",
        "ListTagsForResource",
    ],
    "appflow": [
        "CreateFlow",
        "DescribeFlow",
        "CreateConnectorProfile",
        "ListFlows",
        "StartFlow",
        "TagResource",
        "UntagResource",
    ],
}
OPERATIONS = [SERVICES[service].operations[name] for service, names in OPERATION_NAMES.items() for name in names]


def _key(op: Operation) -> str:
    return f"{op.service.name}:{op.name}"


BY_KEY = {_key(op): op for op in OPERATIONS}

EXAMPLES = 25
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)

#: Strings that break most patterns; the first ones that break a given pattern back up
#: hypothesis-drawn text that happens to satisfy it.
BREAKERS = ["!", " ", "a b", "\n", "é", "😀", "aws:x", "$%^", "<x>", "a\x00b", "-", "/", "x" * 3, "0", ""]
QUERY_NOT_INTEGER = ["abc", "1_0", "١٢", " 7", "7 ", "1.5", "", "0x10", "1e3", "+-1", "9" * 30, "NaN", "true"]
QUERY_NOT_BOOLEAN = ["yes", "1", "0", "", "t", "truth", "null"]
NOT_JSON_OBJECTS = [b"[]", b'"text"', b"1", b"true", b"[{}]", b"{" * 3, b"\xff\xfe{}", b"[" * 5000 + b"]" * 5000]

Path = tuple[str | int, ...]


# --- what to corrupt ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A member of the request, reached through `path` (member names, list indexes, map keys)."""

    path: Path
    shape: Shape
    location: str | None  # of the top-level member: "uri", "querystring" or None for the body
    required: bool
    wire: str  # the top-level member's name on the wire

    def validator_path(self) -> str:
        """How error messages name this member: `Matching.JobSchedule.Time`, `Tags.1` (list
        positions count from 1), `Tags.team` (map entries by key)."""
        return ".".join(str(step + 1) if isinstance(step, int) else step for step in self.path)


def _targets(op: Operation, params: dict[str, Any]) -> list[Target]:
    shape = op.model.input_shape
    assert isinstance(shape, StructureShape)
    found: list[Target] = []

    def walk(shape: Shape, value: Any, path: Path, location: str | None, wire: str) -> None:
        if shape.type_name == "structure":
            assert isinstance(shape, StructureShape)
            required = set(shape.required_members)
            for name, member in shape.members.items():
                if name not in value:
                    continue
                loc = member.serialization.get("location") if not path else location
                top_wire = member.serialization.get("name", name) if not path else wire
                found.append(Target((*path, name), member, loc, name in required, top_wire))
                walk(member, value[name], (*path, name), loc, top_wire)
        elif shape.type_name in ("list", "map") and value:
            step = 0 if shape.type_name == "list" else next(iter(value))
            item = shape.member if shape.type_name == "list" else shape.value  # type: ignore[attr-defined]
            found.append(Target((*path, step), item, location, False, wire))
            walk(item, value[step], (*path, step), location, wire)

    walk(shape, params, (), None, "")
    return found


def _get(params: Any, path: Path) -> Any:
    for step in path:
        params = params[step]
    return params


def _set(params: Any, path: Path, value: Any) -> None:
    _get(params, path[:-1])[path[-1]] = value


def _delete(params: Any, path: Path) -> None:
    del _get(params, path[:-1])[path[-1]]


def _json_path(op: Operation, path: Path) -> Path:
    """The same path with member names as the JSON body spells them."""
    shape: Shape = op.model.input_shape
    out: list[str | int] = []
    for step in path:
        if shape.type_name == "structure":
            assert isinstance(shape, StructureShape) and isinstance(step, str)
            member = shape.members[step]
            out.append(member.serialization.get("name", step))
            shape = member
        elif shape.type_name == "list":
            out.append(step)
            shape = shape.member  # type: ignore[attr-defined]
        else:
            out.append(step)
            shape = shape.value  # type: ignore[attr-defined]
    return tuple(out)


# --- corruptions ----------------------------------------------------------------------------------


@dataclass
class Corruption:
    """A broken request: either parameters for boto3, or changes to the botocore-serialized
    request (`json_changes` on the body document, `query_changes`, or a whole new `body`)."""

    kind: str
    params: dict[str, Any]
    expect_path: str | None
    via_boto3: bool = True
    json_changes: list[tuple[Path, Any]] | None = None
    query_changes: dict[str, str] | None = None
    body: bytes | None = None


def _label_safe(text: str) -> bool:
    """Whether a path label can carry this text: not empty, not a dot segment, and no newline
    (see `test_newline_in_path_label_is_a_validation_error`)."""
    return text.strip(".") != "" and "\n" not in text


def _breakers(compiled: re.Pattern[str], label: bool) -> list[str]:
    return [text for text in BREAKERS if not compiled.search(text) and (not label or _label_safe(text))]


def _string_options(target: Target, base: str) -> Iterator[tuple[str, st.SearchStrategy[str]]]:
    meta = target.shape.metadata
    label = target.location == "uri"
    char = base[:1] or "a"
    if "max" in meta and meta["max"] <= 300_000:
        yield "too long", st.integers(1, 5).map(lambda k: char * (meta["max"] + k))
    if meta.get("min", 0) >= (2 if label else 1):
        yield "too short", st.just(base[: meta["min"] - 1])
    if "pattern" in meta:
        compiled = _compiled(meta["pattern"])
        assert compiled is not None
        fallbacks = _breakers(compiled, label)
        if fallbacks:

            def breaking(text: str, compiled: re.Pattern[str] = compiled, fallbacks: list[str] = fallbacks) -> str:
                if compiled.search(text) or (label and not _label_safe(text)):
                    return fallbacks[len(text) % len(fallbacks)]
                return text

            yield "pattern", st.text(max_size=40).map(breaking)
    if "enum" in meta:
        enum = set(meta["enum"])
        yield (
            "enum",
            st.text(min_size=1, max_size=20).map(
                lambda t: t if t not in enum and (not label or _label_safe(t)) else "NOT_" + t.replace("\n", "")
            ),
        )


def _number_options(target: Target) -> Iterator[tuple[str, st.SearchStrategy[Any]]]:
    meta = target.shape.metadata
    if target.shape.type_name in ("double", "float"):
        if "min" in meta:
            yield "below min", st.floats(max_value=meta["min"], exclude_max=True) | st.just(math.nan)
        if "max" in meta:
            yield "above max", st.floats(min_value=meta["max"], exclude_min=True) | st.just(math.inf)
        return
    bits = 31 if target.shape.type_name == "integer" else 63
    if "min" in meta:
        yield "below min", st.integers(-(2**bits), meta["min"] - 1)
    if "max" in meta:
        yield "above max", st.integers(meta["max"] + 1, 2**64)
    yield "out of type range", st.sampled_from([2**bits, -(2**bits) - 1, 2**bits + 12345])


def _collection_options(target: Target, base: Any) -> Iterator[tuple[str, st.SearchStrategy[Any]]]:
    meta = target.shape.metadata
    if target.shape.type_name == "list":
        item = base[0]
        if "max" in meta and meta["max"] <= 2000:
            yield "too many items", st.integers(1, 3).map(lambda k: [item] * (meta["max"] + k))
        if meta.get("min", 0) >= 1:
            yield "too few items", st.just([item] * (meta["min"] - 1))
    else:
        key, value = next(iter(base.items()))
        if "max" in meta and meta["max"] <= 2000:
            yield (
                "too many entries",
                st.integers(1, 3).map(lambda k: {**base, **{f"{key}{i}": value for i in range(meta["max"] + k)}}),
            )
        if meta.get("min", 0) >= 1:
            yield "too few entries", st.just(dict(list(base.items())[: meta["min"] - 1]))


def _wrong_json(shape: Shape) -> st.SearchStrategy[Any]:
    """JSON values of any type but the shape's."""
    kind = shape.type_name
    text = st.text(max_size=10)
    number = st.integers(-1000, 1000)
    options: list[st.SearchStrategy[Any]] = []
    if kind != "string":
        options.append(text.filter(lambda t: t not in ("NaN", "Infinity", "-Infinity")))
    if kind not in ("integer", "long", "double", "float", "timestamp"):
        options.append(number)
    if kind in ("integer", "long"):
        options.append(st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()))
    if kind != "boolean":
        options.append(st.booleans())
    if kind != "list":
        options.append(st.lists(number, max_size=2))
    if kind not in ("structure", "map"):
        options.append(st.dictionaries(st.text(max_size=3), number, max_size=2))
    return st.one_of(options)


def _options(op: Operation, base: dict[str, Any]) -> list[tuple[str, Target | None, st.SearchStrategy[Any]]]:
    """Every (kind, target, value strategy) that breaks this operation's valid request."""
    options: list[tuple[str, Target | None, st.SearchStrategy[Any]]] = []
    has_body = False
    for target in _targets(op, base):
        value = _get(base, target.path)
        kind = target.shape.type_name
        if target.location is None:
            has_body = True
        if target.required and target.location != "uri":
            options.append(("drop required", target, st.none()))
        if kind == "string":
            options.extend((name, target, strategy) for name, strategy in _string_options(target, value))
        elif kind in ("integer", "long", "double", "float"):
            options.extend((name, target, strategy) for name, strategy in _number_options(target))
        elif kind in ("list", "map"):
            options.extend((name, target, strategy) for name, strategy in _collection_options(target, value))
        elif kind == "structure" and target.shape.metadata.get("union"):
            members = target.shape.members  # type: ignore[attr-defined]
            options.append(("union with no member", target, st.just({})))
            both = {
                name: value[name] if name in value else ValueGenerator(max_depth=1).value(member)
                for name, member in list(members.items())[:2]
            }
            options.append(("union with two members", target, st.just(both)))
        if target.location is None:
            options.append(("wrong JSON type", target, _wrong_json(target.shape)))
            if target.required:
                options.append(("null required", target, st.none()))
        elif target.location == "querystring" and kind in ("integer", "long", "boolean"):
            words = QUERY_NOT_BOOLEAN if kind == "boolean" else QUERY_NOT_INTEGER
            options.append(("query not a number", target, st.sampled_from(words)))
    if has_body:
        garbage = st.binary(max_size=64).map(lambda b: b if not _is_json(b) else b"{" + b)
        options.append(("not a JSON object", None, st.sampled_from(NOT_JSON_OBJECTS) | garbage))
    return options


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return not body.strip()  # blank is no body at all, not a broken one
    return True


@st.composite
def corruptions(draw: st.DrawFn, op: Operation) -> Corruption:
    base = BASES[_key(op)]
    kind, target, strategy = draw(st.sampled_from(OPTIONS[_key(op)]))
    bad = draw(strategy)
    params = copy.deepcopy(base)
    if target is None:
        return Corruption(kind, params, None, via_boto3=False, body=bad)
    expect = target.validator_path()
    if kind == "drop required":
        _delete(params, target.path)
        return Corruption(kind, params, expect)
    if kind == "wrong JSON type" or kind == "null required":
        return Corruption(kind, params, expect, via_boto3=False, json_changes=[(_json_path(op, target.path), bad)])
    if kind == "query not a number":
        return Corruption(kind, params, expect, via_boto3=False, query_changes={target.wire: bad})
    _set(params, target.path, bad)
    return Corruption(kind, params, expect)


#: Deep enough to reach the union `Dimension` inside segment groups.
DEPTHS = {"customer-profiles:CreateSegmentDefinition": 7}
BASES = {
    _key(op): ValueGenerator(max_depth=DEPTHS.get(_key(op), 4), string_length=6).value(op.model.input_shape)
    for op in OPERATIONS
}
OPTIONS = {_key(op): _options(op, BASES[_key(op)]) for op in OPERATIONS}


# --- sending --------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes


class Boto3Sender:
    """boto3 clients without client-side validation, keeping the raw HTTP response."""

    def __init__(self, live: LiveServer) -> None:
        self.clients = {name: live.client(name, parameter_validation=False) for name in SERVICES}
        self.last: Any = None
        for client in self.clients.values():
            client.meta.events.register("after-call", self._keep)

    def _keep(self, http_response: Any, **_: Any) -> None:
        self.last = http_response

    def send(self, op: Operation, params: dict[str, Any]) -> Reply:
        self.last = None
        with contextlib.suppress(ClientError):  # the error is read from the raw response
            getattr(self.clients[op.service.name], op.handler_name)(**params)
        assert self.last is not None, "no HTTP response was received"
        return Reply(self.last.status_code, self.last.headers, self.last.content)


class RawSender:
    """Requests as botocore serializes them, altered, then signed with SigV4 and sent by httpx."""

    def __init__(self, live: LiveServer) -> None:
        self.endpoint = live.endpoint
        self.credentials = BotoCredentials(live.creds.access_key_id, live.creds.secret_access_key)
        self.http = httpx.Client(timeout=30)
        self.serializer = botocore.serialize.create_serializer("rest-json", include_validation=False)

    def send(self, op: Operation, corruption: Corruption) -> Reply:
        request = self.serializer.serialize_to_request(corruption.params, op.model)
        body: bytes = request["body"] or b""
        if corruption.json_changes is not None:
            document = json.loads(body or b"{}")
            for path, value in corruption.json_changes:
                _set(document, path, value)
            body = json.dumps(document).encode()
        if corruption.body is not None:
            body = corruption.body
        query = dict(request["query_string"])
        query.update(corruption.query_changes or {})
        url = self.endpoint + request["url_path"]
        if query:
            url += "?" + percent_encode_sequence(query)
        return self.signed(op.service.signing_name, request["method"], url, body, request["headers"])

    def signed(self, signing_name: str, method: str, url: str, body: bytes, headers: dict[str, str]) -> Reply:
        aws = AWSRequest(method=method, url=url, data=body, headers={**headers, "Content-Type": "application/json"})
        SigV4Auth(self.credentials, signing_name, "us-east-1").add_auth(aws)
        # httpx must not re-encode what was signed: hand it the raw path and query.
        split = urlsplit(url)
        raw = split.path + ("?" + split.query if split.query else "")
        response = self.http.request(
            method,
            httpx.URL(self.endpoint).copy_with(raw_path=raw.encode()),
            content=body,
            headers=dict(aws.headers.items()),
        )
        return Reply(response.status_code, response.headers, response.content)

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="module")
def senders(live: LiveServer) -> Iterator[tuple[Boto3Sender, RawSender]]:
    raw = RawSender(live)
    yield Boto3Sender(live), raw
    raw.close()


def _assert_validation_error(op: Operation, reply: Reply, corruption: Corruption) -> None:
    described = f"{op.service.name}:{op.name} {corruption.kind} -> {reply.status} {reply.body[:300]!r}"
    assert reply.status == 400, described
    assert reply.headers["x-amzn-ErrorType"] == op.service.validation_error, described
    document = json.loads(reply.body)
    message = document[op.service.message_member]
    assert isinstance(message, str) and message, described
    if corruption.expect_path is not None:
        assert f"'{corruption.expect_path}'" in message, described


# --- tests ------------------------------------------------------------------------------------------


def test_operations_cover_both_services() -> None:
    assert {op.service.name for op in OPERATIONS} == set(SERVICES)
    assert len(OPERATIONS) >= 12
    for op in OPERATIONS:
        kinds = {kind for kind, _, _ in OPTIONS[_key(op)]}
        assert len(kinds) >= 2, (op.name, kinds)


@pytest.mark.parametrize("key", list(BY_KEY))
def test_valid_request_passes_validation(senders: tuple[Boto3Sender, RawSender], key: str) -> None:
    """The uncorrupted request is not a validation error: whatever breaks below, the corruption did."""
    op = BY_KEY[key]
    boto3_sender, raw_sender = senders
    base = BASES[key]
    for reply in (boto3_sender.send(op, base), raw_sender.send(op, Corruption("none", base, None, via_boto3=False))):
        assert reply.status < 500 or reply.status == 501, reply.body
        if reply.status >= 400:
            message = json.loads(reply.body)[op.service.message_member]
            assert "failed to satisfy constraint" not in message, message


@pytest.mark.parametrize("key", list(BY_KEY))
@SETTINGS
@given(data=st.data())
def test_invalid_input_is_a_validation_error(
    senders: tuple[Boto3Sender, RawSender], key: str, data: st.DataObject
) -> None:
    op = BY_KEY[key]
    corruption = data.draw(corruptions(op), label="corruption")
    boto3_sender, raw_sender = senders
    reply = boto3_sender.send(op, corruption.params) if corruption.via_boto3 else raw_sender.send(op, corruption)
    _assert_validation_error(op, reply, corruption)


@pytest.mark.parametrize("service", list(SERVICES))
def test_garbage_to_every_body_operation_is_400(senders: tuple[Boto3Sender, RawSender], service: str) -> None:
    """Every operation of both services that takes a JSON body rejects bytes that are not JSON,
    implemented or not."""
    _, raw_sender = senders
    checked = 0
    for op in SERVICES[service].operations.values():
        shape = op.model.input_shape
        if shape is None or not any(m.serialization.get("location") is None for m in shape.members.values()):
            continue
        params = ValueGenerator(max_depth=0, string_length=4).value(shape)
        corruption = Corruption("garbage", params, None, via_boto3=False, body=b"\x00{garbage")
        _assert_validation_error(op, raw_sender.send(op, corruption), corruption)
        checked += 1
    assert checked > 10


def test_corruption_kinds_are_exercised() -> None:
    """Sanity of the strategy table: the kinds the module promises exist somewhere."""
    kinds = {kind for options in OPTIONS.values() for kind, _, _ in options}
    expected = {
        "drop required",
        "too long",
        "too short",
        "pattern",
        "enum",
        "below min",
        "above max",
        "out of type range",
        "too many items",
        "too few items",
        "wrong JSON type",
        "null required",
        "query not a number",
        "not a JSON object",
        "union with no member",
        "union with two members",
    }
    assert expected <= kinds, expected - kinds


def test_newline_in_path_label_is_a_validation_error(senders: tuple[Boto3Sender, RawSender]) -> None:
    boto3_sender, _ = senders
    op = SERVICES["customer-profiles"].operations["GetDomain"]
    corruption = Corruption("pattern", {"DomainName": "bad\nname"}, "DomainName")
    _assert_validation_error(op, boto3_sender.send(op, corruption.params), corruption)


@pytest.mark.parametrize(
    ("params", "member"),
    [
        (
            {"DomainName": "nulurl", "DefaultExpirationDays": 5, "DeadLetterQueueUrl": "https://x\x00y"},
            "DeadLetterQueueUrl",
        ),
        ({"DomainName": "nultag", "DefaultExpirationDays": 5, "Tags": {"k": "v\x00"}}, "Tags.k"),
        ({"DomainName": "nulkey", "DefaultExpirationDays": 5, "Tags": {"k\x00": "v"}}, "Tags.key"),
    ],
    ids=["string", "map value", "map key"],
)
def test_nul_character_is_a_validation_error(
    senders: tuple[Boto3Sender, RawSender], params: dict[str, Any], member: str
) -> None:
    """U+0000 satisfies these members' constraints but PostgreSQL text cannot hold it: it used to
    reach storage and answer 500 there (and be stored on SQLite). Both backends now refuse it."""
    boto3_sender, _ = senders
    op = SERVICES["customer-profiles"].operations["CreateDomain"]
    corruption = Corruption("NUL", params, member)
    _assert_validation_error(op, boto3_sender.send(op, params), corruption)


def test_oversized_appflow_body_is_a_validation_exception(senders: tuple[Boto3Sender, RawSender]) -> None:
    _, raw_sender = senders
    op = SERVICES["appflow"].operations["CreateFlow"]
    body = b'{"flowName": "' + b"x" * (9 * 1024 * 1024) + b'"}'
    reply = raw_sender.signed("appflow", "POST", raw_sender.endpoint + "/create-flow", body, {})
    _assert_validation_error(op, reply, Corruption("oversized body", {}, None, via_boto3=False))


def _with(key: str, path: Path, value: Any) -> dict[str, Any]:
    params: dict[str, Any] = copy.deepcopy(BASES[key])
    _set(params, path, value)
    return params


MATCHING_SCORE: Path = ("Matching", "AutoMerging", "MinAllowedConfidenceScoreForMerging")
DIMENSION: Path = ("SegmentGroups", "Groups", 0, "Dimensions", 0)

#: Inputs each of which was once accepted (or failed with a 500) and is now a validation error:
#: (operation, corruption), sent with boto3 unless the corruption says otherwise.
REGRESSIONS = {
    "integer beyond 32 bits": (
        "customer-profiles:PutProfileObjectType",
        Corruption(
            "range",
            _with("customer-profiles:PutProfileObjectType", ("MaxProfileObjectCount",), 2**31),
            "MaxProfileObjectCount",
        ),
    ),
    "long beyond 64 bits in the query": (
        "customer-profiles:ListDomains",
        Corruption(
            "range",
            BASES["customer-profiles:ListDomains"],
            "MaxResults",
            via_boto3=False,
            query_changes={"max-results": str(2**64)},
        ),
    ),
    "query integer with underscore": (
        "customer-profiles:ListDomains",
        Corruption(
            "type",
            BASES["customer-profiles:ListDomains"],
            "MaxResults",
            via_boto3=False,
            query_changes={"max-results": "1_0"},
        ),
    ),
    "query integer with blanks": (
        "customer-profiles:ListDomains",
        Corruption(
            "type",
            BASES["customer-profiles:ListDomains"],
            "MaxResults",
            via_boto3=False,
            query_changes={"max-results": " 7 "},
        ),
    ),
    "JSON string for an AppFlow integer": (
        "appflow:ListFlows",
        Corruption(
            "type", BASES["appflow:ListFlows"], "maxResults", via_boto3=False, json_changes=[(("maxResults",), "7")]
        ),
    ),
    "NaN against a range": (
        "customer-profiles:CreateDomain",
        Corruption(
            "range",
            _with("customer-profiles:CreateDomain", MATCHING_SCORE, math.nan),
            "Matching.AutoMerging.MinAllowedConfidenceScoreForMerging",
        ),
    ),
    "Infinity against a range": (
        "customer-profiles:CreateDomain",
        Corruption(
            "range",
            _with("customer-profiles:CreateDomain", MATCHING_SCORE, math.inf),
            "Matching.AutoMerging.MinAllowedConfidenceScoreForMerging",
        ),
    ),
    "union with no member": (
        "customer-profiles:CreateSegmentDefinition",
        Corruption(
            "union",
            _with("customer-profiles:CreateSegmentDefinition", DIMENSION, {}),
            "SegmentGroups.Groups.1.Dimensions.1",
        ),
    ),
}


@pytest.mark.parametrize("case", list(REGRESSIONS))
def test_regression(senders: tuple[Boto3Sender, RawSender], case: str) -> None:
    key, corruption = REGRESSIONS[case]
    op = BY_KEY[key]
    boto3_sender, raw_sender = senders
    reply = boto3_sender.send(op, corruption.params) if corruption.via_boto3 else raw_sender.send(op, corruption)
    _assert_validation_error(op, reply, corruption)
