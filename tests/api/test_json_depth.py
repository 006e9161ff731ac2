"""JSON nested deeper than `json_depth.MAX_DEPTH` (128 levels) through the real server: the modeled
400 naming the limit (and the member when it is known), never a 500 — in request bodies of both
services, in the JSON that string members hold, and in records pushed to an Event flow.

Deep JSON is written as text here (json.dumps recurses), and requests are serialized by botocore
with a placeholder where the deep value goes, then signed with SigV4 as an SDK would."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openprofiles.api.spec import Operation, load_services
from openprofiles.json_depth import MAX_DEPTH
from tests.api.test_invalid_inputs import RawSender, Reply, _json_path, _set, _targets
from tests.api.test_roundtrip import ValueGenerator
from tests.conftest import BACKENDS, FAKE_VENDOR_HOSTS, LiveServer, live_server
from tests.harness import send, sign_request
from tests.live_flows import create_profile

SERVICES = load_services()
CP, APPFLOW = SERVICES["customer-profiles"], SERVICES["appflow"]
DOMAIN, OBJECT_TYPE = "deepjson", "people"
LIMIT_WORDS = f"{MAX_DEPTH} levels"
PLACEHOLDER = "@@deep@@"

OPERATIONS = [
    CP.operations[name] for name in ("CreateProfile", "UpdateProfile", "PutProfileObjectType", "PutProfileObject",
                                     "DetectProfileObjectType", "CreateSegmentDefinition", "CreateDomain")
] + [APPFLOW.operations[name] for name in ("CreateFlow", "UpdateFlow", "CreateConnectorProfile")]


@pytest.fixture(scope="module")
def files_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("deep-files")


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         files_root: Path) -> Iterator[LiveServer]:
    """A server whose Files connector may read `files_root` (for the Event flow's source), with a
    domain and an object type keyed by e-mail."""
    data_dir = tmp_path_factory.mktemp(f"deep-{request.param}")
    with live_server(request, data_dir, args=(*FAKE_VENDOR_HOSTS, "--files-root", str(files_root))) as server:
        cp = server.client("customer-profiles")
        cp.create_domain(DomainName=DOMAIN, DefaultExpirationDays=30)
        cp.put_profile_object_type(
            DomainName=DOMAIN, ObjectTypeName=OBJECT_TYPE, Description="People", AllowProfileCreation=True,
            Fields={"email": {"Source": "_source.email", "Target": "_profile.EmailAddress",
                              "ContentType": "EMAIL_ADDRESS"}},
            Keys={"email": [{"StandardIdentifiers": ["PROFILE", "UNIQUE"], "FieldNames": ["email"]}]})
        yield server


@pytest.fixture(scope="module")
def sender(live: LiveServer) -> Iterator[RawSender]:
    raw = RawSender(live)
    yield raw
    raw.close()


# --- deep JSON as text --------------------------------------------------------------------------


@dataclass(frozen=True)
class Deep:
    """A JSON text `depth` levels deep: objects and arrays as `kinds`' bits say, with a scalar
    sibling at each level when `siblings`."""

    depth: int
    kinds: int
    siblings: bool
    leaf: str

    @property
    def text(self) -> str:
        opening, closing = [], []
        for level in range(self.depth - (self.leaf in ("{}", "[]"))):
            if self.kinds >> (level % 31) & 1:
                opening.append('{"s":1,"k":' if self.siblings else '{"k":')
                closing.append("}")
            else:
                opening.append("[1," if self.siblings else "[")
                closing.append("]")
        return "".join(opening) + self.leaf + "".join(reversed(closing))


deep_values = st.builds(
    Deep,
    depth=st.one_of(st.integers(0, 2000), st.integers(MAX_DEPTH - 4, MAX_DEPTH + 4),
                    st.sampled_from([1000, 1023, 1024, 1025])),
    kinds=st.integers(0, 2**31 - 1),
    siblings=st.booleans(),
    leaf=st.sampled_from(["1", '"x"', "null", "true", "{}", "[]"]),
).filter(lambda deep: deep.depth >= (deep.leaf in ("{}", "[]")))


# --- where deep JSON goes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """A place for deep JSON in an operation's request: a body member (`path` as the JSON spells
    it), the whole body (empty path), or inside a string member that holds JSON (`in_string`)."""

    op: Operation
    path: tuple[str | int, ...]
    in_string: bool = False

    def __str__(self) -> str:
        return f"{self.op.name}:{'.'.join(map(str, self.path)) or '<body>'}{' (JSON text)' if self.in_string else ''}"

    __repr__ = __str__


def _base(op: Operation) -> dict[str, Any]:
    params: dict[str, Any] = ValueGenerator(max_depth=3, string_length=6).value(op.model.input_shape)
    if op.service is CP and "DomainName" in params:
        params["DomainName"] = DOMAIN
    if "ObjectTypeName" in params:
        params["ObjectTypeName"] = OBJECT_TYPE
    return params


BASES = {op.name: _base(op) for op in OPERATIONS}
POSITIONS = [
    *(Position(op, ()) for op in OPERATIONS),
    *(Position(op, _json_path(op, t.path)) for op in OPERATIONS for t in _targets(op, BASES[op.name])
      if t.location is None),
    Position(CP.operations["PutProfileObject"], ("Object",), in_string=True),
    Position(CP.operations["DetectProfileObjectType"], ("Objects", 0), in_string=True),
]


def _request(sender: RawSender, position: Position, deep: Deep) -> Reply:
    """The operation's base request with the deep value at the position, signed and sent."""
    op = position.op
    request = sender.serializer.serialize_to_request(copy.deepcopy(BASES[op.name]), op.model)
    if not position.path:
        body = deep.text
    else:
        document = json.loads(request["body"] or b"{}")
        _set(document, position.path, PLACEHOLDER)
        if position.in_string:  # a JSON object holding the deep value, as the string's text
            value = json.dumps('{"email": "deep@example.com", "deep": ' + deep.text + "}")
        else:
            value = deep.text
        body = json.dumps(document).replace(json.dumps(PLACEHOLDER), value)
    url = sender.endpoint + request["url_path"]
    return sender.signed(op.service.signing_name, request["method"], url, body.encode(), request["headers"])


