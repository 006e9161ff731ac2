"""customer_profiles/provider.py: the domain operations in wire names, called on the provider with a
RequestContext (no server), on both backends; the error mapping, the quick reads and tags."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import botocore.session
import pytest
from botocore import xform_name

from openprofiles import errors
from openprofiles.context import RequestContext
from openprofiles.services.customer_profiles.provider import CustomerProfilesProvider

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def account() -> str:
    """A fresh account: its domains are only the test's."""
    return f"{uuid.uuid4().int % 10**12:012d}"


def _ctx(account: str, operation: str, now: datetime = NOW) -> RequestContext:
    return RequestContext(account, "us-east-1", operation, "r", now)


def test_create_domain_answers_with_what_was_stored(provider: CustomerProfilesProvider, account: str) -> None:
    body = provider.create_domain(_ctx(account, "CreateDomain"), {
        "DomainName": "d1", "DefaultExpirationDays": 30, "DefaultEncryptionKey": "local key",
        "DeadLetterQueueUrl": None, "Matching": {"Enabled": False},
        "RuleBasedMatching": {"Enabled": True, "MaxAllowedRuleLevelForMerging": 2}, "DataStore": {"Enabled": True},
        "Tags": {"team": "a"}, "Unmodeled": "ignored"})
    assert body == {
        "DomainName": "d1", "DefaultExpirationDays": 30, "DefaultEncryptionKey": "local key",
        "DeadLetterQueueUrl": None, "CreatedAt": NOW, "LastUpdatedAt": NOW, "Tags": {"team": "a"},
        "Matching": {"Enabled": False},
        "RuleBasedMatching": {"Enabled": True, "MaxAllowedRuleLevelForMerging": 2, "Status": "ACTIVE"},
        "DataStore": {"Enabled": True},
    }
    with pytest.raises(errors.AlreadyExists):
        provider.create_domain(_ctx(account, "CreateDomain"), {"DomainName": "d1", "DefaultExpirationDays": 1})


def test_a_domain_without_settings_or_tags(provider: CustomerProfilesProvider, account: str) -> None:
    body = provider.create_domain(_ctx(account, "CreateDomain"), {
        "DomainName": "bare", "DefaultExpirationDays": 5, "RuleBasedMatching": {"Enabled": False}})
    assert body["Tags"] is None and body["Matching"] is None and body["DataStore"] is None
    assert body["RuleBasedMatching"] == {"Enabled": False, "Status": None}
    assert "RuleBasedMatching" not in provider.create_domain(_ctx(account, "CreateDomain"), {
        "DomainName": "bare2", "DefaultExpirationDays": 5})


def test_get_domain_has_the_stats(provider: CustomerProfilesProvider, account: str) -> None:
    ctx = _ctx(account, "CreateProfile")
    provider.create_domain(ctx, {"DomainName": "d", "DefaultExpirationDays": 5})
    provider.create_profile(ctx, {"DomainName": "d", "FirstName": "Ana"})
    body = provider.get_domain(_ctx(account, "GetDomain"), {"DomainName": "d"})
    assert body["DomainName"] == "d" and body["DefaultExpirationDays"] == 5
    assert body["Stats"] == {"ProfileCount": 1, "MeteringProfileCount": 1, "ObjectCount": 0, "TotalSize": 0}
    with pytest.raises(errors.NotFound, match="Domain nope does not exist"):
        provider.get_domain(_ctx(account, "GetDomain"), {"DomainName": "nope"})


def test_update_domain_keeps_what_is_omitted_and_clears_what_is_empty(provider: CustomerProfilesProvider,
                                                                      account: str) -> None:
    provider.create_domain(_ctx(account, "CreateDomain"), {
        "DomainName": "d", "DefaultExpirationDays": 5, "DefaultEncryptionKey": "k", "Matching": {"Enabled": True},
        "Tags": {"a": "1"}})
    later = NOW + timedelta(minutes=1)
    body = provider.update_domain(_ctx(account, "UpdateDomain", later), {
        "DomainName": "d", "DefaultEncryptionKey": "", "DataStore": {"Enabled": True}, "Tags": {"b": "2"}})
    assert body["DefaultExpirationDays"] == 5 and body["DefaultEncryptionKey"] is None
    assert body["Matching"] == {"Enabled": True} and body["DataStore"] == {"Enabled": True}
    assert body["Tags"] == {"a": "1", "b": "2"}
    assert (body["CreatedAt"], body["LastUpdatedAt"]) == (NOW, later)


