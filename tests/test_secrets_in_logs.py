"""No secret in the server's log at any level: a server at --log-level debug, every connector used through
boto3 with a distinctive secret (a connector profile refused for a wrong one, then created, its entities
listed, a flow run), and the log searched for each secret afterwards."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FAKE_VENDOR_HOSTS, LiveServer, live_server
from tests.connectors.test_singer import write_tap
from tests.fakes import marketo, salesforce, servicenow, slack, zendesk
from tests.fakes.server import serving
from tests.harness import MotoServer, PostgresCluster
from tests.live_flows import (
    PROFILE_MEMBERS,
    create_profile,
    entity_names,
    into_profiles,
    map_all,
    processed,
    run_on_demand,
)

#: One secret per place a secret goes; none may ever reach the log.
SECRETS = {name: f"SECRET-{name}-{uuid.uuid4().hex}" for name in (
    "salesforce-token", "zendesk-token", "servicenow-password", "slack-token", "marketo-client-secret",
    "sql-password", "sql-connection-password", "aws-secret-key", "wrong")}
#: The test tap's fixed token (tests/fakes/singer_tap.py), distinctive enough to search for.
SINGER_TOKEN = "let-me-in"
ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the Files and Singer sources live, outside the server's data directory."""
    return tmp_path_factory.mktemp("sources").resolve()


@pytest.fixture(scope="module", params=["sqlite"])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, root: Path,
         postgres: PostgresCluster, moto: MotoServer) -> Iterator[LiveServer]:
    """A server at --log-level debug with every connector enabled, its own AWS secret key distinctive."""
    tap = write_tap(root / "bin" / "tap-fake")
    (root / "files").mkdir()
    named = postgres.url(postgres.new_database().rpartition("/")[2]).replace(
        "postgres@", f"postgres:{SECRETS['sql-connection-password']}@")
    args = (*FAKE_VENDOR_HOSTS, "--log-level", "debug",
            "--sql-url-pattern", f"postgresql://*@127.0.0.1:{postgres.port}/*", "--sql-connection", f"named={named}",
            "--singer-tap", f"fake={tap}", "--files-root", str(root / "files"),
            "--aws-resource", f"{ACCOUNT}=arn:aws:s3:::*")
    env = {**moto.env(), "AWS_SECRET_ACCESS_KEY": SECRETS["aws-secret-key"]}
    with live_server(request, tmp_path_factory.mktemp("secrets-log"), env=env, args=args) as server:
        yield server


def server_log(live: LiveServer) -> str:
    time.sleep(0.2)  # lines of the last request's threads
    return (live.server.data_dir / f"server-{live.server.port}.log").read_text()


def assert_not_logged(live: LiveServer, *secrets: str) -> None:
    log = server_log(live)
    assert " DEBUG " in log or " INFO " in log  # the log is being written, at the levels below WARNING
    leaked = [secret for secret in secrets if secret in log]
    assert not leaked, [line for line in log.splitlines() if any(s in line for s in leaked)][:5]


