"""Data written through the API survives a restart of the server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKENDS, database_url_for
from tests.harness import Credentials, EnvServer, Server, cli_in_process


def _key(server: Server, account_id: str) -> Credentials:
    result = cli_in_process("keys", "create", "--account-id", account_id, "--json", *server.storage_args())
    data = json.loads(result.stdout)
    return Credentials(data["AccessKeyId"], data["SecretAccessKey"], data["AccountId"])


def _without_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_data_survives_a_restart(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The operator lets the account send dead letters to its own account's queues (both starts read it).
    monkeypatch.setenv("OPENPROFILES_AWS_RESOURCES", "000000000000=arn:aws:sqs:us-east-1:000000000000:*")
    server = Server(tmp_path / "data", database_url_for(backend, request))
    creds = _key(server, "000000000000")
    other_creds = _key(server, "111122223333")
    doomed = _key(server, "000000000000")
    server.start()
    try:
        cp = server.client("customer-profiles", creds)
        for name in ("alpha", "beta", "gamma"):
            cp.create_domain(
                DomainName=name,
                DefaultExpirationDays=10,
                DeadLetterQueueUrl="https://sqs.us-east-1.amazonaws.com/000000000000/dlq",
                Matching={"Enabled": True, "JobSchedule": {"DayOfTheWeek": "FRIDAY", "Time": "22:30"}},
                Tags={"name": name},
            )
        cp.update_domain(DomainName="beta", DefaultExpirationDays=20)
        cp.tag_resource(resourceArn="arn:aws:profile:us-east-1:000000000000:domains/alpha", tags={"extra": "x"})
        server.client("customer-profiles", creds, region="eu-west-1").create_domain(
            DomainName="alpha", DefaultExpirationDays=3
        )
        server.client("customer-profiles", other_creds).create_domain(DomainName="theirs", DefaultExpirationDays=4)
        before = {name: _without_metadata(cp.get_domain(DomainName=name)) for name in ("alpha", "beta", "gamma")}
        first_page = cp.list_domains(MaxResults=1)
        assert [d["DomainName"] for d in first_page["Items"]] == ["alpha"]
        cli_in_process("keys", "revoke", doomed.access_key_id, *server.storage_args())
    finally:
        server.stop()

    # Restarted with its storage named by the environment instead of flags.
    monkeypatch.setenv("OPENPROFILES_DATA_DIR", str(server.data_dir))
    if server.database_url:
        monkeypatch.setenv("OPENPROFILES_DATABASE_URL", server.database_url)
    else:
        monkeypatch.delenv("OPENPROFILES_DATABASE_URL", raising=False)
    server = EnvServer(server.data_dir, None)
    server.start()
    try:
        cp = server.client("customer-profiles", creds)  # the key (and the master key) persisted
        after = {name: _without_metadata(cp.get_domain(DomainName=name)) for name in ("alpha", "beta", "gamma")}
        assert after == before
        assert after["alpha"]["Tags"] == {"name": "alpha", "extra": "x"}
        assert after["beta"]["DefaultExpirationDays"] == 20
        assert after["gamma"]["Matching"] == {
            "Enabled": True,
            "JobSchedule": {"DayOfTheWeek": "FRIDAY", "Time": "22:30"},
        }
        # A page token handed out before the restart still continues the listing.
        rest = cp.list_domains(MaxResults=5, NextToken=first_page["NextToken"])
        assert [d["DomainName"] for d in rest["Items"]] == ["beta", "gamma"]
        west = server.client("customer-profiles", creds, region="eu-west-1")
        assert west.get_domain(DomainName="alpha")["DefaultExpirationDays"] == 3
        theirs = server.client("customer-profiles", other_creds)
        assert [d["DomainName"] for d in theirs.list_domains()["Items"]] == ["theirs"]
        revoked = server.client("customer-profiles", doomed)
        with pytest.raises(revoked.exceptions.AccessDeniedException):
            revoked.list_domains()
        # Still writable after the restart.
        cp.delete_domain(DomainName="gamma")
        assert [d["DomainName"] for d in cp.list_domains()["Items"]] == ["alpha", "beta"]
        assert "SecretAccessKey" not in server.output  # keys existed: nothing printed
    finally:
        server.stop()
