"""The server's AWS credentials are the operator's: through boto3 against a live server whose AWS is
moto's server mode, an account reaches the operator's bucket, queue, KMS key or secret only when the
operator mapped it (--aws-resource), and a role mapped to an account (--aws-role) is what reaches
that account's own resources (moto keeps them in the role's account, out of the operator's sight)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import orjson
import pytest
from botocore.exceptions import ClientError

from tests.conftest import BACKENDS, FAKE_VENDOR_HOSTS, LiveServer, database_url_for, live_server
from tests.fakes.salesforce import CLIENT_ID, CLIENT_SECRET, FakeSalesforce, make_app
from tests.fakes.server import serving
from tests.harness import Credentials, MotoServer, Server, cli
from tests.live_flows import PEOPLE, create_profile, entity_names, into_profiles, map_all, run_on_demand

A, B, C = "000000000000", "111111111111", "222222222222"  # no grants; mapped resources; a role
OPERATOR = "123456789012"  # moto's account for the server's own credentials
ROLE_ACCOUNT = "444455556666"
ROLE = f"arn:aws:iam::{ROLE_ACCOUNT}:role/openprofiles-tenant"
PEOPLE_CSV = b"id,email,name\n1,a@example.com,Ann\n2,b@example.com,Bo\n"


@dataclass
class Resources:
    """One bucket, queue, KMS alias and secret of each kind: the operator's private ones, the ones the
    operator mapped to B, and the role account's own."""

    private: str
    mapped: str
    role: str
    queues: dict[str, str]
    secrets: dict[str, str]

    def alias(self, name: str) -> str:
        account = ROLE_ACCOUNT if name == self.role else OPERATOR
        return f"arn:aws:kms:us-east-1:{account}:alias/{name}"


def _role_session(moto: MotoServer) -> boto3.session.Session:
    sts = moto.client("sts")
    found = sts.assume_role(RoleArn=ROLE, RoleSessionName="test-setup")["Credentials"]
    return boto3.session.Session(found["AccessKeyId"], found["SecretAccessKey"], found["SessionToken"], "us-east-1")