def land(appflow: Any, cp: Any, name: str, connector_type: str, source: dict[str, Any], id_field: str,
         profile: bool = True) -> None:
    """A domain and object type keyed by `id_field`, and an on-demand flow from `source` into it, run once."""
    cp.create_domain(DomainName=name, DefaultExpirationDays=5)
    cp.put_profile_object_type(
        DomainName=name, ObjectTypeName="records", Description="records", AllowProfileCreation=True,
        Fields={"id": {"Source": f"_source.{id_field}", "Target": "_profile.AccountNumber"}},
        Keys={"recordId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]})
    member = PROFILE_MEMBERS.get(connector_type, connector_type)
    appflow.create_flow(
        flowName=name, triggerConfig={"triggerType": "OnDemand"}, tasks=map_all(connector_type),
        sourceFlowConfig={"connectorType": connector_type, **({"connectorProfileName": name} if profile else {}),
                          "sourceConnectorProperties": {member: source}},
        destinationFlowConfigList=into_profiles(name, "records"))
    assert processed(run_on_demand(appflow, name)) > 0


def refused(appflow: Any, *args: Any, **kwargs: Any) -> None:
    """CreateConnectorProfile with a wrong secret is refused (the error path logs nothing secret either)."""
    with pytest.raises(appflow.exceptions.ClientError):
        create_profile(appflow, *args, **kwargs)


def test_salesforce(live: LiveServer, appflow: Any, cp: Any, unique: str) -> None:
    fake = salesforce.make_app(records=5)
    fake.tokens[SECRETS["salesforce-token"]] = time.monotonic()
    with serving(fake) as url:
        properties = {"instanceUrl": url, "isSandboxEnvironment": False}
        refused(appflow, unique, "Salesforce", properties, {"accessToken": SECRETS["wrong"]})
        create_profile(appflow, unique, "Salesforce", properties, {"accessToken": SECRETS["salesforce-token"]})
        assert "Contact" in entity_names(appflow, unique)
        land(appflow, cp, unique, "Salesforce", {"object": "Contact", "dataTransferApi": "REST_SYNC"}, "Id")
    assert_not_logged(live, SECRETS["salesforce-token"], SECRETS["wrong"])


def test_zendesk(live: LiveServer, appflow: Any, cp: Any, unique: str) -> None:
    fake = zendesk.FakeZendesk(users=3)
    fake.tokens.add(SECRETS["zendesk-token"])
    with serving(fake.app) as url:
        credentials = {"clientId": "client", "clientSecret": "secret"}
        refused(appflow, unique, "Zendesk", {"instanceUrl": url}, {**credentials, "accessToken": SECRETS["wrong"]})
        create_profile(appflow, unique, "Zendesk", {"instanceUrl": url},
                       {**credentials, "accessToken": SECRETS["zendesk-token"]})
        assert "users" in entity_names(appflow, unique)
        land(appflow, cp, unique, "Zendesk", {"object": "users"}, "id")
    assert_not_logged(live, SECRETS["zendesk-token"], SECRETS["wrong"])


def test_servicenow(live: LiveServer, appflow: Any, cp: Any, unique: str) -> None:
    fake = servicenow.FakeServiceNow(users=3)
    fake.users[servicenow.USER[0]] = SECRETS["servicenow-password"]
    with serving(fake.app) as url:
        user = servicenow.USER[0]
        refused(appflow, unique, "Servicenow", {"instanceUrl": url}, {"username": user, "password": SECRETS["wrong"]})
        create_profile(appflow, unique, "Servicenow", {"instanceUrl": url},
                       {"username": user, "password": SECRETS["servicenow-password"]})
        assert "sys_user" in entity_names(appflow, unique)
        land(appflow, cp, unique, "Servicenow", {"object": "sys_user"}, "sys_id")
    assert_not_logged(live, SECRETS["servicenow-password"], SECRETS["wrong"])


def test_slack(live: LiveServer, appflow: Any, cp: Any, unique: str) -> None:
    _, app = slack.make_app({}, [slack.make_user(n) for n in range(1, 4)], token=SECRETS["slack-token"])
    with serving(app) as url:
        credentials = {"clientId": "c", "clientSecret": "s"}
        refused(appflow, unique, "Slack", {"instanceUrl": url}, {**credentials, "accessToken": SECRETS["wrong"]})
        create_profile(appflow, unique, "Slack", {"instanceUrl": url},
                       {**credentials, "accessToken": SECRETS["slack-token"]})
        assert "users" in entity_names(appflow, unique)
        land(appflow, cp, unique, "Slack", {"object": "users"}, "id")
    assert_not_logged(live, SECRETS["slack-token"], SECRETS["wrong"])


def test_marketo_whose_client_secret_goes_in_a_query_string(live: LiveServer, appflow: Any, cp: Any,
                                                             unique: str) -> None:
    _, app = marketo.make_app(3, client_secret=SECRETS["marketo-client-secret"])
    with serving(app) as url:
        credentials = {"clientId": marketo.CLIENT_ID}
        refused(appflow, unique, "Marketo", {"instanceUrl": url}, {**credentials, "clientSecret": SECRETS["wrong"]})
        create_profile(appflow, unique, "Marketo", {"instanceUrl": url},
                       {**credentials, "clientSecret": SECRETS["marketo-client-secret"]})
        assert "leads" in entity_names(appflow, unique)
        land(appflow, cp, unique, "Marketo", {"object": "leads"}, "id")
    assert_not_logged(live, SECRETS["marketo-client-secret"], SECRETS["wrong"])


def people_database(postgres: PostgresCluster) -> str:
    import psycopg

    url = postgres.new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE people (id integer PRIMARY KEY, email text)")
        conn.execute("INSERT INTO people VALUES (1, 'a@example.com'), (2, 'b@example.com')")
    return url


def test_sql_with_a_password_and_a_named_connection(live: LiveServer, appflow: Any, cp: Any, unique: str,
                                                    postgres: PostgresCluster) -> None:
    url = people_database(postgres)
    basic = {"authenticationType": "BASIC", "basic": {"username": "postgres", "password": SECRETS["sql-password"]}}
    # The test cluster trusts loopback: any password connects, so the flow runs with the distinctive one.
    create_profile(appflow, unique, "CustomConnector", {"url": url}, basic, label="SQL")
    assert "people" in entity_names(appflow, unique)
    land(appflow, cp, unique, "CustomConnector", {"entityName": "people"}, "id")
    named = f"{unique}n"
    create_profile(appflow, named, "CustomConnector", {"connection": "named"}, None, label="SQL")
    entity_names(appflow, named)
    assert_not_logged(live, SECRETS["sql-password"], SECRETS["sql-connection-password"])


def test_s3_with_the_servers_own_aws_secret(live: LiveServer, appflow: Any, cp: Any, unique: str,
                                            moto: MotoServer) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=unique)
    s3.put_object(Bucket=unique, Key="people/a.csv", Body=b"id,email\n1,a@example.com\n")
    create_profile(appflow, unique, "S3", {})
    assert unique in entity_names(appflow, unique)
    land(appflow, cp, unique, "S3", {"bucketName": unique, "bucketPrefix": "people"}, "id", profile=False)
    assert_not_logged(live, SECRETS["aws-secret-key"])


def test_files_and_singer(live: LiveServer, appflow: Any, cp: Any, unique: str, root: Path) -> None:
    (root / "files" / f"{unique}.json").write_text(json.dumps([{"id": 1, "email": "a@example.com"}]))
    create_profile(appflow, unique, "CustomConnector", {"path": str(root / "files")}, label="Files")
    land(appflow, cp, unique, "CustomConnector", {"entityName": f"{unique}.json"}, "id")

    data = root / f"{unique}-singer.json"
    data.write_text(json.dumps({"users": [{"id": 1, "email": "a@example.com", "updated_at": "2024-01-01T00:00:00Z"}]}))
    token = {"authenticationType": "CUSTOM", "custom": {"customAuthenticationType": "token",
                                                        "credentialsMap": {"token": SINGER_TOKEN}}}
    singer = f"{unique}s"
    create_profile(appflow, singer, "CustomConnector", {"executable": "fake", "config": json.dumps({"data": str(data)})},
                   token, label="Singer")
    land(appflow, cp, singer, "CustomConnector", {"entityName": "users"}, "id")
    assert_not_logged(live, SINGER_TOKEN)


def test_no_secret_anywhere_in_the_log(live: LiveServer) -> None:
    assert_not_logged(live, *SECRETS.values(), SINGER_TOKEN)
