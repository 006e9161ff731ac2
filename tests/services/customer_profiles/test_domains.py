"""customer_profiles/domains.py: domains through boto3 against the live server, and DomainService in
process (the AWS resources a domain may name, the tag resolver, key errors), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from openprofiles.app import Runtime, build_runtime
from openprofiles.context import RequestContext
from openprofiles.crypto.keyring import KeyringError
from openprofiles.crypto.kms import KmsKeyError
from openprofiles.errors import Invalid, NotFound
from openprofiles.services.arns import parse_arn
from openprofiles.services.customer_profiles.domains import DomainChanges, domain_exists, key_unusable
from openprofiles.settings import Settings
from tests.conftest import BACKENDS, FAKE_VENDOR_HOSTS, LiveServer, database_url_for, live_server

#: The operator lets the tests' account send dead letters to its own account's queues.
QUEUES = ("--aws-resource", "000000000000=arn:aws:sqs:us-east-1:000000000000:*")


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(request, tmp_path_factory.mktemp(f"domains-{request.param}"), args=(*FAKE_VENDOR_HOSTS, *QUEUES)) as server:
        yield server


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_create_get_update_delete(cp: Any, unique: str) -> None:
    created = cp.create_domain(
        DomainName=unique,
        DefaultExpirationDays=30,
        DefaultEncryptionKey="local-key/abc",  # not a KMS ARN: the local keyring wraps the data key
        DeadLetterQueueUrl="https://sqs.us-east-1.amazonaws.com/000000000000/dlq",
        Matching={"Enabled": True, "JobSchedule": {"DayOfTheWeek": "MONDAY", "Time": "03:00"}},
        RuleBasedMatching={"Enabled": True, "MaxAllowedRuleLevelForMerging": 2},
        DataStore={"Enabled": True},
        Tags={"team": "support"},
    )
    assert created["DomainName"] == unique
    assert created["DefaultExpirationDays"] == 30
    assert created["DefaultEncryptionKey"].endswith("key/abc")
    assert created["DeadLetterQueueUrl"].endswith("/dlq")
    assert created["Matching"] == {"Enabled": True, "JobSchedule": {"DayOfTheWeek": "MONDAY", "Time": "03:00"}}
    assert created["RuleBasedMatching"]["Status"] == "ACTIVE"
    assert created["RuleBasedMatching"]["MaxAllowedRuleLevelForMerging"] == 2
    assert created["DataStore"] == {"Enabled": True}
    assert created["Tags"] == {"team": "support"}
    assert isinstance(created["CreatedAt"], datetime)

    got = cp.get_domain(DomainName=unique)
    assert got["Stats"] == {"ProfileCount": 0, "MeteringProfileCount": 0, "ObjectCount": 0, "TotalSize": 0}
    assert got["CreatedAt"] == created["CreatedAt"]
    assert got["Matching"] == created["Matching"]

    updated = cp.update_domain(DomainName=unique, DefaultExpirationDays=60, DefaultEncryptionKey="", Tags={"env": "dev"})
    assert updated["DefaultExpirationDays"] == 60
    assert "DefaultEncryptionKey" not in updated  # empty string clears
    assert updated["DeadLetterQueueUrl"].endswith("/dlq")  # omitted keeps
    assert updated["Tags"] == {"team": "support", "env": "dev"}
    assert updated["LastUpdatedAt"] >= created["LastUpdatedAt"]

    cleared = cp.update_domain(DomainName=unique, DeadLetterQueueUrl="", Matching={"Enabled": False})
    assert "DeadLetterQueueUrl" not in cleared
    assert cleared["Matching"] == {"Enabled": False}

    deleted = cp.delete_domain(DomainName=unique)
    assert unique in deleted["Message"]
    with pytest.raises(ClientError) as error:
        cp.get_domain(DomainName=unique)
    assert _code(error) == "ResourceNotFoundException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_duplicate_name_is_bad_request(cp: Any, unique: str) -> None:
    cp.create_domain(DomainName=unique, DefaultExpirationDays=5)
    with pytest.raises(cp.exceptions.BadRequestException) as error:
        cp.create_domain(DomainName=unique, DefaultExpirationDays=5)
    assert unique in error.value.response["Error"]["Message"]


def test_unknown_domain_everywhere(cp: Any, unique: str) -> None:
    for call in (
        lambda: cp.get_domain(DomainName=unique),
        lambda: cp.update_domain(DomainName=unique, DefaultExpirationDays=3),
        lambda: cp.delete_domain(DomainName=unique),
    ):
        with pytest.raises(cp.exceptions.ResourceNotFoundException):
            call()


def test_dead_letter_queue_url_must_be_a_url(cp: Any, unique: str) -> None:
    with pytest.raises(cp.exceptions.BadRequestException) as error:
        cp.create_domain(DomainName=unique, DefaultExpirationDays=5, DeadLetterQueueUrl="not a url")
    assert "DeadLetterQueueUrl" in error.value.response["Error"]["Message"]


def test_list_domains_pages(live: LiveServer, unique: str) -> None:
    # A separate account so the listing holds only this test's domains.
    creds = live.server.create_key("210987654321")
    client = live.client(creds=creds)
    names = sorted(f"{unique}-{i:02d}" for i in range(7))
    for name in names:
        client.create_domain(DomainName=name, DefaultExpirationDays=10, Tags={"n": name})
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"MaxResults": 3}
        if token:
            kwargs["NextToken"] = token
        page = client.list_domains(**kwargs)
        pages += 1
        seen += [item["DomainName"] for item in page["Items"]]
        assert all(item["Tags"] == {"n": item["DomainName"]} for item in page["Items"])
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names
    assert pages == 3
    # A token is tied to the request that produced it.
    first = client.list_domains(MaxResults=2)
    with pytest.raises(client.exceptions.BadRequestException):
        client.list_domains(MaxResults=2, NextToken=first["NextToken"] + "x")


def test_accounts_and_regions_are_isolated(live: LiveServer, cp: Any, unique: str) -> None:
    cp.create_domain(DomainName=unique, DefaultExpirationDays=5)
    other = live.client(creds=live.server.create_key("123456789012"))
    with pytest.raises(other.exceptions.ResourceNotFoundException):
        other.get_domain(DomainName=unique)
    with pytest.raises(other.exceptions.ResourceNotFoundException):
        other.delete_domain(DomainName=unique)
    assert unique not in [d["DomainName"] for d in other.list_domains()["Items"]]
    # The other account may use the same name for its own domain.
    other.create_domain(DomainName=unique, DefaultExpirationDays=7)
    assert cp.get_domain(DomainName=unique)["DefaultExpirationDays"] == 5
    # Same account, another region: a separate namespace too.
    west = live.client(region="eu-west-1")
    with pytest.raises(west.exceptions.ResourceNotFoundException):
        west.get_domain(DomainName=unique)


def test_tags_by_arn(live: LiveServer, cp: Any, unique: str) -> None:
    cp.create_domain(DomainName=unique, DefaultExpirationDays=5, Tags={"a": "1"})
    arn = f"arn:aws:profile:us-east-1:{live.creds.account_id}:domains/{unique}"
    cp.tag_resource(resourceArn=arn, tags={"b": "2", "a": "3"})
    assert cp.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "3", "b": "2"}
    cp.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert cp.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    assert cp.get_domain(DomainName=unique)["Tags"] == {"b": "2"}
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.list_tags_for_resource(resourceArn=f"arn:aws:profile:us-east-1:{live.creds.account_id}:domains/{unique}x")
    other_account = arn.replace(live.creds.account_id, "999999999999")
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.tag_resource(resourceArn=other_account, tags={"x": "y"})
    cp.delete_domain(DomainName=unique)
    cp.create_domain(DomainName=unique, DefaultExpirationDays=5)
    assert cp.list_tags_for_resource(resourceArn=arn)["tags"] == {}  # deleted with the domain


def test_appflow_tags_need_an_existing_resource(appflow: Any, live: LiveServer) -> None:
    arn = f"arn:aws:appflow:us-east-1:{live.creds.account_id}:flow/none"
    with pytest.raises(appflow.exceptions.ResourceNotFoundException):
        appflow.list_tags_for_resource(resourceArn=arn)
    with pytest.raises(appflow.exceptions.ResourceNotFoundException):
        appflow.tag_resource(resourceArn=arn, tags={"a": "b"})


def test_update_domain_respects_the_tag_limit(cp: Any, unique: str) -> None:
    cp.create_domain(DomainName=unique, DefaultExpirationDays=5, Tags={f"a{i}": "x" for i in range(30)})
    with pytest.raises(cp.exceptions.BadRequestException) as error:
        cp.update_domain(DomainName=unique, Tags={f"b{i}": "y" for i in range(30)})
    assert "50" in error.value.response["Error"]["Message"]
    assert len(cp.get_domain(DomainName=unique)["Tags"]) == 30


# DomainService in process.

CTX = RequestContext("000000000000", "us-east-1", "CreateDomain", "r", datetime(2026, 1, 1, tzinfo=UTC))
KMS_KEY = "arn:aws:kms:us-east-1:000000000000:key/0a1b2c3d"


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """A runtime whose operator granted the tests' account no AWS resource."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("domain-service"),
                        database_url=database_url_for(str(request.param), request))
    rt = build_runtime(settings)
    yield rt
    rt.close()


