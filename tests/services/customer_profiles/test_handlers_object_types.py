"""customer_profiles/handlers_object_types.py: object type, template, detection and attribute operations
in wire names, called on the provider with a RequestContext (no server), on both backends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from openprofiles import errors
from openprofiles.context import RequestContext
from openprofiles.services.customer_profiles.object_type_templates import list_templates
from openprofiles.services.customer_profiles.provider import CustomerProfilesProvider

NOW = datetime(2026, 1, 1, tzinfo=UTC)
FIELDS = {
    "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
    "name": {"Source": "_source.name", "Target": "_profile.FirstName"},
}
KEYS = {"crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}


def _ctx(operation: str, now: datetime = NOW) -> RequestContext:
    return RequestContext("000000000000", "us-east-1", operation, "r", now)


@pytest.fixture
def domain(provider: CustomerProfilesProvider) -> str:
    name = "d" + uuid.uuid4().hex[:10]
    provider.create_domain(_ctx("CreateDomain"), {"DomainName": name, "DefaultExpirationDays": 30})
    return name


def _put(provider: CustomerProfilesProvider, domain: str, name: str, **members: object) -> dict[str, object]:
    return provider.put_profile_object_type(_ctx("PutProfileObjectType"), {
        "DomainName": domain, "ObjectTypeName": name, "Description": f"type {name}", "Fields": FIELDS, "Keys": KEYS,
        **members})


def test_put_get_and_delete(provider: CustomerProfilesProvider, domain: str) -> None:
    put = _put(provider, domain, "crm", Tags={"team": "a"}, MaxProfileObjectCount=3)
    assert put["ObjectTypeName"] == "crm" and put["Fields"] == FIELDS and put["Keys"] == KEYS
    assert put["Tags"] == {"team": "a"} and put["AllowProfileCreation"] is False
    assert put["MaxProfileObjectCount"] == put["MaxAvailableProfileObjectCount"] == 3
    got = provider.get_profile_object_type(_ctx("GetProfileObjectType"), {"DomainName": domain,
                                                                          "ObjectTypeName": "crm"})
    assert got == put
    assert provider.delete_profile_object_type(_ctx("DeleteProfileObjectType"), {
        "DomainName": domain, "ObjectTypeName": "crm"}) == {"Message": "Object type crm was deleted"}
    with pytest.raises(errors.NotFound):
        provider.get_profile_object_type(_ctx("GetProfileObjectType"), {"DomainName": domain, "ObjectTypeName": "crm"})


def test_an_unknown_domain_is_not_found(provider: CustomerProfilesProvider) -> None:
    with pytest.raises(errors.NotFound, match="Domain nope does not exist"):
        _put(provider, "nope", "crm")
    with pytest.raises(errors.NotFound, match="Domain nope does not exist"):
        provider.detect_profile_object_type(_ctx("DetectProfileObjectType"), {"DomainName": "nope",
                                                                              "Objects": ['{"id": "1"}']})


def test_list_pages_and_shows_the_summary_members(provider: CustomerProfilesProvider, domain: str) -> None:
    for name in ("b", "a", "c"):
        _put(provider, domain, name, SourcePriority=2)
    ctx = _ctx("ListProfileObjectTypes")
    first = provider.list_profile_object_types(ctx, {"DomainName": domain, "MaxResults": 2})
    assert [i["ObjectTypeName"] for i in first["Items"]] == ["a", "b"]
    assert set(first["Items"][0]) == {"ObjectTypeName", "Description", "CreatedAt", "LastUpdatedAt",
                                      "MaxProfileObjectCount", "MaxAvailableProfileObjectCount", "SourcePriority",
                                      "Tags"}
    assert first["Items"][0]["Description"] == "type a" and first["Items"][0]["SourcePriority"] == 2
    rest = provider.list_profile_object_types(ctx, {"DomainName": domain, "MaxResults": 2,
                                                    "NextToken": first["NextToken"]})
    assert [i["ObjectTypeName"] for i in rest["Items"]] == ["c"] and rest["NextToken"] is None


def test_templates_list_in_pages_and_get(provider: CustomerProfilesProvider) -> None:
    ctx = _ctx("ListProfileObjectTypeTemplates")
    seen: list[str] = []
    params: dict[str, object] = {"MaxResults": 5}
    while True:
        page = provider.list_profile_object_type_templates(ctx, params)
        seen += [i["TemplateId"] for i in page["Items"]]
        if page["NextToken"] is None:
            break
        params = {"MaxResults": 5, "NextToken": page["NextToken"]}
    assert seen == [t.template_id for t in list_templates()]
    first = provider.list_profile_object_type_templates(ctx, {"MaxResults": 1})["Items"][0]
    template = list_templates()[0]
    assert first == {"TemplateId": template.template_id, "SourceName": template.source_name,
                     "SourceObject": template.source_object}
    got = provider.get_profile_object_type_template(_ctx("GetProfileObjectTypeTemplate"),
                                                    {"TemplateId": template.template_id})
    assert got == template.as_response()
    with pytest.raises(errors.NotFound, match="Template Nope-x does not exist"):
        provider.get_profile_object_type_template(_ctx("GetProfileObjectTypeTemplate"), {"TemplateId": "Nope-x"})


def test_detect(provider: CustomerProfilesProvider, domain: str) -> None:
    body = provider.detect_profile_object_type(_ctx("DetectProfileObjectType"), {
        "DomainName": domain, "Objects": ['{"id": "1", "email": "a@x.com"}', '{"id": "2", "email": "b@x.com"}']})
    (detected,) = body["DetectedProfileObjectTypes"]
    assert detected["Fields"]["email"]["ContentType"] == "EMAIL_ADDRESS"
    assert "UNIQUE" in detected["Keys"]["_id"][0]["StandardIdentifiers"]


def test_attributes_are_the_field_names_in_pages(provider: CustomerProfilesProvider, domain: str) -> None:
    later = NOW + timedelta(hours=1)
    provider.put_profile_object_type(_ctx("PutProfileObjectType", later), {
        "DomainName": domain, "ObjectTypeName": "crm", "Description": "d", "Fields": FIELDS, "Keys": KEYS})
    ctx = _ctx("ListObjectTypeAttributes")
    params = {"DomainName": domain, "ObjectTypeName": "crm", "MaxResults": 2}
    first = provider.list_object_type_attributes(ctx, params)
    assert first["Items"] == [{"AttributeName": "email", "LastUpdatedAt": later},
                              {"AttributeName": "id", "LastUpdatedAt": later}]
    rest = provider.list_object_type_attributes(ctx, {**params, "NextToken": first["NextToken"]})
    assert [i["AttributeName"] for i in rest["Items"]] == ["name"] and rest["NextToken"] is None
    with pytest.raises(errors.NotFound):
        provider.list_object_type_attributes(ctx, {"DomainName": domain, "ObjectTypeName": "nope"})