def test_delete_domain(provider: CustomerProfilesProvider, account: str) -> None:
    provider.create_domain(_ctx(account, "CreateDomain"), {"DomainName": "gone", "DefaultExpirationDays": 5})
    assert provider.delete_domain(_ctx(account, "DeleteDomain"), {"DomainName": "gone"}) == {
        "Message": "Domain gone was deleted"}
    with pytest.raises(errors.NotFound):
        provider.delete_domain(_ctx(account, "DeleteDomain"), {"DomainName": "gone"})


def test_list_domains_pages_through_the_callers_domains(provider: CustomerProfilesProvider, account: str) -> None:
    for name in ("c", "a", "b"):
        provider.create_domain(_ctx(account, "CreateDomain"), {"DomainName": name, "DefaultExpirationDays": 5,
                                                               "Tags": {"n": name}})
    provider.create_domain(_ctx("999999999999", "CreateDomain"), {"DomainName": "other" + account,
                                                                  "DefaultExpirationDays": 5})
    ctx = _ctx(account, "ListDomains")
    first = provider.list_domains(ctx, {"MaxResults": 2})
    assert [(d["DomainName"], d["Tags"]) for d in first["Items"]] == [("a", {"n": "a"}), ("b", {"n": "b"})]
    assert first["Items"][0]["CreatedAt"] == NOW and first["NextToken"]
    rest = provider.list_domains(ctx, {"MaxResults": 2, "NextToken": first["NextToken"]})
    assert [d["DomainName"] for d in rest["Items"]] == ["c"] and rest["NextToken"] is None
    with pytest.raises(errors.Invalid):  # a token is tied to its operation and caller
        provider.list_domains(_ctx("999999999999", "ListDomains"), {"NextToken": first["NextToken"]})


def test_domains_can_be_tagged_by_arn(provider: CustomerProfilesProvider, account: str) -> None:
    provider.create_domain(_ctx(account, "CreateDomain"), {"DomainName": "t", "DefaultExpirationDays": 5})
    arn = f"arn:aws:profile:us-east-1:{account}:domains/t"
    provider.tag_resource(_ctx(account, "TagResource"), {"resourceArn": arn, "tags": {"x": "y"}})
    assert provider.list_tags_for_resource(_ctx(account, "ListTagsForResource"), {"resourceArn": arn}) == {
        "tags": {"x": "y"}}
    assert provider.get_domain(_ctx(account, "GetDomain"), {"DomainName": "t"})["Tags"] == {"x": "y"}
    with pytest.raises(errors.NotFound):
        provider.list_tags_for_resource(_ctx(account, "ListTagsForResource"), {"resourceArn": arn + "x"})


def test_error_codes(provider: CustomerProfilesProvider) -> None:
    assert provider.error_code(errors.NotFound("x")) == "ResourceNotFoundException"
    assert provider.error_code(errors.AccessDenied("x")) == "AccessDeniedException"
    for error in (errors.Invalid, errors.AlreadyExists, errors.LimitExceeded, errors.Conflict, errors.Unsupported):
        assert provider.error_code(error("x")) == "BadRequestException"


def test_every_quick_read_is_a_modeled_operation_it_handles() -> None:
    modeled = set(botocore.session.get_session().get_service_model("customer-profiles").operation_names)
    for operation in CustomerProfilesProvider.quick_reads:
        assert operation in modeled and operation.startswith(("Get", "Search", "BatchGet")), operation
        assert callable(getattr(CustomerProfilesProvider, xform_name(operation), None)), operation
