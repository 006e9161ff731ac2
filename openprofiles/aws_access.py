"""Tenants' AWS resources, reached with the operator's credentials or a role the operator mapped.

The server's ambient AWS credentials (environment, shared files, instance or container role) are
the operator's. A tenant's S3 bucket, SQS queue, KMS key or Secrets Manager secret is reached:

- with the operator's credentials when the operator mapped that resource to the tenant's account
  (`--aws-resource ACCOUNT=ARN-GLOB`): the glob (fnmatch, case-sensitive; `*` also matches `/` and
  `:`) is matched against the resource's ARN: `arn:aws:s3:::BUCKET` for an S3 bucket (S3 ARNs have
  no account, the glob alone decides), `arn:PARTITION:sqs:REGION:ACCOUNT:NAME` for a queue URL, a KMS
  key or alias ARN and a secret ARN as the tenant wrote them;
- else with the role the operator mapped to the account (`--aws-role ACCOUNT=ROLE-ARN`), assumed
  through STS with the operator's credentials (session name `openprofiles-ACCOUNT`); the role's
  policies decide what it reaches. Its temporary credentials are shared by every client for that
  account and renewed by botocore 15 minutes before they expire;
- else not at all: `AwsAccessRefused`, whose message names both settings.

AppFlow's and Customer Profiles' models have no place for a tenant's own AWS keys, so none are
taken: a tenant's own resources are reached through a role in the tenant's AWS account that
trusts the operator's principal.
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}(\.fifo)?")
_AWS_QUEUE_HOST = re.compile(r"sqs[.-]([a-z0-9-]+)\.amazonaws\.com(\.cn)?")
#: How long a call to STS, SQS, KMS or Secrets Manager may take (S3 keeps botocore's defaults).
_TIMEOUTS = {"connect_timeout": 5, "read_timeout": 15}


class AwsAccessRefused(Exception):
    """A tenant's AWS resource the server may not reach for it (or a queue URL it will not use)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def not_granted(account: str, what: str) -> AwsAccessRefused:
    return AwsAccessRefused(
        f"account {account} may not use {what}: the operator maps it to the account with "
        f"--aws-resource {account}=ARN-GLOB (OPENPROFILES_AWS_RESOURCES), or maps a role with "
        f"--aws-role {account}=ROLE-ARN (OPENPROFILES_AWS_ROLES)"
    )


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


@dataclass(frozen=True)
class Queue:
    """An SQS queue URL, its region and its ARN."""

    url: str
    origin: tuple[str, str]  # (scheme, host[:port])
    region: str
    arn: str


def queue_of(url: str, default_region: str) -> Queue:
    """The queue a URL names (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`; another host, such as
    a local SQS endpoint's, has the default region); AwsAccessRefused when it is not a queue URL."""
    parsed = urlparse(url)
    parts = parsed.path.split("/")
    shaped = (parsed.scheme in ("http", "https") and parsed.hostname and not parsed.username and len(parts) == 3
              and not parts[0] and re.fullmatch(r"\d{12}", parts[1]) and _QUEUE_NAME.fullmatch(parts[2])
              and not parsed.query and not parsed.fragment and not parsed.params)
    if not shaped:
        raise AwsAccessRefused(f"{url!r} is not an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)")
    match = _AWS_QUEUE_HOST.fullmatch(parsed.netloc)
    region = match.group(1) if match else default_region
    return Queue(url, (parsed.scheme, parsed.netloc), region, f"arn:{partition(region)}:sqs:{region}:{parts[1]}:{parts[2]}")


def _config(service: str) -> Any:
    from botocore.config import Config

    if service == "s3":
        return Config(retries={"mode": "standard"})
    return Config(**_TIMEOUTS, retries={"max_attempts": 3, "mode": "standard"})


