"""customer_profiles/handlers_integrations.py: PutIntegration, GetIntegration, ListIntegrations,
DeleteIntegration and ListAccountIntegrations in wire names, called on the provider with a
RequestContext (no server), over AppFlow flows created in process, on both backends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from openprofiles import errors
from openprofiles.app import Runtime, build_runtime
from openprofiles.context import RequestContext
from openprofiles.services.customer_profiles.provider import CustomerProfilesProvider
from openprofiles.settings import Settings
from tests.conftest import ANY_BUCKET, BACKENDS, database_url_for

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ACCOUNT = "000000000000"
FIELDS = {"id": {"Source": "_source.id", "Target": "_profile.AccountNumber"}}
KEYS = {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("handlers-integrations"),
                        database_url=database_url_for(str(request.param), request), aws_resources=(ANY_BUCKET[1],))
    rt = build_runtime(settings)
    yield rt
    rt.close()


def _ctx(operation: str, now: datetime = NOW) -> RequestContext:
    return RequestContext(ACCOUNT, "us-east-1", operation, "r", now)


@pytest.fixture
def domain(provider: CustomerProfilesProvider) -> str:
    name = "d" + uuid.uuid4().hex[:10]
    provider.create_domain(_ctx("CreateDomain"), {"DomainName": name, "DefaultExpirationDays": 30})
    for type_name in ("crm", "leads"):
        provider.put_profile_object_type(_ctx("PutProfileObjectType"), {
            "DomainName": name, "ObjectTypeName": type_name, "Description": "d", "Fields": FIELDS, "Keys": KEYS})
    return name


def _flow(runtime: Runtime, domain: str) -> str:
    """An on-demand S3 flow that delivers to `domain`; its ARN."""
    name = "f" + uuid.uuid4().hex[:10]
    flow = runtime.flows.create(_ctx("CreateFlow"), {
        "flowName": name,
        "triggerConfig": {"triggerType": "OnDemand"},
        "sourceFlowConfig": {"connectorType": "S3", "sourceConnectorProperties": {"S3": {"bucketName": "bkt"}}},
        "destinationFlowConfigList": [{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": domain, "objectTypeName": "crm"}}}],
        "tasks": [{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"S3": "NO_OP"}}],
    })
    return f"arn:aws:appflow:us-east-1:{ACCOUNT}:flow/{flow.name}"


def test_put_and_get(runtime: Runtime, provider: CustomerProfilesProvider, domain: str) -> None:
    uri = _flow(runtime, domain)
    put = provider.put_integration(_ctx("PutIntegration"), {
        "DomainName": domain, "Uri": uri, "ObjectTypeName": "crm", "Tags": {"team": "a"},
        "RoleArn": "arn:aws:iam::000000000000:role/r", "EventTriggerNames": ["t1"]})
    assert put == {
        "DomainName": domain, "Uri": uri, "ObjectTypeName": "crm", "CreatedAt": NOW, "LastUpdatedAt": NOW,
        "Tags": {"team": "a"}, "ObjectTypeNames": None, "WorkflowId": None, "IsUnstructured": False,
        "RoleArn": "arn:aws:iam::000000000000:role/r", "EventTriggerNames": ["t1"],
    }
    assert provider.get_integration(_ctx("GetIntegration"), {"DomainName": domain, "Uri": uri}) == put
    later = NOW + timedelta(minutes=5)
    again = provider.put_integration(_ctx("PutIntegration", later), {"DomainName": domain, "Uri": uri,
                                                                     "ObjectTypeName": "crm"})
    assert (again["CreatedAt"], again["LastUpdatedAt"], again["Tags"]) == (NOW, later, {"team": "a"})


def test_object_type_names_for_event_typed_sources(runtime: Runtime, provider: CustomerProfilesProvider,
                                                   domain: str) -> None:
    uri = _flow(runtime, domain)
    put = provider.put_integration(_ctx("PutIntegration"), {
        "DomainName": domain, "Uri": uri, "ObjectTypeNames": {"Contact": "crm", "Lead": "leads"}})
    assert put["ObjectTypeName"] is None and put["ObjectTypeNames"] == {"Contact": "crm", "Lead": "leads"}
    assert put["Tags"] is None


@pytest.mark.parametrize(("members", "message"), [
    ({"ObjectTypeName": "crm"}, "PutIntegration needs Uri"),
    ({"Uri": "arn:aws:s3:::bucket", "ObjectTypeName": "crm"}, "is not an AppFlow flow ARN"),
    ({"Uri": f"arn:aws:appflow:us-east-1:{ACCOUNT}:flow/none", "ObjectTypeName": "crm"}, "does not exist"),
])
def test_put_refusals(provider: CustomerProfilesProvider, domain: str, members: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.Invalid, match=message):
        provider.put_integration(_ctx("PutIntegration"), {"DomainName": domain, **members})


def test_the_mapping_members_are_alternatives(runtime: Runtime, provider: CustomerProfilesProvider,
                                              domain: str) -> None:
    uri = _flow(runtime, domain)
    with pytest.raises(errors.Invalid, match="ObjectTypeName or ObjectTypeNames, not both"):
        provider.put_integration(_ctx("PutIntegration"), {"DomainName": domain, "Uri": uri, "ObjectTypeName": "crm",
                                                          "ObjectTypeNames": {"Lead": "leads"}})
    with pytest.raises(errors.Invalid, match="needs ObjectTypeName"):
        provider.put_integration(_ctx("PutIntegration"), {"DomainName": domain, "Uri": uri})


def test_list_in_pages_and_across_domains(runtime: Runtime, provider: CustomerProfilesProvider, domain: str) -> None:
    uris = sorted(_flow(runtime, domain) for _ in range(3))
    for uri in uris:
        provider.put_integration(_ctx("PutIntegration"), {"DomainName": domain, "Uri": uri, "ObjectTypeName": "crm"})
    ctx = _ctx("ListIntegrations")
    first = provider.list_integrations(ctx, {"DomainName": domain, "MaxResults": 2, "IncludeHidden": True})
    rest = provider.list_integrations(ctx, {"DomainName": domain, "MaxResults": 2, "IncludeHidden": True,
                                            "NextToken": first["NextToken"]})
    assert [i["Uri"] for i in first["Items"] + rest["Items"]] == uris and rest["NextToken"] is None
    assert all(i["DomainName"] == domain and i["ObjectTypeName"] == "crm" for i in first["Items"])
    account = provider.list_account_integrations(_ctx("ListAccountIntegrations"), {"Uri": uris[0]})
    assert [(i["DomainName"], i["Uri"]) for i in account["Items"]] == [(domain, uris[0])]
    assert account["NextToken"] is None


def test_delete(runtime: Runtime, provider: CustomerProfilesProvider, domain: str) -> None:
    uri = _flow(runtime, domain)
    provider.put_integration(_ctx("PutIntegration"), {"DomainName": domain, "Uri": uri, "ObjectTypeName": "crm"})
    assert provider.delete_integration(_ctx("DeleteIntegration"), {"DomainName": domain, "Uri": uri}) == {
        "Message": f"Integration {uri} was deleted from domain {domain}"}
    with pytest.raises(errors.NotFound):
        provider.get_integration(_ctx("GetIntegration"), {"DomainName": domain, "Uri": uri})
    assert provider.list_account_integrations(_ctx("ListAccountIntegrations"), {"Uri": uri})["Items"] == []
