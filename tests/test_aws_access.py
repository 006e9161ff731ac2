"""openprofiles.aws_access: which credentials reach a tenant's AWS resource, queue URLs as ARNs, and a
role's credentials assumed once (STS of moto's server mode) and shared by every client of the account."""

from __future__ import annotations

from typing import Any

import pytest

from openprofiles.aws_access import AwsAccess, AwsAccessRefused, bucket_arn, queue_of
from tests.harness import MotoServer

ROLE = "arn:aws:iam::444455556666:role/openprofiles-tenant"


def test_the_operators_credentials_reach_only_what_is_mapped_to_the_account() -> None:
    access = AwsAccess([("111122223333", "arn:aws:s3:::tenant-a-*")], {"222233334444": ROLE})
    assert access.principal("111122223333", bucket_arn("tenant-a-exports")) is None  # the operator's
    with pytest.raises(AwsAccessRefused) as refused:
        access.principal("111122223333", bucket_arn("operator-private"))
    assert refused.value.message == (
        "account 111122223333 may not use arn:aws:s3:::operator-private: the operator maps it to the account "
        "with --aws-resource 111122223333=ARN-GLOB (OPENPROFILES_AWS_RESOURCES), or maps a role with "
        "--aws-role 111122223333=ROLE-ARN (OPENPROFILES_AWS_ROLES)")
    with pytest.raises(AwsAccessRefused):
        access.principal("999999999999", bucket_arn("tenant-a-exports"))  # mapped to another account
    assert access.principal("222233334444", bucket_arn("operator-private")) == ROLE  # the role's policies decide
    with pytest.raises(AwsAccessRefused, match="is used for no account"):
        access.principal("", bucket_arn("tenant-a-exports"))
    with pytest.raises(AwsAccessRefused, match="may not use s3 resources"):
        AwsAccess().lister("s3", None, "111122223333")


def test_globs_are_case_sensitive_and_span_separators() -> None:
    access = AwsAccess([("1", "arn:aws:kms:*:123456789012:alias/tenant-*")])
    assert access.mapped("1", "arn:aws:kms:eu-west-1:123456789012:alias/tenant-b/x")
    assert not access.mapped("1", "arn:aws:kms:eu-west-1:123456789012:alias/Tenant-b")
    assert not access.mapped("1", "arn:aws:kms:eu-west-1:123456789012:key/1234")


@pytest.mark.parametrize(("url", "region", "arn"), [
    ("https://sqs.eu-west-1.amazonaws.com/123456789012/dlq", "eu-west-1", "arn:aws:sqs:eu-west-1:123456789012:dlq"),
    ("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q.fifo", "cn-north-1",
     "arn:aws-cn:sqs:cn-north-1:123456789012:q.fifo"),
    ("http://127.0.0.1:5000/123456789012/local", "us-east-2", "arn:aws:sqs:us-east-2:123456789012:local"),
])
def test_a_queue_url_is_its_arn(url: str, region: str, arn: str) -> None:
    queue = queue_of(url, "us-east-2")
    assert (queue.region, queue.arn) == (region, arn)


@pytest.mark.parametrize("url", [
    "not a url", "ftp://sqs.us-east-1.amazonaws.com/123456789012/q", "https://sqs.us-east-1.amazonaws.com/q",
    "https://sqs.us-east-1.amazonaws.com/12345/q", "https://sqs.us-east-1.amazonaws.com/123456789012/q/more",
    "https://sqs.us-east-1.amazonaws.com/123456789012/q?x=1", "https://u:p@sqs.us-east-1.amazonaws.com/123456789012/q",
    "https://sqs.us-east-1.amazonaws.com/123456789012/bad*name",
])
def test_what_is_not_a_queue_url(url: str) -> None:
    with pytest.raises(AwsAccessRefused, match="is not an SQS queue URL"):
        queue_of(url, "us-east-1")


def test_a_queue_url_must_name_the_sqs_endpoint_the_client_sends_to(aws_env: MotoServer) -> None:
    access = AwsAccess([("1", "arn:aws:sqs:*")])
    client = access.queue_client("1", f"{aws_env.endpoint}/123456789012/q")
    assert client.meta.endpoint_url == aws_env.endpoint
    with pytest.raises(AwsAccessRefused, match=f"the host is not the SQS endpoint of us-east-1 \\({aws_env.endpoint}\\)"):
        access.queue_client("1", "http://attacker.example:8080/123456789012/q")


def test_a_roles_credentials_are_assumed_once_and_shared(aws_env: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", aws_env.endpoint)
    access = AwsAccess(roles={"222233334444": ROLE})
    signed_with: list[str] = []

    def key_id(request: Any, **_: Any) -> None:
        signed_with.append(str(request.headers["Authorization"]).split("Credential=")[1].split("/")[0])

    s3, _ = access.lister("s3", None, "222233334444")
    kms = access.client("kms", "us-east-1", "222233334444", "arn:aws:kms:us-east-1:444455556666:alias/any")
    for client in (s3, kms):
        client.meta.events.register("request-created", key_id)
    s3.list_buckets()
    kms.list_keys()
    s3.list_buckets()
    assert len(set(signed_with)) == 1 and signed_with[0].startswith("ASIA")  # one STS session, not "testing"
    assert access.lister("s3", None, "222233334444")[0] is s3  # clients are cached too
