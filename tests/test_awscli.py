"""The AWS CLI (v1, as installed in the virtualenv) against the live server, unchanged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.harness import IN_CI, Credentials

# The wire format does not depend on the database: one server, on SQLite.
pytestmark = pytest.mark.parametrize("live", ["sqlite"], indirect=True)


def _aws_executable() -> str:
    candidate = Path(sys.executable).parent / "aws"
    found = str(candidate) if candidate.exists() else shutil.which("aws")
    if found is None:
        if IN_CI:
            pytest.fail("the AWS CLI (`aws`, from the test extra) is required under CI=true")
        pytest.skip("the AWS CLI is not installed")
    return found


class Aws:
    """`aws …` with credentials only from the environment, never the machine's configuration."""

    def __init__(self, live: LiveServer, tmp: Path, creds: Credentials | None = None) -> None:
        self.executable = _aws_executable()
        self.endpoint = live.endpoint
        creds = creds or live.creds
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=creds.access_key_id,
            AWS_SECRET_ACCESS_KEY=creds.secret_access_key,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=str(tmp / "no-such-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-such-credentials"),
            AWS_RETRY_MODE="standard",
            AWS_MAX_ATTEMPTS="1",
        )
        self.env = env

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.executable, *args, "--endpoint-url", self.endpoint, "--output", "json"],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )

    def ok(self, *args: str) -> Any:
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if result.stdout.strip() else {}


@pytest.fixture
def aws(live: LiveServer, tmp_path: Path) -> Aws:
    return Aws(live, tmp_path)


def test_domain_lifecycle(aws: Aws, live: LiveServer, unique: str) -> None:
    created = aws.ok(
        "customer-profiles",
        "create-domain",
        "--domain-name",
        unique,
        "--default-expiration-days",
        "30",
        "--tags",
        "team=support,env=test",
    )
    assert created["DomainName"] == unique
    assert created["DefaultExpirationDays"] == 30
    assert created["Tags"] == {"team": "support", "env": "test"}
    # CLI v1 prints timestamps as they came over the wire: epoch seconds.
    assert abs(created["CreatedAt"] - time.time()) < 600

    got = aws.ok("customer-profiles", "get-domain", "--domain-name", unique)
    assert got["DomainName"] == unique
    assert got["Stats"]["ProfileCount"] == 0
    assert got["CreatedAt"] == created["CreatedAt"]

    listed = aws.ok("customer-profiles", "list-domains")
    assert unique in [item["DomainName"] for item in listed["Items"]]

    updated = aws.ok(
        "customer-profiles",
        "update-domain",
        "--domain-name",
        unique,
        "--default-expiration-days",
        "60",
        "--matching",
        "Enabled=true",
    )
    assert updated["DefaultExpirationDays"] == 60
    assert updated["Matching"] == {"Enabled": True}
    assert updated["Tags"] == {"team": "support", "env": "test"}

    # An ARN, with ':' and '/', as a path label.
    arn = f"arn:aws:profile:us-east-1:{live.creds.account_id}:domains/{unique}"
    tags = aws.ok("customer-profiles", "list-tags-for-resource", "--resource-arn", arn)
    assert tags == {"tags": {"team": "support", "env": "test"}}

    deleted = aws.ok("customer-profiles", "delete-domain", "--domain-name", unique)
    assert unique in deleted["Message"]

    missing = aws.run("customer-profiles", "get-domain", "--domain-name", unique)
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr
    assert "GetDomain" in missing.stderr


def test_wrong_secret(live: LiveServer, tmp_path: Path) -> None:
    wrong = Credentials(live.creds.access_key_id, "WRONG" + live.creds.secret_access_key[5:], "")
    result = Aws(live, tmp_path, wrong).run("customer-profiles", "list-domains")
    assert result.returncode != 0
    assert "AccessDeniedException" in result.stderr


def test_appflow_reaches_appflow(aws: Aws) -> None:
    result = aws.run("appflow", "list-flows")
    if result.returncode == 0:  # once ListFlows is implemented
        assert "flows" in json.loads(result.stdout)
    else:
        assert "ListFlows" in result.stderr
        assert "NotImplemented" in result.stderr