def _make(s3: Any, sqs: Any, kms: Any, secrets: Any, name: str) -> tuple[str, str]:
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="people/a.csv", Body=PEOPLE_CSV)
    queue = str(sqs.create_queue(QueueName=name)["QueueUrl"])
    kms.create_alias(AliasName=f"alias/{name}", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    secret = secrets.create_secret(Name=name, SecretString=json.dumps({"clientId": CLIENT_ID,
                                                                       "clientSecret": CLIENT_SECRET}))
    return queue, str(secret["ARN"])


@pytest.fixture(scope="module")
def resources(moto: MotoServer) -> Resources:
    suffix = uuid.uuid4().hex[:8]
    found = Resources(f"op-private-{suffix}", f"tenant-b-{suffix}", f"role-c-{suffix}", {}, {})
    role = _role_session(moto)
    for name, client in ((found.private, moto.client), (found.mapped, moto.client),
                         (found.role, lambda service: role.client(service, endpoint_url=moto.endpoint))):
        found.queues[name], found.secrets[name] = _make(client("s3"), client("sqs"), client("kms"),
                                                        client("secretsmanager"), name)
    return found


GRANTS = (
    "--aws-resource", f"{B}=arn:aws:s3:::tenant-b-*",
    "--aws-resource", f"{B}=arn:aws:sqs:us-east-1:{OPERATOR}:tenant-b-*",
    "--aws-resource", f"{B}=arn:aws:kms:us-east-1:{OPERATOR}:alias/tenant-b-*",
    "--aws-resource", f"{B}=arn:aws:secretsmanager:us-east-1:{OPERATOR}:secret:tenant-b-*",
    "--aws-role", f"{C}={ROLE}",
)


def _env(moto: MotoServer) -> dict[str, str]:
    return {**moto.env(), "AWS_ENDPOINT_URL_STS": moto.endpoint, "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto.endpoint}


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, moto: MotoServer,
         resources: Resources) -> Iterator[LiveServer]:
    with live_server(request, tmp_path_factory.mktemp(f"aws-{request.param}"), _env(moto),
                     (*FAKE_VENDOR_HOSTS, *GRANTS)) as server:
        yield server


@pytest.fixture(scope="module")
def keys(live: LiveServer) -> dict[str, Credentials]:
    return {account: live.server.create_key(account) for account in (A, B, C)}


def _clients(live: LiveServer, keys: dict[str, Credentials], account: str) -> tuple[Any, Any]:
    return live.client("customer-profiles", keys[account]), live.client("appflow", keys[account])


def _refusal(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def _names_the_settings(message: str, account: str) -> bool:
    return f"--aws-resource {account}=ARN-GLOB" in message and f"--aws-role {account}=ROLE-ARN" in message


def _s3_flow(appflow: Any, name: str, bucket: str, domain: str) -> Any:
    return appflow.create_flow(
        flowName=name, triggerConfig={"triggerType": "OnDemand"}, tasks=map_all("S3"),
        sourceFlowConfig={"connectorType": "S3",
                          "sourceConnectorProperties": {"S3": {"bucketName": bucket, "bucketPrefix": "people"}}},
        destinationFlowConfigList=into_profiles(domain, "people"))


def _domain(cp: Any, name: str, allow_profiles: bool = True, **members: Any) -> None:
    cp.create_domain(DomainName=name, DefaultExpirationDays=30, **members)
    cp.put_profile_object_type(DomainName=name, ObjectTypeName="people", **{**PEOPLE,
                               "AllowProfileCreation": allow_profiles})


# S3


def test_an_account_cannot_read_the_operators_bucket(live: LiveServer, keys: dict[str, Credentials],
                                                     resources: Resources, unique: str) -> None:
    for account in (A, B):
        cp, appflow = _clients(live, keys, account)
        _domain(cp, unique)
        code, message = _refusal(_s3_flow, appflow=appflow, name=unique, bucket=resources.private, domain=unique)
        assert code == "ValidationException" and resources.private in message and _names_the_settings(message, account)
    code, message = _refusal(create_profile, appflow=_clients(live, keys, A)[1], name=unique, connector_type="S3",
                             properties={})
    assert code == "ValidationException" and "may not use s3 resources" in message


def test_a_mapped_bucket_is_listed_and_read_alone(live: LiveServer, keys: dict[str, Credentials],
                                                  resources: Resources, unique: str) -> None:
    cp, appflow = _clients(live, keys, B)
    create_profile(appflow, unique, "S3", {})
    listed = entity_names(appflow, unique)
    assert resources.mapped in listed and resources.private not in listed  # only what the operator mapped
    code, message = _refusal(entity_names, appflow=appflow, profile=unique, path=resources.private)
    assert code == "ValidationException" and _names_the_settings(message, B)
    _domain(cp, unique)
    _s3_flow(appflow, unique, resources.mapped, unique)
    assert run_on_demand(appflow, unique)["executionResult"]["recordsProcessed"] == 2


def test_a_role_mapped_to_the_account_reads_its_own_buckets(live: LiveServer, keys: dict[str, Credentials],
                                                            resources: Resources, unique: str) -> None:
    cp, appflow = _clients(live, keys, C)
    create_profile(appflow, unique, "S3", {})
    listed = entity_names(appflow, unique)
    # moto lists the role account's buckets only: the listing was made with the role's credentials.
    assert resources.role in listed and resources.private not in listed and resources.mapped not in listed
    _domain(cp, unique)
    _s3_flow(appflow, unique, resources.role, unique)
    assert run_on_demand(appflow, unique)["executionResult"]["recordsProcessed"] == 2


# SQS dead-letter queue


def _letters(moto: MotoServer, queue_url: str, domain: str, role: bool = False, timeout: float = 20) -> list[Any]:
    sqs = _role_session(moto).client("sqs", endpoint_url=moto.endpoint) if role else moto.client("sqs")
    deadline, found = time.monotonic() + timeout, []
    while time.monotonic() < deadline and not found:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        found = [body for m in messages if (body := orjson.loads(m["Body"]))["DomainName"] == domain]
    return found


def test_an_account_cannot_write_the_operators_queue(live: LiveServer, keys: dict[str, Credentials],
                                                     resources: Resources, unique: str) -> None:
    for account in (A, B):
        cp, _ = _clients(live, keys, account)
        url = resources.queues[resources.private]
        code, message = _refusal(cp.create_domain, DomainName=unique, DefaultExpirationDays=5, DeadLetterQueueUrl=url)
        assert code == "BadRequestException" and message.startswith(f"DeadLetterQueueUrl {url} cannot be used: ")
        assert _names_the_settings(message, account)
        cp.create_domain(DomainName=unique, DefaultExpirationDays=5)
        code, message = _refusal(cp.update_domain, DomainName=unique, DeadLetterQueueUrl=url)
        assert code == "BadRequestException" and _names_the_settings(message, account)


def test_a_queue_url_cannot_name_another_host(live: LiveServer, keys: dict[str, Credentials], unique: str) -> None:
    cp, _ = _clients(live, keys, B)
    url = f"http://169.254.169.254/{OPERATOR}/tenant-b-x"
    code, message = _refusal(cp.create_domain, DomainName=unique, DefaultExpirationDays=5, DeadLetterQueueUrl=url)
    assert code == "BadRequestException" and "the host is not the SQS endpoint of us-east-1" in message


@pytest.mark.parametrize(("account", "which"), [(B, "mapped"), (C, "role")])
def test_dead_letters_reach_the_queue_the_account_may_use(live: LiveServer, keys: dict[str, Credentials],
                                                          resources: Resources, moto: MotoServer, unique: str,
                                                          account: str, which: str) -> None:
    name = getattr(resources, which)
    cp, appflow = _clients(live, keys, account)
    # No profile to attach the records to: both become dead letters, sent to the domain's queue.
    _domain(cp, unique, allow_profiles=False, DeadLetterQueueUrl=resources.queues[name])
    _s3_flow(appflow, unique, name, unique)
    run_on_demand(appflow, unique)
    letters = _letters(moto, resources.queues[name], unique, role=which == "role")
    assert sorted(orjson.loads(letter["Object"])["id"] for letter in letters) == ["1", "2"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_when_the_operator_takes_the_grants_back(backend: str, request: pytest.FixtureRequest, tmp_path: Any,
                                                moto: MotoServer, resources: Resources,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings change: StartFlow is refused, and letters for a queue the account may no longer use stay
    pending with the reason until the grant is back, then they are sent."""
    for name, value in _env(moto).items():
        monkeypatch.setenv(name, value)
    later = f"{resources.mapped}-{uuid.uuid4().hex[:8]}"  # matches B's queue glob; created only at the end
    queue = f"{moto.endpoint}/{OPERATOR}/{later}"
    server = Server(tmp_path, database_url_for(backend, request), args=(*FAKE_VENDOR_HOSTS, *GRANTS))
    creds = server.create_key(B)
    server.start()
    try:
        cp, appflow = server.client("customer-profiles", creds), server.client("appflow", creds)
        _domain(cp, "d", allow_profiles=False, DeadLetterQueueUrl=queue)
        _s3_flow(appflow, "flow", resources.mapped, "d")
        run_on_demand(appflow, "flow")  # two dead letters, pending: their queue does not exist yet
    finally:
        server.stop()
    storage = server.storage_args()

    def letters() -> list[dict[str, Any]]:
        return list(json.loads(cli("dead-letters", "list", "--account-id", B, "--domain", "d", "--json",
                                   *storage).stdout))

    assert "Sent 0" in cli("dead-letters", "flush", *storage).stdout  # the operator took the grants back
    assert [(letter["QueueState"], letter["QueueError"].split(": the operator")[0]) for letter in letters()] == [
        ("pending", f"not sent: account {B} may not use arn:aws:sqs:us-east-1:{OPERATOR}:{later}")] * 2
    revoked = Server(tmp_path, server.database_url, args=FAKE_VENDOR_HOSTS)
    revoked.start()
    try:
        code, message = _refusal(revoked.client("appflow", creds).start_flow, flowName="flow")
        assert code == "ValidationException" and _names_the_settings(message, B)
    finally:
        revoked.stop()

    moto.client("sqs").create_queue(QueueName=later)
    assert "Sent 2" in cli("dead-letters", "flush", *storage, *GRANTS).stdout  # granted again: nothing was lost
    assert [letter["QueueState"] for letter in letters()] == ["sent", "sent"]
    assert len(_letters(moto, queue, "d")) == 2


# KMS


def test_an_account_cannot_use_the_operators_kms_key(live: LiveServer, keys: dict[str, Credentials],
                                                     resources: Resources, unique: str) -> None:
    key = resources.alias(resources.private)
    for account in (A, B):
        cp, _ = _clients(live, keys, account)
        code, message = _refusal(cp.create_domain, DomainName=unique, DefaultExpirationDays=5, DefaultEncryptionKey=key)
        assert code == "BadRequestException" and message.startswith(f"DefaultEncryptionKey {key} cannot be used: ")
        assert _names_the_settings(message, account)
        cp.create_domain(DomainName=unique, DefaultExpirationDays=5)
        code, message = _refusal(cp.put_profile_object_type, DomainName=unique, ObjectTypeName="people",
                                 **{**PEOPLE, "EncryptionKey": key})
        assert code == "BadRequestException" and message.startswith(f"EncryptionKey {key} cannot be used: ")
        assert _names_the_settings(message, account)


@pytest.mark.parametrize(("account", "which"), [(B, "mapped"), (C, "role")])
def test_a_kms_key_the_account_may_use_wraps_its_domain(live: LiveServer, keys: dict[str, Credentials],
                                                        resources: Resources, unique: str, account: str,
                                                        which: str) -> None:
    cp, _ = _clients(live, keys, account)
    key = resources.alias(getattr(resources, which))  # the role's alias exists only in the role's account
    _domain(cp, unique, DefaultEncryptionKey=key)
    cp.put_profile_object(DomainName=unique, ObjectTypeName="people", Object='{"id": "7", "email": "e@x.com"}')
    found = cp.search_profiles(DomainName=unique, KeyName="crmId", Values=["7"])["Items"]
    assert [p["EmailAddress"] for p in found] == ["e@x.com"]
    assert cp.get_domain(DomainName=unique)["DefaultEncryptionKey"] == key


# Secrets Manager (Salesforce clientCredentialsArn)


@pytest.fixture
def salesforce() -> Iterator[tuple[FakeSalesforce, str]]:
    fake = make_app(records=3)
    with serving(fake) as url:
        yield fake, url


def _salesforce_profile(appflow: Any, name: str, url: str, secret: str) -> Any:
    return create_profile(appflow, name, "Salesforce", {"instanceUrl": url},
                          {"oAuth2GrantType": "CLIENT_CREDENTIALS", "clientCredentialsArn": secret})


def test_an_account_cannot_make_the_server_fetch_the_operators_secret(
        live: LiveServer, keys: dict[str, Credentials], resources: Resources, unique: str,
        salesforce: tuple[FakeSalesforce, str]) -> None:
    fake, url = salesforce
    secret = resources.secrets[resources.private]
    for account in (A, B):
        code, message = _refusal(_salesforce_profile, appflow=_clients(live, keys, account)[1], name=unique, url=url,
                                 secret=secret)
        assert code == "ValidationException" and secret in message and _names_the_settings(message, account)
    assert fake.token_grants == []  # the caller's token endpoint never saw the operator's client secret


@pytest.mark.parametrize(("account", "which"), [(B, "mapped"), (C, "role")])
def test_a_secret_the_account_may_use_is_fetched(live: LiveServer, keys: dict[str, Credentials], resources: Resources,
                                                 unique: str, salesforce: tuple[FakeSalesforce, str], account: str,
                                                 which: str) -> None:
    fake, url = salesforce
    _salesforce_profile(_clients(live, keys, account)[1], unique, url, resources.secrets[getattr(resources, which)])
    assert fake.token_grants == ["client_credentials"]