def _create(rt: Runtime, name: str, **members: Any) -> None:
    rt.domains.create(CTX, name, default_expiration_days=members.get("days", 5),
                      default_encryption_key=members.get("key"), dead_letter_queue_url=members.get("queue"),
                      settings={}, tags={})


def test_aws_resources_the_operator_did_not_grant_are_refused(runtime: Runtime, unique: str) -> None:
    with pytest.raises(Invalid, match=f"DefaultEncryptionKey {KMS_KEY} cannot be used: .*--aws-resource"):
        _create(runtime, unique, key=KMS_KEY)
    queue = "https://sqs.us-east-1.amazonaws.com/000000000000/dlq"
    with pytest.raises(Invalid, match=f"DeadLetterQueueUrl {queue} cannot be used"):
        _create(runtime, unique, queue=queue)
    with pytest.raises(NotFound):  # nothing was created
        runtime.domains.record(CTX, unique)
    _create(runtime, unique, key="a note, not a KMS key")  # free text: the local keyring wraps the data key
    with pytest.raises(Invalid, match="DefaultEncryptionKey"):
        runtime.domains.update(CTX, unique, DomainChanges(default_encryption_key=KMS_KEY))
    assert runtime.domains.record(CTX, unique).default_encryption_key == "a note, not a KMS key"


