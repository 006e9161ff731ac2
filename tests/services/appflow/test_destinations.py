"""The port to a flow's destination (destinations.py), as FlowService and FlowRunner rely on it,
checked against the implementation app.py wires (customer_profiles/flow_destination.py) on both
backends: checks of a flow's destination, the integration's mapping, a domain opened for a run
and a batch ingested in one transaction with what the run commits beside it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from openprofiles.app import Runtime, build_runtime
from openprofiles.context import RequestContext
from openprofiles.errors import Invalid, NotFound
from openprofiles.services.appflow.destinations import FlowIntegration, ProfilesDestination
from openprofiles.services.customer_profiles.integrations import IntegrationRequest
from openprofiles.settings import Settings
from openprofiles.storage.store import UnitOfWork

NOW = datetime(2026, 3, 1, tzinfo=UTC)
CTX = RequestContext("000000000000", "us-east-1", "test", "r", NOW)
WHERE = "destinationFlowConfigList.1.destinationConnectorProperties.CustomerProfiles"
PEOPLE = {"Description": "people", "AllowProfileCreation": True,
          "Fields": {"id": {"Source": "_source.id", "Target": "_profile.AccountNumber"}},
          "Keys": {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}}


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """A domain `d` with the object type `people`."""
    runtime = build_runtime(Settings(data_dir=tmp_path / "data", database_url=database_url,
                                     aws_resources=("000000000000=arn:aws:s3:::*",)))
    runtime.domains.create(CTX, "d", default_expiration_days=30, default_encryption_key=None,
                           dead_letter_queue_url=None, settings={}, tags={})
    runtime.object_types.put(runtime.domains.record(CTX, "d"), "people", PEOPLE, NOW)
    yield runtime
    runtime.close()


@pytest.fixture
def port(runtime: Runtime) -> ProfilesDestination:
    return runtime.flows.destination


def test_check_names_the_member_that_is_wrong(port: ProfilesDestination) -> None:
    port.check(CTX, WHERE, {"domainName": "d"})
    port.check(CTX, WHERE, {"domainName": "d", "objectTypeName": "people"})
    port.check(CTX, WHERE, {"domainName": "d", "objectTypeName": "Salesforce-Contact"})  # a template
    with pytest.raises(Invalid, match=f"^{WHERE}.domainName: domain nope does not exist$"):
        port.check(CTX, WHERE, {"domainName": "nope"})
    with pytest.raises(Invalid, match=f"^{WHERE}.objectTypeName: object type nope does not exist in domain d$"):
        port.check(CTX, WHERE, {"domainName": "d", "objectTypeName": "nope"})


def test_integration_is_the_domains_mapping_for_the_flow(runtime: Runtime, port: ProfilesDestination) -> None:
    arn = runtime.flows.create(CTX, {
        "flowName": "f", "triggerConfig": {"triggerType": "OnDemand"},
        "sourceFlowConfig": {"connectorType": "S3", "sourceConnectorProperties": {"S3": {"bucketName": "b"}}},
        "destinationFlowConfigList": [{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": "d"}}}],
        "tasks": [{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"S3": "NO_OP"}}],
    }).arn
    assert port.integration(CTX, "d", arn) is None
    assert port.integration(CTX, "nosuchdomain", arn) is None
    runtime.integrations.put(CTX, "d", IntegrationRequest(uri=arn, object_type_names={"person": "people"}))
    assert port.integration(CTX, "d", arn) == FlowIntegration(None, {"person": "people"})
    other = RequestContext("111111111111", "us-east-1", "test", "r", NOW)
    assert port.integration(other, "d", arn) is None  # another account's domain d does not exist


def test_open_and_resolve(port: ProfilesDestination) -> None:
    with pytest.raises(NotFound):
        port.open(CTX, "nope")
    domain = port.open(CTX, "d")
    domain.resolve("people")
    with pytest.raises(NotFound, match="Object type nope does not exist in domain d"):
        domain.resolve("nope")


def test_a_batch_commits_with_what_the_run_writes_beside_it(runtime: Runtime, port: ProfilesDestination) -> None:
    domain = port.open(CTX, "d")
    seen: list[list[str | None]] = []

    def within(uow: UnitOfWork, rejected: list[str | None]) -> None:
        seen.append(rejected)

    domain.load("people", ['{"id": "1"}', '{"name": "no id"}'], dropped=[('{"x": 1}', "dropped by a task")],
                source="flow-execution:e", performed_by="AppFlow", now=NOW, within=within)
    (rejected,) = seen
    assert rejected[0] is None and rejected[1] is not None and "UNIQUE key" in rejected[1]
    record = runtime.domains.record(CTX, "d")
    with runtime.store.read() as uow:
        assert uow.profiles.count(record.id) == 1
        assert sorted(letter.reason[:17] for letter in uow.dead_letters.page(record.id, None, 10)) == [
            "Object has no val", "dropped by a task"]

    def refuse(uow: UnitOfWork, rejected: list[str | None]) -> None:
        raise LookupError("the run is no longer ours")

    with pytest.raises(LookupError):
        domain.load("people", ['{"id": "2"}'], dropped=[], source="flow-execution:e", performed_by="AppFlow",
                    now=NOW, within=refuse)
    with runtime.store.read() as uow:
        assert uow.profiles.count(record.id) == 1  # the batch was rolled back with it