def _total_depth(position: Position, deep: Deep) -> int:
    """How deep the request body's JSON is (a string's text does not count)."""
    return len(position.path) + deep.depth if position.path else deep.depth


def _error(op: Operation, reply: Reply) -> tuple[str, str]:
    return reply.headers.get("x-amzn-ErrorType", ""), json.loads(reply.body)[op.service.message_member]


def _assert_limit_named(position: Position, reply: Reply) -> None:
    code, message = _error(position.op, reply)
    assert reply.status == 400, (str(position), reply.status, reply.body[:300])
    expected = "BadRequestException" if position.op.service is CP else "ValidationException"
    assert code == expected and LIMIT_WORDS in message, (str(position), code, message)


# --- tests --------------------------------------------------------------------------------------


def test_positions_reach_every_kind_of_member() -> None:
    kinds = {p.op.name for p in POSITIONS if len(p.path) > 2}
    assert {"CreateFlow", "PutProfileObjectType", "CreateSegmentDefinition"} <= kinds
    assert len(POSITIONS) > 60


@settings(max_examples=50, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(position=st.sampled_from(POSITIONS), deep=deep_values)
def test_nested_json_anywhere_is_never_a_500(sender: RawSender, position: Position, deep: Deep) -> None:
    reply = _request(sender, position, deep)
    assert reply.status < 500 or reply.status == 501, (str(position), deep.depth, reply.status, reply.body[:300])
    if position.in_string:
        if 1 + deep.depth > MAX_DEPTH:
            _assert_limit_named(position, reply)
    elif _total_depth(position, deep) > MAX_DEPTH:
        _assert_limit_named(position, reply)


@pytest.mark.parametrize("position", [p for p in POSITIONS if p.path == ("Attributes",) or p.path == ("tasks",)],
                         ids=str)
def test_the_limit_is_exact_and_names_the_member(sender: RawSender, position: Position) -> None:
    """A body exactly MAX_DEPTH deep is parsed (and fails only on its members' types); one level
    more is refused naming the member and the limit."""
    member = position.path[0]
    at_limit = _request(sender, position, Deep(MAX_DEPTH - 1, 0, False, "1"))
    _, message = _error(position.op, at_limit)
    assert at_limit.status == 400 and LIMIT_WORDS not in message, message
    beyond = _request(sender, position, Deep(MAX_DEPTH, 0, False, "1"))
    _assert_limit_named(position, beyond)
    _, message = _error(position.op, beyond)
    assert message.startswith(f"Value at '{member}.1.1.1.1.1.…' failed to satisfy constraint: "
                              f"Member must not nest objects and arrays more than {MAX_DEPTH} levels deep"), message


@pytest.mark.parametrize("op", [CP.operations["CreateDomain"], APPFLOW.operations["CreateFlow"]], ids=str)
def test_a_body_deeper_than_the_json_decoder_goes_is_a_400(sender: RawSender, op: Operation) -> None:
    for depth in (1000, 1025, 100_000):
        reply = _request(sender, Position(op, ()), Deep(depth, 0, False, "1"))
        _assert_limit_named(Position(op, ()), reply)


def test_a_profile_object_nested_too_deep_is_refused_and_kept_as_a_dead_letter(live: LiveServer) -> None:
    """It was accepted (and at 1000+ levels broke what reads it); now BadRequestException, with the
    object in the dead-letter store like any rejected object."""
    cp = live.client()
    ok = '{"email": "shallow@example.com", "deep": ' + Deep(MAX_DEPTH - 1, 5, True, "1").text + "}"
    assert cp.put_profile_object(DomainName=DOMAIN, ObjectTypeName=OBJECT_TYPE, Object=ok)["ProfileObjectUniqueKey"]
    for depth in (MAX_DEPTH, 1000, 5000):
        text = '{"email": "deep@example.com", "deep": ' + Deep(depth, 5, True, "1").text + "}"
        with pytest.raises(cp.exceptions.BadRequestException) as raised:
            cp.put_profile_object(DomainName=DOMAIN, ObjectTypeName=OBJECT_TYPE, Object=text)
        message = raised.value.response["Error"]["Message"]
        assert f"Object is nested deeper than {MAX_DEPTH} levels" in message and "dead-letter" in message, message


def test_detecting_an_object_type_from_deep_samples_is_a_400(live: LiveServer) -> None:
    """DetectProfileObjectType walked the sample recursively: 1000 levels gave a 500."""
    cp = live.client()
    text = '{"email": "a@example.com", "deep": ' + Deep(1000, 2**31 - 1, False, "1").text + "}"
    with pytest.raises(cp.exceptions.BadRequestException) as raised:
        cp.detect_profile_object_type(DomainName=DOMAIN, Objects=[text])
    assert f"Objects.1 is nested deeper than {MAX_DEPTH} levels" in raised.value.response["Error"]["Message"]


def test_a_map_all_exclusion_list_nested_deep_is_a_validation_exception(live: LiveServer, files_root: Path) -> None:
    """EXCLUDE_SOURCE_FIELDS_LIST is JSON in a string (up to 2048 characters): 1000 nested arrays
    gave a 500 (RecursionError in json.loads)."""
    appflow = live.client("appflow")
    create_profile(appflow, "deepexclusions", "CustomConnector", {"path": str(files_root)}, label="Files")
    with pytest.raises(appflow.exceptions.ValidationException) as raised:
        appflow.create_flow(
            flowName="deepexclusions", triggerConfig={"triggerType": "OnDemand"},
            sourceFlowConfig={"connectorType": "CustomConnector", "connectorProfileName": "deepexclusions",
                              "sourceConnectorProperties": {"CustomConnector": {"entityName": "people.jsonl"}}},
            destinationFlowConfigList=[{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
                "CustomerProfiles": {"domainName": DOMAIN, "objectTypeName": OBJECT_TYPE}}}],
            tasks=[{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"CustomConnector": "NO_OP"},
                    "taskProperties": {"EXCLUDE_SOURCE_FIELDS_LIST": "[" * 1000 + "]" * 1000}}])
    assert "EXCLUDE_SOURCE_FIELDS_LIST must be a JSON list of field names" in raised.value.response["Error"]["Message"]


