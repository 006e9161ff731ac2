"""The command line: access keys, storage from flags or environment, the first start, schema checks."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from openprofiles.cli import endpoint_url, main
from openprofiles.services.access_keys import valid_account_id
from openprofiles.settings import Settings
from openprofiles.storage.database import Database, sqlite_url
from tests.conftest import database_url_for
from tests.harness import Credentials, EnvServer, Server, cli_in_process, free_port

KEY_ID = re.compile(r"AKIA[A-Z2-7]{16}")


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`openprofiles ARGS` in `cwd` (so a storage option that is ignored cannot touch the repository),
    without any OPENPROFILES_* variable of the calling environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENPROFILES_")}
    try:
        return subprocess.run(
            [sys.executable, "-m", "openprofiles", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            env={**base, **(env or {})},
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"`openprofiles {' '.join(args)}` did not finish in {timeout}s: {error.stdout!r} {error.stderr!r}")


_UNSET: dict[str, str | None] = {
    "OPENPROFILES_DATA_DIR": None,
    "OPENPROFILES_DATABASE_URL": None,
    "OPENPROFILES_MASTER_KEY": None,
}


def keys(*args: str, env: dict[str, str | None] | None = None) -> Any:
    """`openprofiles keys ARGS` in this process (the subprocess path is covered by `run` and by
    every live server's `keys create`)."""
    return cli_in_process("keys", *args, env={**_UNSET, **(env or {})})


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    storage = ("--data-dir", str(tmp_path / "data"))
    made = run("keys", "create", "--account-id", "123456789012", "--json", *storage, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    first = json.loads(made.stdout)
    assert set(first) == {"AccessKeyId", "SecretAccessKey", "AccountId"}
    assert KEY_ID.fullmatch(first["AccessKeyId"])
    assert len(first["SecretAccessKey"]) == 40
    assert first["AccountId"] == "123456789012"

    plain = keys("create", *storage)  # the default account, for people
    assert plain.exit_code == 0, plain.stderr
    second_id = KEY_ID.search(plain.stdout)
    assert second_id is not None
    assert "SecretAccessKey:" in plain.stdout
    assert "000000000000" in plain.stdout

    listed_json, listed_table = keys("list", "--json", *storage), keys("list", *storage)
    listed = json.loads(listed_json.stdout)
    assert [(k["AccessKeyId"], k["AccountId"], k["Status"]) for k in listed] == [
        (first["AccessKeyId"], "123456789012", "Active"),
        (second_id.group(0), "000000000000", "Active"),
    ]
    assert all(set(k) == {"AccessKeyId", "AccountId", "Status", "CreateDate"} for k in listed)
    for output in (listed_json.stdout, listed_table.stdout):
        assert first["SecretAccessKey"] not in output
        assert "Secret" not in output
    assert first["AccessKeyId"] in listed_table.stdout

    revoked = keys("revoke", first["AccessKeyId"], *storage)
    assert revoked.exit_code == 0, revoked.stderr
    assert first["AccessKeyId"] in revoked.stdout
    assert [k["Status"] for k in json.loads(keys("list", "--json", *storage).stdout)] == ["Inactive", "Active"]
    # Whole ids, never shortened to fit the (80-column) output, with the "Revoked" column filled.
    for columns in ("80", "60"):
        table = keys("list", *storage, env={"COLUMNS": columns}).stdout
        assert first["AccessKeyId"] in table
        assert second_id.group(0) in table
        assert "Revoked" in table
    unknown = keys("revoke", "AKIANOSUCHKEY0000000", *storage)
    assert unknown.exit_code != 0
    assert "AKIANOSUCHKEY0000000" in unknown.stderr
    assert "does not exist" in unknown.stderr


def test_account_id_must_be_twelve_ascii_digits(tmp_path: Path) -> None:
    assert valid_account_id("123456789012")
    for bad in ("12345678901", "1234567890123", "12345678901a", "１２３４５６７８９０１２", "²²²²²²²²²²²²", ""):
        assert not valid_account_id(bad), bad
    for bad in ("１２３４５６７８９０１２", "12345"):
        result = keys("create", "--account-id", bad, "--data-dir", str(tmp_path))
        assert result.exit_code != 0
        assert "12 digits" in result.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_environment_instead_of_flags(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # an ignored variable would put data in ./.openprofiles
    data_dir = tmp_path / "data"
    url = database_url_for(backend, request)
    env: dict[str, str | None] = {"OPENPROFILES_DATA_DIR": str(data_dir)}
    flags = ["--data-dir", str(data_dir)]
    if url:
        env["OPENPROFILES_DATABASE_URL"] = url
        flags += ["--database-url", url]
    made = keys("create", "--account-id", "234567890123", "--json", env=env)
    assert made.exit_code == 0, made.stderr
    key = json.loads(made.stdout)
    by_flags = keys("list", "--json", *flags)
    assert [k["AccessKeyId"] for k in json.loads(by_flags.stdout)] == [key["AccessKeyId"]]
    revoked = keys("revoke", key["AccessKeyId"], env=env)
    assert revoked.exit_code == 0, revoked.stderr
    assert json.loads(keys("list", "--json", env=env).stdout)[0]["Status"] == "Inactive"
    assert not (tmp_path / ".openprofiles").exists()  # nothing went to the default data directory
    assert (data_dir / "openprofiles.db").exists() == (backend == "sqlite")


def test_every_command_takes_the_storage_options() -> None:
    runner = CliRunner()
    for command in (["serve"], ["keys", "create"], ["keys", "list"], ["keys", "revoke"]):
        result = runner.invoke(main, [*command, "--help"])
        assert result.exit_code == 0, result.output
        assert "--data-dir" in result.output, command
        assert "--database-url" in result.output, command


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


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_newer_schema_is_refused(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    url = database_url_for(backend, request)
    storage = ["--data-dir", str(data_dir)] + (["--database-url", url] if url else [])
    made = keys("create", "--json", *storage)  # migrates a fresh database
    assert made.exit_code == 0, made.stderr
    db = Database(url or sqlite_url(data_dir))
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfacefeed'"))
    db.dispose()
    serve = run("serve", "--port", str(free_port()), *storage, cwd=tmp_path, timeout=30)
    assert serve.returncode != 0, serve.stdout
    assert "Traceback" not in serve.stderr
    assert "SecretAccessKey" not in serve.stdout
    for result in (serve, keys("list", *storage), keys("create", *storage)):
        assert "f00dfacefeed" in result.stderr
        assert "newer version" in result.stderr
    assert keys("create", *storage).exit_code != 0


def test_secret_is_never_stored_in_plaintext(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    made = run("keys", "create", "--json", "--data-dir", str(data_dir), cwd=tmp_path)
    key = json.loads(made.stdout)
    stored = b"".join(path.read_bytes() for path in data_dir.iterdir() if path.is_file())
    assert key["AccessKeyId"].encode() in stored  # the right files, flushed
    secret = key["SecretAccessKey"]
    for form in (secret.encode(), secret.encode("utf-16-le"), secret[:20].encode(), secret[20:].encode()):
        assert form not in stored


def test_endpoint_url_for_printed_snippets() -> None:
    assert endpoint_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert endpoint_url("0.0.0.0", 80) == "http://127.0.0.1:80"
    assert endpoint_url("::", 80) == "http://127.0.0.1:80"
    assert endpoint_url("::1", 8000) == "http://[::1]:8000"
    assert endpoint_url("localhost", 9) == "http://localhost:9"


def test_settings_repr_hides_secrets() -> None:
    settings = Settings(database_url="postgresql://user:hunter2@db/openprofiles", master_key="c2VjcmV0")
    assert "hunter2" not in repr(settings)
    assert "c2VjcmV0" not in repr(settings)
    assert settings.database_kind == "postgresql"
    assert Settings(data_dir=Path("/x")).resolved_database_url == "sqlite:////x/openprofiles.db"


def test_rotate_master_from_the_command_line(tmp_path: Path) -> None:
    """`keys rotate-master` re-wraps data keys; keys created before still sign requests after."""
    from tests.harness import cli as run_cli

    created = json.loads(run_cli("keys", "create", "--json", "--data-dir", str(tmp_path)).stdout)
    before = (tmp_path / "master.key").read_text().split()
    out = run_cli("keys", "rotate-master", "--data-dir", str(tmp_path))
    assert "Master key rotated" in out.stdout and "Re-wrapped 1 data keys" in out.stdout
    after = (tmp_path / "master.key").read_text().split()
    assert len(after) == 2 and after[1] == before[0]
    from openprofiles.app import build_runtime
    from openprofiles.settings import Settings

    runtime = build_runtime(Settings(data_dir=tmp_path))
    key = runtime.access_keys.lookup(created["AccessKeyId"])
    runtime.close()
    assert key is not None and key.secret_access_key == created["SecretAccessKey"]


def test_bare_command_serves_with_environment_settings(tmp_path: Path) -> None:
    """`openprofiles` alone is `openprofiles serve`, OPENPROFILES_* variables included."""
    import subprocess
    import sys
    import time

    import httpx

    from tests.harness import free_port

    port = free_port()
    env = {**os.environ, "OPENPROFILES_PORT": str(port), "OPENPROFILES_DATA_DIR": str(tmp_path / "data"),
           "OPENPROFILES_AUTH": "open"}
    process = subprocess.Popen([sys.executable, "-m", "openprofiles"], env=env, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json()["auth"] == "open":
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("the bare command did not serve on OPENPROFILES_PORT")
        assert (tmp_path / "data" / "openprofiles.db").exists()
        assert not (tmp_path / ".openprofiles").exists()
    finally:
        process.terminate()
        process.wait(10)


def test_wrong_master_key_is_refused_at_start(tmp_path: Path) -> None:
    from tests.harness import cli as run_cli

    run_cli("keys", "create", "--data-dir", str(tmp_path))
    other = base64.b64encode(b"o" * 32).decode()
    out = run_cli("keys", "list", "--data-dir", str(tmp_path), env={"OPENPROFILES_MASTER_KEY": other}, check=False)
    assert out.returncode != 0
    assert "master key" in out.stderr and "Traceback" not in out.stderr