def test_the_tag_resolver_names_only_existing_domains(runtime: Runtime, unique: str) -> None:
    _create(runtime, unique)
    with runtime.store.read() as uow:
        for text, exists in ((f"arn:aws:profile:us-east-1:000000000000:domains/{unique}", True),
                             (f"arn:aws:profile:us-east-1:111111111111:domains/{unique}", False),
                             (f"arn:aws:profile:eu-west-1:000000000000:domains/{unique}", False),
                             ("arn:aws:profile:us-east-1:000000000000:domains/none", False),
                             (f"arn:aws:profile:us-east-1:000000000000:domains/{unique}/object-types/x", False)):
            arn = parse_arn(text)
            assert arn is not None and domain_exists(uow, arn) is exists, text


def test_list_after_a_name(runtime: Runtime) -> None:
    ctx = RequestContext("222233334444", "us-east-1", "ListDomains", "r", CTX.now)
    for name in ("b", "a", "c"):
        runtime.domains.create(ctx, name, default_expiration_days=5, default_encryption_key=None,
                               dead_letter_queue_url=None, settings={}, tags={"n": name})
    assert [(d.name, d.tags) for d in runtime.domains.list(ctx, "a", 10)] == [("b", {"n": "b"}), ("c", {"n": "c"})]
    assert [d.name for d in runtime.domains.list(ctx, None, 1)] == ["a"]


def test_key_errors_name_the_member_and_say_why() -> None:
    kms = KmsKeyError(KMS_KEY, "long message", "AccessDeniedException: no grant")
    assert key_unusable("EncryptionKey", KMS_KEY, kms).message == (
        f"EncryptionKey {KMS_KEY} cannot be used: AccessDeniedException: no grant")
    assert key_unusable("DefaultEncryptionKey", "k", KeyringError("wrong master key")).message == (
        "DefaultEncryptionKey k cannot be used: wrong master key")
