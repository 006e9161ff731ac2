"""app.py, the composition root: the operator's grants read from Settings (and refused when malformed),
`build_runtime` on both backends, the routes of `create_app` (in process, without its lifespan) and
the background job loop."""

from __future__ import annotations

import base64
import dataclasses
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import httpx
import pytest

from openprofiles import __version__
from openprofiles.app import Root, _every, build_runtime, create_app, grants_for
from openprofiles.clock import FixedClock
from openprofiles.crypto.keyring import KeyringError
from openprofiles.settings import Settings, SettingsError
from openprofiles.storage.database import Database
from tests.conftest import database_url_for

# -- grants_for


def test_no_grants_by_default(tmp_path: Path) -> None:
    grants = grants_for(Settings(data_dir=tmp_path / "data"))
    assert (grants.files_roots, dict(grants.sql_connections), grants.sql_url_patterns, dict(grants.singer_taps)) == (
        (), {}, (), {})
    assert (grants.plugins, grants.connector_hosts, grants.aws_resources, dict(grants.aws_roles)) == (
        frozenset(), (), (), {})
    # The server's own storage, which no connector may reach.
    assert grants.data_dir == (tmp_path / "data").resolve()
    assert grants.database_url == f"sqlite:///{tmp_path / 'data' / 'openprofiles.db'}"


def test_grants_from_settings(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    grants = grants_for(Settings(
        data_dir=tmp_path / "data", files_roots=(tmp_path / "files" / ".." / "files",),
        sql_connections=("crm = postgresql://u:p@h/crm",), sql_url_patterns=("sqlite:////srv/*",),
        singer_taps=("csv=/usr/bin/tap-csv",), singer_timeout=5, singer_max_output=10, plugins=("a", "a", "b"),
        connector_hosts=("10.0.0.0/8", "db.internal"), aws_resources=("111111111111=arn:aws:s3:::b*",),
        aws_roles=("222222222222=arn:aws:iam::222222222222:role/r",)))
    assert grants.files_roots == ((tmp_path / "files").resolve(),)
    assert dict(grants.sql_connections) == {"crm": "postgresql://u:p@h/crm"}
    assert grants.sql_url_patterns == ("sqlite:////srv/*",)
    assert dict(grants.singer_taps) == {"csv": Path("/usr/bin/tap-csv")}
    assert (grants.singer_timeout, grants.singer_max_output, grants.plugins) == (5, 10, frozenset({"a", "b"}))
    assert grants.connector_hosts == ("10.0.0.0/8", "db.internal")
    assert grants.aws_resources == (("111111111111", "arn:aws:s3:::b*"),)
    assert dict(grants.aws_roles) == {"222222222222": "arn:aws:iam::222222222222:role/r"}


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("singer_taps", ("tap=bin/tap",), "--singer-tap tap: bin/tap is not an absolute path"),
    ("singer_taps", ("tap",), "--singer-tap: entry 1 is not NAME=VALUE"),
    ("sql_connections", ("crm",), "--sql-connection: entry 1 is not NAME=VALUE"),
    ("aws_resources", ("111111111111",), "--aws-resource: entry 1 is not NAME=VALUE"),
    ("aws_roles", ("=arn",), "--aws-role: entry 1 is not NAME=VALUE"),
    ("connector_hosts", ("bad host!",), "--allow-connector-host 'bad host!': not a host name, address or CIDR"),
])
def test_malformed_grants_are_refused(tmp_path: Path, setting: str, value: tuple[str, ...], message: str) -> None:
    with pytest.raises(SettingsError) as error:
        changes: dict[str, Any] = {setting: value}
        grants_for(dataclasses.replace(Settings(data_dir=tmp_path), **changes))
    assert message in str(error.value)


def test_a_files_root_may_not_hold_the_servers_storage(tmp_path: Path) -> None:
    data = tmp_path / "srv" / "data"
    for root in (tmp_path, tmp_path / "srv", data, data / "inside"):
        with pytest.raises(SettingsError, match="must not be inside a Files root, nor a root inside the data"):
            grants_for(Settings(data_dir=data, files_roots=(root,)))
    # A SQLite database outside the data directory is protected too; a sibling directory is fine.
    outside = f"sqlite:///{tmp_path / 'db' / 'op.db'}"
    with pytest.raises(SettingsError):
        grants_for(Settings(data_dir=data, database_url=outside, files_roots=(tmp_path / "db",)))
    assert grants_for(Settings(data_dir=data, database_url=outside, files_roots=(tmp_path / "files",))).files_roots


