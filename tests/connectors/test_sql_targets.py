"""Which databases a tenant's SQL connector profile reaches: only what the operator allow-lists (named
connections, URL patterns), never the server's own database or data directory, SQLite read-only, and
nothing from the server's PostgreSQL environment; through boto3 on SQLite and PostgreSQL servers."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from openprofiles.connectors.grants import Grants
from openprofiles.connectors.sql_targets import canonical, target
from tests.conftest import BACKENDS, FAKE_VENDOR_HOSTS, LiveServer, live_server
from tests.harness import PostgresCluster, Server
from tests.live_flows import create_profile, entity_names

NAMED_SECRET = "n4med-s3cret"
ROLE_PASSWORD = "r0le-pa55word"


def sqlite_file(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS customers (id INTEGER PRIMARY KEY, email TEXT)")
        connection.execute("INSERT OR REPLACE INTO customers VALUES (1, 'ann@example.com')")
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of SQLite files tenants may name."""
    return tmp_path_factory.mktemp("sql-sources").resolve()


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose operator allows any SQLite file below the test run's temp directory (where the
    server's own data directory is too), any database on the test cluster, and the named connection
    `crm` (a PostgreSQL URL with a password)."""
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    named = cluster.new_database().replace("postgres@", f"postgres:{NAMED_SECRET}@")
    sa_engine = sa.create_engine(named, poolclass=sa.NullPool)
    with sa_engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE accounts (id int PRIMARY KEY, email text)"))
    sa_engine.dispose()
    args = (*FAKE_VENDOR_HOSTS, "--sql-url-pattern", f"sqlite:///{tmp_path_factory.getbasetemp().resolve()}/*",
            "--sql-url-pattern", f"postgresql://*@127.0.0.1:{cluster.port}/*",
            "--sql-url-pattern", f"postgresql://*@localhost:{cluster.port}/*",
            "--sql-connection", f"crm={named}")
    with live_server(request, tmp_path_factory.mktemp(f"sql-targets-{request.param}"), args=args) as server:
        yield server


def refused(appflow: Any, name: str, properties: dict[str, Any],
            credentials: dict[str, Any] | None = None) -> str:
    with pytest.raises(appflow.exceptions.ValidationException) as error:
        create_profile(appflow, name, "CustomConnector", properties, credentials, label="SQL")
    return str(error.value.response["Error"]["Message"])


def test_the_servers_own_database_and_data_directory_are_refused(appflow: Any, live: LiveServer, unique: str,
                                                                  sources: Path) -> None:
    data = live.server.data_dir.resolve()
    own = [f"sqlite:///{data}/openprofiles.db", f"sqlite:///{data}/../{data.name}/openprofiles.db"]
    (sources / f"{unique}.db").symlink_to(data / "openprofiles.db")  # matches the pattern, leads to the data dir
    own.append(f"sqlite:///{sources}/{unique}.db")
    if live.backend == "postgresql":
        assert live.server.database_url
        own += [live.server.database_url, live.server.database_url.replace("127.0.0.1", "localhost")]
    for url in own:
        assert "own database" in refused(appflow, unique, {"url": url}), url
    assert unique not in str(appflow.describe_connector_profiles())


def test_sqlite_opens_read_only_and_uri_options_are_refused(appflow: Any, live: LiveServer, unique: str,
                                                            sources: Path) -> None:
    for url in (f"sqlite:///{sources}/{unique}-a.db?mode=rwc", f"sqlite:///file:{sources}/{unique}-b.db?mode=rwc&uri=true",
                f"sqlite:///{sources}/{unique}-c.db?vfs=unix-none&immutable=1"):
        assert "may not set" in refused(appflow, unique, {"url": url}), url
    with pytest.raises(appflow.exceptions.ConnectorServerException, match="does not exist"):
        create_profile(appflow, unique, "CustomConnector", {"url": f"sqlite:///{sources}/{unique}-d.db"},
                       label="SQL")
    assert not [path.name for path in sources.iterdir() if path.name.startswith(unique)]

    url = sqlite_file(sources / f"{unique}.db")
    create_profile(appflow, unique, "CustomConnector", {"url": url}, label="SQL")
    assert entity_names(appflow, unique) == ["customers"]


def test_a_url_matching_no_pattern_is_refused(appflow: Any, live: LiveServer, unique: str,
                                              postgres: PostgresCluster) -> None:
    outside = Path(tempfile.mkdtemp(prefix="openprofiles-elsewhere-")).resolve()  # not below the test run's temp
    elsewhere = sqlite_file(outside / "elsewhere.db")
    database = postgres.new_database().rsplit("/", 1)[1]
    basic = {"authenticationType": "BASIC", "basic": {"username": "postgres", "password": "x"}}
    for url in (elsewhere, f"postgresql://postgres@127.0.0.2:{postgres.port}/{database}",
                f"postgresql://postgres@evil.example/x@127.0.0.1:{postgres.port}/{database}",
                f"mysql+pymysql://root@127.0.0.1:{postgres.port}/{database}"):
        message = refused(appflow, unique, {"url": url})
        assert "--sql-url-pattern" in message or "--sql-connection" in message, (url, message)
    message = refused(appflow, unique, {"url": f"postgresql://postgres@127.0.0.1:{postgres.port}/{database}"
                                               "?host=/tmp&passfile=/root/.pgpass"}, basic)
    assert "may not set host, passfile" in message
    create_profile(appflow, unique, "CustomConnector",
                   {"url": f"postgresql://postgres@127.0.0.1:{postgres.port}/{database}"}, basic, label="SQL")
    shutil.rmtree(outside)


def test_a_named_connection_works_and_its_credentials_never_come_back(appflow: Any, live: LiveServer,
                                                                      unique: str) -> None:
    assert "no SQL connection named 'nope'" in refused(appflow, unique, {"connection": "nope"})
    with pytest.raises(appflow.exceptions.ConnectorServerException, match="not both"):
        create_profile(appflow, unique, "CustomConnector", {"connection": "crm", "url": "sqlite://"}, label="SQL")
    create_profile(appflow, unique, "CustomConnector", {"connection": "crm"}, label="SQL")
    assert entity_names(appflow, unique) == ["accounts"]
    described = appflow.describe_connector_profiles(connectorProfileNames=[unique])["connectorProfileDetails"]
    assert described[0]["connectorProfileProperties"]["CustomConnector"]["profileProperties"] == {"connection": "crm"}
    assert NAMED_SECRET not in json.dumps(described, default=str)
    assert NAMED_SECRET not in json.dumps(appflow.describe_connector_profiles(), default=str)


# --- the server's own PostgreSQL environment ---------------------------------------------------------


class PasswordCluster(PostgresCluster):
    """A cluster that asks every client for a password (scram-sha-256), its superuser's being ROLE_PASSWORD."""

    def start(self) -> None:
        secret = self.root / "pw"
        secret.write_text(ROLE_PASSWORD)
        if self.as_root:
            shutil.chown(secret, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "scram-sha-256", "-U", "postgres", "--pwfile", str(secret),
                  "--no-sync", "-E", "UTF8")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")