class AwsAccess:
    """boto3 clients for tenants' AWS resources: the operator's credentials for resources mapped to
    the account, else the account's role; clients are cached and shared (they are thread-safe)."""

    def __init__(self, resources: Iterable[tuple[str, str]] = (), roles: Mapping[str, str] | None = None) -> None:
        self.resources = tuple(resources)
        self.roles = dict(roles or {})
        self._operator: Any = None
        self._clients: dict[tuple[str, str | None, str | None], Any] = {}
        self._role_credentials: dict[str, Any] = {}
        self._lock = threading.Lock()

    def mapped(self, account: str, arn: str) -> bool:
        """Whether the operator mapped `arn` to `account` (its own credentials reach it for the account)."""
        return bool(account) and any(a == account and fnmatch.fnmatchcase(arn, glob) for a, glob in self.resources)

    def principal(self, account: str, arn: str) -> str | None:
        """Who reaches `arn` for `account`: None for the operator's credentials (the resource is mapped
        to the account), else the account's role ARN; AwsAccessRefused when neither."""
        if self.mapped(account, arn):
            return None
        role = self.roles.get(account) if account else None
        if role is None:
            raise not_granted(account, arn) if account else AwsAccessRefused(f"{arn} is used for no account")
        return role

    def client(self, service: str, region: str | None, account: str, arn: str) -> Any:
        """A boto3 client for `service` in `region` (None: the default region) to reach `arn` for `account`."""
        return self._client(service, region, account if self.principal(account, arn) else None)

    def lister(self, service: str, region: str | None, account: str) -> tuple[Any, Callable[[str], bool]]:
        """A client to list `account`'s resources of `service`, and the test a listed ARN must pass: with
        the account's role, all it sees; with the operator's credentials, only what is mapped."""
        if self.roles.get(account):
            return self._client(service, region, account), lambda arn: True
        if account and any(a == account for a, _ in self.resources):
            return self._client(service, region, None), lambda arn: self.mapped(account, arn)
        raise not_granted(account, f"{service} resources")

    def queue_client(self, account: str, url: str) -> Any:
        """An SQS client to send to the queue `url` names for `account`. The URL's host must be the SQS
        endpoint the client sends to (botocore sends to its endpoint, never to the URL's host)."""
        queue = queue_of(url, self.default_region())
        client = self.client("sqs", queue.region, account, queue.arn)
        endpoint = urlparse(client.meta.endpoint_url)
        if (endpoint.scheme, endpoint.netloc) != queue.origin:
            raise AwsAccessRefused(f"{url}: the host is not the SQS endpoint of {queue.region} "
                                   f"({endpoint.scheme}://{endpoint.netloc})")
        return client

    def default_region(self) -> str:
        with self._lock:
            return str(self._operator_session().region_name or "us-east-1")

    def _operator_session(self) -> Any:
        if self._operator is None:
            import boto3

            self._operator = boto3.session.Session()
        return self._operator

    def _client(self, service: str, region: str | None, account: str | None) -> Any:
        """The cached client of `account`'s role (None: the operator's credentials)."""
        key = (service, region, account)
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                session = self._operator_session() if account is None else self._role_session(account)
                found = self._clients[key] = session.client(service, region_name=region, config=_config(service))
            return found

    def _role_session(self, account: str) -> Any:
        import boto3
        import botocore.session
        from botocore.credentials import DeferredRefreshableCredentials

        credentials = self._role_credentials.get(account)
        if credentials is None:
            credentials = self._role_credentials[account] = DeferredRefreshableCredentials(
                lambda: self._assume(account), "assume-role")
        core = botocore.session.Session()
        core.register_component("credential_provider", _Resolver(credentials))
        return boto3.session.Session(botocore_session=core)

    def _assume(self, account: str) -> dict[str, str]:
        """New temporary credentials of the account's role (botocore calls this when they are due)."""
        sts = self._client("sts", None, None)
        found = sts.assume_role(RoleArn=self.roles[account], RoleSessionName=f"openprofiles-{account}")["Credentials"]
        return {"access_key": found["AccessKeyId"], "secret_key": found["SecretAccessKey"],
                "token": found["SessionToken"], "expiry_time": found["Expiration"].isoformat()}


class _Resolver:
    """A botocore credential resolver that always gives the role's refreshable credentials."""

    def __init__(self, credentials: Any) -> None:
        self.credentials = credentials

    def load_credentials(self) -> Any:
        return self.credentials