# -- build_runtime


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_build_runtime_migrates_and_wires(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = database_url_for(backend, request)
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    runtime = build_runtime(Settings(data_dir=tmp_path / "data", database_url=url), clock=clock)
    try:
        assert runtime.db.current_revision() == runtime.db.head_revision()
        assert runtime.db.dialect == backend
        assert runtime.clock is clock and runtime.scheduler.clock is clock
        key = runtime.access_keys.create("123456789012")
        assert runtime.access_keys.lookup(key.access_key_id) is not None
        master = tmp_path / "data" / "master.key"
        assert master.exists() and master.stat().st_mode & 0o077 == 0
        if backend == "sqlite":
            assert (tmp_path / "data").stat().st_mode & 0o077 == 0
    finally:
        runtime.close()
    # The same storage opens again with its key, and is refused with another.
    again = build_runtime(Settings(data_dir=tmp_path / "data", database_url=url))
    assert again.access_keys.lookup(key.access_key_id) is not None
    again.close()
    other = base64.b64encode(b"o" * 32).decode()
    disposed: list[Database] = []
    dispose = Database.dispose

    def recorded(db: Database) -> None:
        disposed.append(db)
        dispose(db)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Database, "dispose", recorded)
        with pytest.raises(KeyringError):
            build_runtime(Settings(data_dir=tmp_path / "data", database_url=url, master_key=other))
    assert len(disposed) == 1  # refused, it leaves no connection open


def test_build_runtime_checks_grants_before_opening_anything(tmp_path: Path) -> None:
    with pytest.raises(SettingsError):
        build_runtime(Settings(data_dir=tmp_path / "data", singer_taps=("t=relative",)))
    assert not (tmp_path / "data").exists()


# -- create_app


def _request(app: Root, method: str, path: str) -> httpx.Response:
    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            return await client.request(method, path)

    return anyio.run(send)


@pytest.mark.parametrize("auth", ["sigv4", "open"])
def test_routes(auth: str, tmp_path: Path) -> None:
    runtime = build_runtime(Settings(data_dir=tmp_path, auth=auth))
    try:
        app = create_app(runtime)
        health = _request(app, "GET", "/health")
        assert health.json() == {"status": "ok", "version": __version__, "database": "sqlite", "auth": auth}
        assert _request(app, "POST", "/health").status_code == 405
        assert _request(app, "GET", "/console").headers["location"] == "/console/"
        console = _request(app, "GET", "/console/")
        if auth == "sigv4":  # a console session, signed in with an access key
            assert (console.status_code, console.headers["location"]) == (303, "/console/signin?next=%2Fconsole%2F")
        else:
            assert console.status_code == 200 and "<html" in console.text
        # Every other path is the AWS API's, whatever it looks like.
        expected = "AccessDeniedException" if auth == "sigv4" else "UnknownOperationException"
        for path in ("/healthz", "/consoles", "/console-x", "/"):
            assert _request(app, "GET", path).headers["x-amzn-ErrorType"] == expected, path
        if auth == "sigv4":
            refused = _request(app, "GET", "/domains")
            assert (refused.status_code, refused.headers["x-amzn-ErrorType"]) == (403, "AccessDeniedException")
        else:
            assert _request(app, "GET", "/domains").json() == {"Items": []}
    finally:
        runtime.close()


def test_root_sends_only_its_own_pages_to_the_web_app() -> None:
    root = Root.__new__(Root)
    assert all(root.is_web(path) for path in ("/health", "/console", "/console/", "/console/signin"))
    assert not any(root.is_web(path) for path in ("/", "/healthz", "/consoles", "/console-x", "/domains/console"))


# -- the background job loop


def test_a_failing_background_job_is_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    third = anyio.Event()

    def job() -> None:  # in a worker thread
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("boom")
        if len(calls) == 3:
            anyio.from_thread.run_sync(third.set)

    async def main() -> None:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_every, 0, job, "test job")
                await third.wait()
                tasks.cancel_scope.cancel()

    with caplog.at_level(logging.ERROR, logger="openprofiles.app"):
        anyio.run(main)
    assert len(calls) == 3
    (record,) = caplog.records
    assert record.getMessage() == "test job failed; retrying at the next interval" and record.exc_info is not None
