"""api/spec.py: both services' models loaded from botocore, each operation's route and success
code, and the facts about each service the protocol layer uses."""

from __future__ import annotations

import pytest

from openprofiles.api.spec import SERVICE_NAMES, all_operations, compile_uri, load_services


def test_both_services_load_with_every_operation() -> None:
    services = load_services()
    assert tuple(services) == SERVICE_NAMES
    assert load_services() is services  # built once per process
    for spec in services.values():
        assert set(spec.operations) == set(spec.model.operation_names)
    assert len(all_operations()) == sum(len(s.operations) for s in services.values())


def test_an_operation_carries_its_route_and_handler_name() -> None:
    op = load_services()["customer-profiles"].operations["PutProfileObjectType"]
    assert (op.method, op.uri, op.success_code) == ("PUT", "/domains/{DomainName}/object-types/{ObjectTypeName}", 200)
    assert op.handler_name == "put_profile_object_type" and op.literal_segments == 2
    match = op.pattern.match("/domains/d1/object-types/crm")
    assert match is not None and match.groupdict() == {"DomainName": "d1", "ObjectTypeName": "crm"}
    assert op.pattern.match("/domains/d1/object-types/crm/") is not None  # a trailing slash is accepted
    assert op.pattern.match("/domains/d1/object-types/a/b") is None


def test_the_service_facts() -> None:
    profiles, appflow = load_services()["customer-profiles"], load_services()["appflow"]
    assert (profiles.signing_name, appflow.signing_name) == ("profile", "appflow")
    assert (profiles.message_member, appflow.message_member) == ("Message", "message")
    assert (profiles.validation_error, appflow.validation_error) == ("BadRequestException", "ValidationException")
    assert profiles.error_status["ResourceNotFoundException"] == 404
    assert appflow.error_status["ConflictException"] == 409


@pytest.mark.parametrize(("uri", "path", "labels", "literals"), [
    ("/things/{Name}", "/things/a%20b", {"Name": "a%20b"}, 1),
    ("/things/{Name}/{Key+}", "/things/n/a/b/c", {"Name": "n", "Key": "a/b/c"}, 1),
    ("/a/b/{X}?list", "/a/b/x", {"X": "x"}, 2),
    ("/", "/", {}, 0),
])
def test_compile_uri(uri: str, path: str, labels: dict[str, str], literals: int) -> None:
    pattern, count = compile_uri(uri)
    match = pattern.match(path)
    assert match is not None and match.groupdict() == labels and count == literals


def test_compile_uri_escapes_literals_and_a_label_is_one_segment() -> None:
    pattern, _ = compile_uri("/v1.0/{Name}")
    assert pattern.match("/v1x0/n") is None
    assert pattern.match("/v1.0/a/b") is None