def test_pushed_event_records_nested_too_deep_are_a_validation_exception(live: LiveServer, files_root: Path) -> None:
    appflow = live.client("appflow")
    create_profile(appflow, "deepevents", "CustomConnector", {"path": str(files_root)},
                   label="Files")
    appflow.create_flow(
        flowName="deepevents", triggerConfig={"triggerType": "Event"},
        sourceFlowConfig={"connectorType": "CustomConnector", "connectorProfileName": "deepevents",
                          "sourceConnectorProperties": {"CustomConnector": {"entityName": "contacts"}}},
        destinationFlowConfigList=[{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": DOMAIN, "objectTypeName": OBJECT_TYPE}}}],
        tasks=[{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"CustomConnector": "NO_OP"}}])
    appflow.start_flow(flowName="deepevents")
    url = f"{live.endpoint}/_openprofiles/flows/deepevents/events"
    good = '{"email": "ok@example.com"}'
    deep = '{"email": "deep@example.com", "deep": ' + Deep(1000, 3, False, "1").text + "}"
    bodies = {
        "object": deep,
        "array": f"[{good},{deep}]",
        "lines": f"{good}\n{deep}\n",
        "beyond the decoder": Deep(5000, 0, False, "1").text,
    }
    for form, body in bodies.items():
        response = send(sign_request(live.creds, "POST", url, service="appflow", body=body.encode(),
                                     headers={"Content-Type": "application/json"}))
        assert response.status_code == 400, (form, response.text)
        assert response.headers["x-amzn-ErrorType"] == "ValidationException"
        assert LIMIT_WORDS in response.json()["message"], (form, response.text)
    accepted = send(sign_request(live.creds, "POST", url, service="appflow", body=good.encode(),
                                 headers={"Content-Type": "application/json"}))
    assert accepted.status_code == 202, accepted.text


def test_the_server_log_shows_no_recursion_error(live: LiveServer) -> None:
    """Runs last in this module: nothing above reached an internal error."""
    log = (live.server.data_dir / f"server-{live.server.port}.log").read_text()
    assert "RecursionError" not in log and "internal error" not in log, log[-3000:]

