"""`openprofiles serve`: the first start prints a key once, migrations run, the endpoint in the printed
snippets, and `--auth open` only on loopback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from openprofiles.cli.serve import endpoint_url
from openprofiles.storage.database import Database, sqlite_url
from tests.cli.invoke import keys
from tests.harness import Credentials, EnvServer, Server, cli_in_process

_FIRST_KEY = re.compile(r"AccessKeyId:\s+(\S+)\s+SecretAccessKey:\s+(\S+)")


def test_first_start_prints_a_key_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("OPENPROFILES_DATA_DIR", str(data_dir))
    monkeypatch.delenv("OPENPROFILES_DATABASE_URL", raising=False)
    first = EnvServer(data_dir, None)
    first.start()
    try:
        found = _FIRST_KEY.search(first.output)
        assert found, first.output
        creds = Credentials(found.group(1), found.group(2), "000000000000")
        assert "for account 000000000000" in first.output
        # A ready-to-paste AWS CLI profile and boto3 snippet, pointing at this server.
        assert f"aws_access_key_id = {creds.access_key_id}" in first.output
        assert f"aws_secret_access_key = {creds.secret_access_key}" in first.output
        assert f"--endpoint-url {first.endpoint}" in first.output
        assert f'endpoint_url="{first.endpoint}"' in first.output
        assert f'aws_secret_access_key="{creds.secret_access_key}"' in first.output
        client = first.client("customer-profiles", creds)
        client.create_domain(DomainName="first-start", DefaultExpirationDays=1)
        client.tag_resource(resourceArn="arn:aws:profile:us-east-1:000000000000:domains/first-start", tags={"a": "b"})
        # The command line works next to the running server, on the same storage.
        listed = keys("list", "--json", "--data-dir", str(data_dir))
        assert [(k["AccessKeyId"], k["AccountId"]) for k in json.loads(listed.stdout)] == [
            (creds.access_key_id, "000000000000")
        ]
        assert creds.secret_access_key not in listed.stdout
    finally:
        first.stop()
    # Migrations ran on start.
    db = Database(sqlite_url(data_dir))
    assert db.current_revision() == db.head_revision()
    db.dispose()

    second = Server(data_dir, None)
    second.start()
    try:
        assert "SecretAccessKey" not in second.output
        assert "created the first access key" not in second.output
        assert creds.secret_access_key not in second.output
        assert second.client("customer-profiles", creds).get_domain(DomainName="first-start")["Tags"] == {"a": "b"}
    finally:
        second.stop()
    assert len(json.loads(keys("list", "--json", "--data-dir", str(data_dir)).stdout)) == 1


def test_endpoint_url_for_printed_snippets() -> None:
    assert endpoint_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert endpoint_url("0.0.0.0", 80) == "http://127.0.0.1:80"
    assert endpoint_url("::", 80) == "http://127.0.0.1:80"
    assert endpoint_url("::1", 8000) == "http://[::1]:8000"
    assert endpoint_url("localhost", 9) == "http://localhost:9"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.com"])
def test_open_auth_is_refused_off_loopback(host: str, tmp_path: Path) -> None:
    """Refused before anything is opened: no data directory, no server."""
    result = cli_in_process("serve", "--auth", "open", "--host", host, "--data-dir", str(tmp_path / "data"),
                            env={"OPENPROFILES_DATABASE_URL": None})
    assert result.exit_code != 0
    assert f"may only bind to a loopback address, not {host}" in result.stderr
    assert not (tmp_path / "data").exists()
