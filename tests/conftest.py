"""Fixtures: PostgreSQL for the run, live servers on SQLite and PostgreSQL, boto3 clients."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from openprofiles.storage.database import Database
from tests.harness import IN_CI, Credentials, MotoServer, PostgresCluster, Server

BACKENDS = ["sqlite", "postgresql"]
#: The operator setting that lets connectors reach the tests' fake vendor servers (on loopback).
FAKE_VENDOR_HOSTS = ("--allow-connector-host", "127.0.0.1")
#: The operator setting that lets the tests' default account read every S3 bucket with the server's credentials.
ANY_BUCKET = ("--aws-resource", "000000000000=arn:aws:s3:::*")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    try:
        cluster = PostgresCluster()
        cluster.start()
    except Exception as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true: {error}")
        pytest.skip(f"PostgreSQL not available: {error}")
    yield cluster
    cluster.stop()


def database_url_for(backend: str, request: pytest.FixtureRequest) -> str | None:
    """None (SQLite in the data dir) or a fresh PostgreSQL database."""
    if backend == "sqlite":
        return None
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.new_database()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database on each backend, as a URL."""
    return database_url_for(backend, request) or f"sqlite:///{tmp_path / 'openprofiles.db'}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A fresh, migrated database on each backend."""
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server in `--auth open` mode on SQLite, one per test module."""
    server = Server(tmp_path_factory.mktemp("open"), None, auth="open")
    server.start()
    yield server
    server.stop()


class LiveServer:
    """A running server with one access key, and clients signed with it."""

    def __init__(self, server: Server, creds: Credentials, backend: str) -> None:
        self.server = server
        self.creds = creds
        self.backend = backend

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def client(self, service: str = "customer-profiles", creds: Credentials | None = None, **kwargs: Any) -> Any:
        return self.server.client(service, creds or self.creds, **kwargs)


@contextmanager
def live_server(request: pytest.FixtureRequest, data_dir: Path, env: Mapping[str, str] | None = None,
                args: tuple[str, ...] = FAKE_VENDOR_HOSTS) -> Iterator[LiveServer]:
    """A server on a fresh database of the backend `request.param` names, started with `env` set and
    `serve` options `args` (by default: connectors may reach the fake vendor servers on loopback)."""
    backend = str(request.param)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        # The scheduler ticks every second (10 s by default): scheduled runs fire soon after their start.
        server = Server(data_dir, database_url_for(backend, request), args=("--scheduler-interval", "1", *args))
        creds = server.create_key()
        server.start()
    try:
        yield LiveServer(server, creds, backend)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def files_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory the `live` servers let the Files connector read (--files-root)."""
    return tmp_path_factory.mktemp("files-root").resolve()


@pytest.fixture
def files_dir(files_root: Path) -> Path:
    """A fresh directory inside `files_root`, for a test's Files source."""
    return Path(tempfile.mkdtemp(dir=files_root))


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per test module and backend (tests use unique resource names); its Files connector
    may read `files_root`, and its default account any S3 bucket."""
    files = ("--files-root", str(request.getfixturevalue("files_root")))
    with live_server(request, tmp_path_factory.mktemp(f"live-{request.param}"),
                     args=(*FAKE_VENDOR_HOSTS, *files, *ANY_BUCKET)) as server:
        yield server


@pytest.fixture
def cp(live: LiveServer) -> Any:
    return live.client("customer-profiles")


@pytest.fixture
def appflow(live: LiveServer) -> Any:
    return live.client("appflow")


@pytest.fixture
def unique() -> str:
    """A fresh resource name."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """moto's server mode (S3, SQS, KMS) for the whole run."""
    server = MotoServer()
    try:
        server.start()
    except Exception as error:
        if IN_CI:
            pytest.fail(f"moto server is required under CI=true: {error}")
        pytest.skip(f"moto server not available: {error}")
    yield server
    server.stop()


@pytest.fixture
def aws_env(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """boto3 in this process talks to the moto server."""
    for name, value in moto.env().items():
        monkeypatch.setenv(name, value)
    return moto
