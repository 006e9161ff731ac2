"""customer_profiles/handlers_profiles.py: profile, object, key, search and history operations in wire
names, called on the provider with a RequestContext (no server), on both backends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from openprofiles import errors
from openprofiles.context import RequestContext
from openprofiles.services.customer_profiles.provider import CustomerProfilesProvider

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ACCOUNT = "000000000000"
FIELDS = {
    "id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
    "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
}
KEYS = {
    "crmId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}],
    "mail": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}],
}


def _ctx(operation: str) -> RequestContext:
    return RequestContext(ACCOUNT, "us-east-1", operation, "r", NOW)


@pytest.fixture
def domain(provider: CustomerProfilesProvider) -> str:
    """A domain with object types `crm` (creates profiles) and `strict` (does not)."""
    name = "d" + uuid.uuid4().hex[:10]
    provider.create_domain(_ctx("CreateDomain"), {"DomainName": name, "DefaultExpirationDays": 30})
    for type_name, allow in (("crm", True), ("strict", False)):
        provider.put_profile_object_type(_ctx("PutProfileObjectType"), {
            "DomainName": name, "ObjectTypeName": type_name, "Description": "d", "AllowProfileCreation": allow,
            "Fields": FIELDS, "Keys": KEYS})
    return name


def _put_object(provider: CustomerProfilesProvider, domain: str, obj: dict[str, str], type_name: str = "crm") -> str:
    body = provider.put_profile_object(_ctx("PutProfileObject"), {
        "DomainName": domain, "ObjectTypeName": type_name, "Object": orjson.dumps(obj).decode()})
    return str(body["ProfileObjectUniqueKey"])


def _profile_of(provider: CustomerProfilesProvider, domain: str, crm_id: str) -> str:
    items = provider.search_profiles(_ctx("SearchProfiles"), {"DomainName": domain, "KeyName": "crmId",
                                                              "Values": [crm_id]})["Items"]
    return str(items[0]["ProfileId"])


def test_put_profile_object_and_its_refusal(provider: CustomerProfilesProvider, domain: str) -> None:
    key = _put_object(provider, domain, {"id": "1", "email": "a@x.com"})
    assert key
    assert _put_object(provider, domain, {"id": "1", "email": "a@x.com"}) == key  # the same object again
    with pytest.raises(errors.Invalid, match=r"AllowProfileCreation false \(kept in the dead-letter store\)"):
        _put_object(provider, domain, {"id": "2", "email": "b@x.com"}, "strict")


def test_create_update_and_batch_get(provider: CustomerProfilesProvider, domain: str) -> None:
    pid = provider.create_profile(_ctx("CreateProfile"), {
        "DomainName": domain, "FirstName": "Ana", "Address": {"City": "Lyon"}, "Unmodeled": "x"})["ProfileId"]
    assert provider.update_profile(_ctx("UpdateProfile"), {"DomainName": domain, "ProfileId": pid,
                                                           "FirstName": "", "LastName": "Silva"}) == {"ProfileId": pid}
    missing = "0" * 32
    body = provider.batch_get_profile(_ctx("BatchGetProfile"), {"DomainName": domain,
                                                                "ProfileIds": [missing, pid]})
    assert body["Profiles"] == [{"ProfileId": pid, "LastName": "Silva", "Address": {"City": "Lyon"}}]
    assert body["Errors"] == [{"Code": "ResourceNotFoundException", "Message": f"Profile {missing} does not exist",
                               "ProfileId": missing}]
    with pytest.raises(errors.Invalid, match="either Gender or GenderString"):
        provider.create_profile(_ctx("CreateProfile"), {"DomainName": domain, "Gender": "MALE", "GenderString": "m"})
    with pytest.raises(errors.Invalid, match="either PartyType or PartyTypeString"):
        provider.update_profile(_ctx("UpdateProfile"), {"DomainName": domain, "ProfileId": pid,
                                                        "PartyType": "INDIVIDUAL", "PartyTypeString": "p"})


def test_history_names_the_calling_account(provider: CustomerProfilesProvider, domain: str) -> None:
    pid = provider.create_profile(_ctx("CreateProfile"), {"DomainName": domain, "FirstName": "Ana"})["ProfileId"]
    provider.update_profile(_ctx("UpdateProfile"), {"DomainName": domain, "ProfileId": pid, "FirstName": "Ann"})
    ctx = _ctx("ListProfileHistoryRecords")
    params: dict[str, Any] = {"DomainName": domain, "ProfileId": pid, "MaxResults": 1}
    first = provider.list_profile_history_records(ctx, params)
    rest = provider.list_profile_history_records(ctx, {**params, "NextToken": first["NextToken"]})
    records = first["ProfileHistoryRecords"] + rest["ProfileHistoryRecords"]
    assert [(r["ActionType"], r["PerformedBy"], r["ObjectTypeName"]) for r in records] == [
        ("CREATED", f"API:{ACCOUNT}", "_profile"), ("UPDATED", f"API:{ACCOUNT}", "_profile")]
    assert records[0]["CreatedAt"] == records[0]["LastUpdatedAt"] == NOW
    only = provider.list_profile_history_records(ctx, {"DomainName": domain, "ProfileId": pid,
                                                       "ActionType": "UPDATED"})["ProfileHistoryRecords"]
    assert [r["Id"] for r in only] == [records[1]["Id"]]
    record = provider.get_profile_history_record(_ctx("GetProfileHistoryRecord"), {
        "DomainName": domain, "ProfileId": pid, "Id": records[1]["Id"]})
    assert orjson.loads(record["Content"]) == {"ProfileId": pid, "FirstName": "Ann"}
    assert record["ActionType"] == "UPDATED" and record["PerformedBy"] == f"API:{ACCOUNT}"


def test_keys_added_and_deleted(provider: CustomerProfilesProvider, domain: str) -> None:
    pid = provider.create_profile(_ctx("CreateProfile"), {"DomainName": domain})["ProfileId"]
    params = {"DomainName": domain, "ProfileId": pid, "KeyName": "mail", "Values": ["New@x.com"]}
    assert provider.add_profile_key(_ctx("AddProfileKey"), params) == {"KeyName": "mail", "Values": ["New@x.com"]}
    found = provider.search_profiles(_ctx("SearchProfiles"), {"DomainName": domain, "KeyName": "mail",
                                                              "Values": ["new@X.com"]})
    assert [i["ProfileId"] for i in found["Items"]] == [pid]
    assert provider.delete_profile_key(_ctx("DeleteProfileKey"), params) == {
        "Message": f"Key mail values were deleted from profile {pid}"}
    with pytest.raises(errors.NotFound):
        provider.delete_profile_key(_ctx("DeleteProfileKey"), params)


def test_search_with_more_keys_and_pages(provider: CustomerProfilesProvider, domain: str) -> None:
    _put_object(provider, domain, {"id": "1", "email": "a@x.com"})
    _put_object(provider, domain, {"id": "2", "email": "b@x.com"})
    one, two = _profile_of(provider, domain, "1"), _profile_of(provider, domain, "2")
    ctx = _ctx("SearchProfiles")
    params: dict[str, Any] = {"DomainName": domain, "KeyName": "crmId", "Values": ["1"],
                              "AdditionalSearchKeys": [{"KeyName": "mail", "Values": ["B@x.com"]}]}
    either = provider.search_profiles(ctx, params)
    assert sorted(i["ProfileId"] for i in either["Items"]) == sorted([one, two])
    by_id = {i["ProfileId"]: i for i in either["Items"]}
    assert by_id[two]["FoundByItems"] == [{"KeyName": "mail", "Values": ["B@x.com"]}]
    assert by_id[one]["EmailAddress"] == "a@x.com" and by_id[one]["AccountNumber"] == "1"
    assert provider.search_profiles(ctx, {**params, "LogicalOperator": "AND"})["Items"] == []
    first = provider.search_profiles(ctx, {**params, "MaxResults": 1})
    rest = provider.search_profiles(ctx, {**params, "MaxResults": 1, "NextToken": first["NextToken"]})
    assert [i["ProfileId"] for i in first["Items"] + rest["Items"]] == sorted([one, two])


def test_objects_listed_filtered_and_deleted(provider: CustomerProfilesProvider, domain: str) -> None:
    keys = [_put_object(provider, domain, {"id": n, "email": "same@x.com"}) for n in ("1", "2")]
    pid = _profile_of(provider, domain, "1")
    ctx = _ctx("ListProfileObjects")
    params: dict[str, Any] = {"DomainName": domain, "ProfileId": pid, "ObjectTypeName": "crm"}
    items = provider.list_profile_objects(ctx, params)["Items"]
    assert [(i["ObjectTypeName"], i["ProfileObjectUniqueKey"]) for i in items] == [("crm", k) for k in keys]
    assert orjson.loads(items[0]["Object"]) == {"id": "1", "email": "same@x.com"}
    filtered = provider.list_profile_objects(ctx, {**params, "ObjectFilter": {"KeyName": "crmId", "Values": ["2"]}})
    assert [i["ProfileObjectUniqueKey"] for i in filtered["Items"]] == [keys[1]]
    first = provider.list_profile_objects(ctx, {**params, "MaxResults": 1})
    rest = provider.list_profile_objects(ctx, {**params, "MaxResults": 1, "NextToken": first["NextToken"]})
    assert [i["ProfileObjectUniqueKey"] for i in rest["Items"]] == [keys[1]]
    deleted = provider.delete_profile_object(_ctx("DeleteProfileObject"), {**params,
                                                                           "ProfileObjectUniqueKey": keys[0]})
    assert deleted == {"Message": f"Profile object {keys[0]} was deleted"}
    assert [i["ProfileObjectUniqueKey"] for i in provider.list_profile_objects(ctx, params)["Items"]] == [keys[1]]


def test_attribute_values(provider: CustomerProfilesProvider, domain: str) -> None:
    for name in ("Bo", "Ana", "Bo"):
        provider.create_profile(_ctx("CreateProfile"), {"DomainName": domain, "FirstName": name})
    body = provider.list_profile_attribute_values(_ctx("ListProfileAttributeValues"), {
        "DomainName": domain, "AttributeName": "FirstName"})
    assert body == {"DomainName": domain, "AttributeName": "FirstName", "Items": [{"Value": "Ana"}, {"Value": "Bo"}],
                    "StatusCode": 200}


def test_delete_profile(provider: CustomerProfilesProvider, domain: str) -> None:
    pid = provider.create_profile(_ctx("CreateProfile"), {"DomainName": domain})["ProfileId"]
    assert provider.delete_profile(_ctx("DeleteProfile"), {"DomainName": domain, "ProfileId": pid}) == {
        "Message": f"Profile {pid} was deleted"}
    with pytest.raises(errors.NotFound):
        provider.delete_profile(_ctx("DeleteProfile"), {"DomainName": domain, "ProfileId": pid})
    with pytest.raises(errors.NotFound, match="Domain nope does not exist"):
        provider.create_profile(_ctx("CreateProfile"), {"DomainName": "nope"})