@pytest.fixture(scope="module")
def password_cluster(postgres: PostgresCluster) -> Iterator[PasswordCluster]:
    cluster = PasswordCluster()
    cluster.start()
    yield cluster
    cluster.stop()


def test_a_url_without_a_password_does_not_use_the_servers_pg_environment(
        password_cluster: PasswordCluster, tmp_path: Path, unique: str) -> None:
    """The server runs with PGPASSWORD, PGPASSFILE, ~/.pgpass and PGUSER/PGDATABASE all giving the role's
    password; a tenant's URL without a password is refused, with it connects."""
    home = tmp_path / "home"
    home.mkdir()
    line = f"*:*:*:*:{ROLE_PASSWORD}\n"
    for passfile in (home / ".pgpass", tmp_path / "passfile"):
        passfile.write_text(line)
        passfile.chmod(0o600)
    port = password_cluster.port
    server = Server(tmp_path / "data", None, args=("--sql-url-pattern", f"postgresql://*@127.0.0.1:{port}/*"))
    creds = server.create_key()
    with pytest.MonkeyPatch.context() as env:
        for name, value in {"PGPASSWORD": ROLE_PASSWORD, "PGPASSFILE": str(tmp_path / "passfile"), "HOME": str(home),
                            "PGUSER": "postgres", "PGDATABASE": "postgres", "PGHOST": "127.0.0.1",
                            "PGPORT": str(port)}.items():
            env.setenv(name, value)
        server.start()
    try:
        appflow = server.client("appflow", creds)
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        with pytest.raises(appflow.exceptions.ConnectorAuthenticationException) as error:
            create_profile(appflow, unique, "CustomConnector", {"url": url}, label="SQL")
        assert "password" in str(error.value) and ROLE_PASSWORD not in str(error.value)
        basic = {"authenticationType": "BASIC", "basic": {"username": "postgres", "password": ROLE_PASSWORD}}
        create_profile(appflow, unique, "CustomConnector", {"url": url}, basic, label="SQL")
    finally:
        server.stop()
    assert ROLE_PASSWORD not in server.output


# --- units: the canonical form patterns match, and the connection options ------------------------------


def test_patterns_match_the_canonical_form_with_each_part_encoded() -> None:
    grants = Grants(sql_url_patterns=("postgresql://*@db.internal:5432/crm",))
    assert canonical(sa.make_url("postgresql://u@db.internal/crm")) == "postgresql://u@db.internal:5432/crm"
    target({"url": "postgresql://u@db.internal/crm"}, {}, grants)
    for sneaky in ("postgresql://u@evil.example/x@db.internal:5432/crm", "postgresql://u@evil.example/crm",
                   "postgresql://u@db.internal:5433/crm"):
        with pytest.raises(Exception, match="matches no SQL URL pattern"):
            target({"url": sneaky}, {}, grants)


def test_a_tenant_postgresql_connection_sets_every_environment_parameter() -> None:
    from psycopg import pq

    found = target({"url": "postgresql://u@db.internal/crm"}, {}, Grants(sql_url_patterns=("*",)))
    options = found.connect_args
    assert options["password"] == "" and options["passfile"] == os.path.join(os.devnull, "none")
    assert options["sslcertmode"] == "disable" and options["gssencmode"] == "disable"
    with_variables = {o.keyword.decode() for o in pq.Conninfo.get_defaults() if o.envvar} - {"service"}
    assert with_variables - {"host", "port", "dbname", "user"} <= set(options)
