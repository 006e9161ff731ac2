"""services/appflow/connector_registrations.py: custom connector registration through boto3 (contract
tests: a plugin package, tests/fakes/plugin, declaring `openprofiles.connectors` entry points, on the
server's PYTHONPATH is registered by name, then a connector profile and a flow of that CustomConnector
land profiles), and the service in-process (validation, idempotency, per-account labels, plugins that
are disabled or uninstalled); on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from openprofiles.app import Runtime
from openprofiles.connectors.grants import Grants
from openprofiles.connectors.registry import ConnectorRegistry
from openprofiles.errors import AlreadyExists, Conflict, Invalid, NotFound
from openprofiles.services.appflow.connector_registrations import (
    IDEMPOTENCY_WINDOW,
    ConnectorRegistrationService,
    PluginUnusable,
    connector_arn,
    entry_point_of,
)
from tests.conftest import BACKENDS, LiveServer, database_url_for
from tests.harness import Server
from tests.live_flows import create_profile, run_on_demand
from tests.services.appflow.runtimes import caller, lambda_arn, roster_config, roster_dir, runtime_for

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "fakes" / "plugin"
#: What the operator enables (--enable-plugin): the test plugin's entry points but `roster-off`, and two
#: names no installed package declares.
ENABLED = ("roster", "broken", "not-a-connector", "no-such-plugin", "nope")


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that can import the test plugin package (and no other test module's server can)."""
    backend = str(request.param)
    server = Server(tmp_path_factory.mktemp(f"plugins-{backend}"), database_url_for(backend, request),
                    args=_enabling(ENABLED))
    creds = server.create_key()
    _start(server)
    yield LiveServer(server, creds, backend)
    server.stop()


def _enabling(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(arg for name in names for arg in ("--enable-plugin", name))


def _start(server: Server) -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(PLUGIN_DIR), os.environ.get("PYTHONPATH")) if p))
        server.start()


def _lambda(live: LiveServer, function: str) -> dict[str, Any]:
    return {"lambda": {"lambdaArn": f"arn:aws:lambda:us-east-1:{live.creds.account_id}:function:{function}"}}


def _register(appflow: Any, live: LiveServer, label: str, function: str = "roster", **extra: Any) -> str:
    return str(appflow.register_connector(
        connectorLabel=label, description="Team rosters", connectorProvisioningType="LAMBDA",
        connectorProvisioningConfig=_lambda(live, function), **extra,
    )["connectorArn"])


def _roster(directory: Path, records: list[dict[str, Any]], api_key: str = "k-123") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ".apikey").write_text(api_key)
    (directory / "members.json").write_text(json.dumps(records))


def _profile(appflow: Any, name: str, label: str, directory: Path, api_key: str = "k-123") -> str:
    return create_profile(appflow, name, "CustomConnector", {"directory": str(directory)},
                          {"authenticationType": "APIKEY", "apiKey": {"apiKey": api_key}}, label=label)


def test_register_describe_list_update_unregister(appflow: Any, live: LiveServer, unique: str) -> None:
    arn = _register(appflow, live, unique)
    assert arn == f"arn:aws:appflow:us-east-1:{live.creds.account_id}:connector/{unique}"

    config = appflow.describe_connector(connectorType="CustomConnector", connectorLabel=unique)["connectorConfiguration"]
    assert config["connectorArn"] == arn and config["connectorLabel"] == unique
    assert config["connectorDescription"] == "Team rosters"
    assert config["connectorName"] == "roster"
    assert (config["connectorOwner"], config["connectorVersion"]) == ("openprofiles-roster", "1.2.0")
    assert config["connectorProvisioningType"] == "LAMBDA"
    assert config["connectorProvisioningConfig"]["lambda"]["lambdaArn"].endswith(":function:roster")
    assert config["registeredBy"] == live.creds.account_id and config["registeredAt"]
    assert config["canUseAsSource"] and "Event" in config["supportedTriggerTypes"]

    listed = {c.get("connectorLabel"): c for c in appflow.list_connectors()["connectors"]}
    assert listed[unique]["registeredAt"] and listed[unique]["connectorVersion"] == "1.2.0"
    assert "Files" in listed  # the built-ins are listed too
    described = appflow.describe_connectors(connectorTypes=["CustomConnector"])["connectors"]
    assert unique in {c["connectorLabel"] for c in described}

    updated = appflow.update_connector_registration(connectorLabel=unique, description="Rosters v2")
    assert updated["connectorArn"] == arn
    config = appflow.describe_connector(connectorType="CustomConnector", connectorLabel=unique)["connectorConfiguration"]
    assert config["connectorDescription"] == "Rosters v2"

    appflow.unregister_connector(connectorLabel=unique)
    with pytest.raises(appflow.exceptions.ResourceNotFoundException):
        appflow.describe_connector(connectorType="CustomConnector", connectorLabel=unique)
    with pytest.raises(appflow.exceptions.ResourceNotFoundException):
        appflow.unregister_connector(connectorLabel=unique)
    with pytest.raises(appflow.exceptions.ResourceNotFoundException):
        appflow.update_connector_registration(connectorLabel=unique, description="gone")


def test_registration_is_per_account(appflow: Any, live: LiveServer, unique: str) -> None:
    _register(appflow, live, unique)
    other = live.client("appflow", creds=live.server.create_key("111122223333"))
    assert unique not in {c.get("connectorLabel") for c in other.list_connectors()["connectors"]}
    _register(other, live, unique)  # the same label in another account is free
    appflow.unregister_connector(connectorLabel=unique)
    assert unique in {c.get("connectorLabel") for c in other.list_connectors()["connectors"]}


def test_refusals(appflow: Any, live: LiveServer, unique: str) -> None:
    _register(appflow, live, unique)
    with pytest.raises(appflow.exceptions.ConflictException) as error:
        _register(appflow, live, unique)
    assert unique in error.value.response["Error"]["Message"]
    with pytest.raises(appflow.exceptions.ConflictException) as error:
        _register(appflow, live, "Files")
    assert "built-in" in error.value.response["Error"]["Message"]

    with pytest.raises(appflow.exceptions.ResourceNotFoundException) as error:
        _register(appflow, live, unique + "x", function="no-such-plugin")
    assert "no-such-plugin" in error.value.response["Error"]["Message"]
    with pytest.raises(appflow.exceptions.ConnectorServerException) as error:
        _register(appflow, live, unique + "x", function="broken")
    assert "NoSuchClass" in error.value.response["Error"]["Message"]
    with pytest.raises(appflow.exceptions.ConnectorServerException) as error:
        _register(appflow, live, unique + "x", function="not-a-connector")
    assert "Connector" in error.value.response["Error"]["Message"]

    with pytest.raises(appflow.exceptions.ValidationException) as error:
        appflow.register_connector(connectorLabel=unique + "x", connectorProvisioningType="LAMBDA",
                                   connectorProvisioningConfig={"lambda": {
                                       "lambdaArn": "arn:aws:s3:us-east-1:123456789012:roster"}})
    assert "lambdaArn" in error.value.response["Error"]["Message"]
    with pytest.raises(appflow.exceptions.ValidationException) as error:
        appflow.register_connector(connectorLabel=unique + "x", connectorProvisioningType="LAMBDA")
    assert "lambdaArn" in error.value.response["Error"]["Message"]
    with pytest.raises(appflow.exceptions.ResourceNotFoundException):
        appflow.update_connector_registration(connectorLabel=unique, connectorProvisioningConfig=_lambda(live, "nope"))


def test_client_token_idempotency(appflow: Any, live: LiveServer, unique: str) -> None:
    first = _register(appflow, live, unique, clientToken=f"token-{unique}")
    assert _register(appflow, live, unique, clientToken=f"token-{unique}") == first
    with pytest.raises(appflow.exceptions.ConflictException) as error:
        appflow.register_connector(connectorLabel=unique, description="Something else",
                                   connectorProvisioningConfig=_lambda(live, "roster"),
                                   clientToken=f"token-{unique}")
    assert "clientToken" in error.value.response["Error"]["Message"]


def test_label_defaults_to_the_entry_point(appflow: Any, live: LiveServer) -> None:
    arn = appflow.register_connector(connectorProvisioningConfig=_lambda(live, "roster"))["connectorArn"]
    assert arn.endswith(":connector/roster")
    appflow.unregister_connector(connectorLabel="roster")


def test_plugin_connector_lands_profiles(appflow: Any, cp: Any, live: LiveServer, unique: str,
                                         tmp_path: Path) -> None:
    directory = tmp_path / "roster"
    _roster(directory, [{"id": 1, "email": "Ann@Example.com", "name": "Ann"},
                        {"id": 2, "email": "bob@example.com", "name": "Bob"}])
    with pytest.raises(appflow.exceptions.ValidationException) as error:
        _profile(appflow, unique, unique, directory)  # not registered yet
    assert unique in error.value.response["Error"]["Message"]

    _register(appflow, live, unique)
    with pytest.raises(appflow.exceptions.ConnectorAuthenticationException):
        _profile(appflow, unique, unique, directory, api_key="wrong")
    _profile(appflow, unique, unique, directory)
    entities = appflow.list_connector_entities(connectorProfileName=unique)["connectorEntityMap"]
    assert [e["name"] for group in entities.values() for e in group] == ["members"]

    cp.create_domain(DomainName=unique, DefaultExpirationDays=30)
    cp.put_profile_object_type(
        DomainName=unique, ObjectTypeName="member", Description="Roster member", AllowProfileCreation=True,
        Fields={"id": {"Source": "_source.id", "Target": "_profile.AccountNumber"},
                "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
                "name": {"Source": "_source.name", "Target": "_profile.FirstName"}},
        Keys={"memberId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]},
    )
    op = {"CustomConnector": "NO_OP"}
    appflow.create_flow(
        flowName=unique,
        triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "CustomConnector", "connectorProfileName": unique,
                          "sourceConnectorProperties": {"CustomConnector": {"entityName": "members"}}},
        destinationFlowConfigList=[{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": unique, "objectTypeName": "member"}}}],
        tasks=[{"taskType": "Map", "sourceFields": [f], "destinationField": f, "connectorOperator": op}
               for f in ("id", "email", "name")],
    )
    assert appflow.list_flows()["flows"] and any(
        f["flowName"] == unique and f.get("sourceConnectorLabel") == unique for f in appflow.list_flows()["flows"])
    record = run_on_demand(appflow, unique)
    assert record["executionStatus"] == "Successful", record
    assert record["executionResult"]["recordsProcessed"] == 2
    found = cp.search_profiles(DomainName=unique, KeyName="memberId", Values=["2"])["Items"]
    assert [p["FirstName"] for p in found] == ["Bob"]

    # In use: unregistering needs forceDelete; afterwards the flow's runs fail, naming the label.
    with pytest.raises(appflow.exceptions.ConflictException) as error:
        appflow.unregister_connector(connectorLabel=unique)
    assert unique in error.value.response["Error"]["Message"]
    appflow.unregister_connector(connectorLabel=unique, forceDelete=True)
    record = run_on_demand(appflow, unique)
    assert record["executionStatus"] == "Error"
    assert unique in record["executionResult"]["errorInfo"]["executionMessage"]


def test_a_plugin_the_operator_has_not_enabled_is_refused(appflow: Any, live: LiveServer, unique: str) -> None:
    """roster-off is installed (tests/fakes/plugin declares it) but not named by --enable-plugin."""
    with pytest.raises(appflow.exceptions.ValidationException) as error:
        _register(appflow, live, unique, function="roster-off")
    message = error.value.response["Error"]["Message"]
    assert "roster-off" in message and "--enable-plugin" in message and "OPENPROFILES_PLUGINS" in message
    assert unique not in {c.get("connectorLabel") for c in appflow.list_connectors()["connectors"]}

    _register(appflow, live, unique)
    with pytest.raises(appflow.exceptions.ValidationException) as error:
        appflow.update_connector_registration(connectorLabel=unique,
                                              connectorProvisioningConfig=_lambda(live, "roster-off"))
    assert "--enable-plugin roster-off" in error.value.response["Error"]["Message"]
    config = appflow.describe_connector(connectorType="CustomConnector", connectorLabel=unique)["connectorConfiguration"]
    assert config["connectorName"] == "roster"


def test_a_registered_plugin_stops_serving_once_the_operator_disables_it(
        appflow: Any, live: LiveServer, unique: str, tmp_path: Path) -> None:
    directory = tmp_path / "roster"
    _roster(directory, [{"id": 1, "email": "ann@example.com"}])
    _register(appflow, live, unique)
    _profile(appflow, unique, unique, directory)
    live.server.stop()
    live.server.args = _enabling(tuple(name for name in ENABLED if name != "roster"))
    try:
        _start(live.server)
        with pytest.raises(appflow.exceptions.ValidationException) as error:
            appflow.list_connector_entities(connectorProfileName=unique)
        assert "--enable-plugin roster" in error.value.response["Error"]["Message"]
        with pytest.raises(appflow.exceptions.ValidationException) as error:
            _profile(appflow, unique + "b", unique, directory)
        assert "--enable-plugin roster" in error.value.response["Error"]["Message"]
    finally:
        live.server.stop()
        live.server.args = _enabling(ENABLED)
        _start(live.server)
    assert appflow.list_connector_entities(connectorProfileName=unique)["connectorEntityMap"]


# In-process: the service itself, wired by the composition root (its operator enables runtimes.ENABLED).


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    with runtime_for(request, tmp_path_factory.mktemp("registrations")) as rt:
        yield rt


def _registrations(runtime: Runtime) -> ConnectorRegistrationService:
    return runtime.connector_profiles.registrations


def test_entry_point_of_is_the_lambda_function_name() -> None:
    base = "arn:aws:lambda:us-east-1:123456789012:function:roster"
    assert [entry_point_of(arn) for arn in (base, base + ":$LATEST", base + ":live")] == ["roster"] * 3
    for arn in ("roster", "arn:aws:s3:us-east-1:123456789012:roster", "arn:aws:lambda:us-east-1:123456789012:layer:x",
                "arn:aws:lambda:us-east-1:123456789012:function:", "arn:aws:lambda:us-east-1:123456789012:function"):
        with pytest.raises(Invalid, match="must be a Lambda function ARN"):
            entry_point_of(arn)
    assert connector_arn("eu-west-1", "123456789012", "roster") == "arn:aws:appflow:eu-west-1:123456789012:connector/roster"


def test_register_records_the_plugin_under_its_label(runtime: Runtime) -> None:
    ctx, other = caller(), caller()
    service = _registrations(runtime)
    registration = service.register(ctx, "teams", "Team rosters", "LAMBDA", lambda_arn(ctx, "roster:7"), None)
    assert registration.arn == connector_arn(ctx.region, ctx.account_id, "teams")
    r = registration.record
    assert (r.label, r.entry_point, r.description, r.registered_by) == ("teams", "roster", "Team rosters",
                                                                        ctx.account_id)
    assert r.lambda_arn == lambda_arn(ctx, "roster:7")
    assert registration.plugin is not None and registration.plugin.version == "1.2.0"
    assert service.register(ctx, None, None, None, lambda_arn(ctx, "roster"), None).record.label == "roster"
    assert [g.record.label for g in service.all(ctx)] == ["roster", "teams"]
    assert service.get(ctx, "teams").record == r

    with pytest.raises(AlreadyExists, match="teams is already registered"):
        service.register(ctx, "teams", None, None, lambda_arn(ctx, "roster"), None)
    assert service.register(other, "teams", None, None, lambda_arn(other, "roster"), None).record.account_id == (
        other.account_id)  # labels are per account
    with pytest.raises(NotFound, match="No connector with connectorLabel nope"):
        service.get(ctx, "nope")


@pytest.mark.parametrize(("label", "provisioning", "function", "error", "words"), [
    ("x", "HTTP", "roster", Invalid, "connectorProvisioningType HTTP"),
    ("x", "LAMBDA", None, Invalid, "lambdaArn is required"),
    ("Files", "LAMBDA", "roster", AlreadyExists, "built-in"),
    ("x", "LAMBDA", "roster-off", Invalid, "--enable-plugin roster-off"),
    ("x", "LAMBDA", "no-such-plugin", NotFound, "no installed package declares an entry point named no-such-plugin"),
    ("x", "LAMBDA", "broken", PluginUnusable, "NoSuchClass"),
    ("x", "LAMBDA", "not-a-connector", PluginUnusable, "not a subclass"),
])
def test_register_refusals_store_nothing(runtime: Runtime, label: str, provisioning: str, function: str | None,
                                         error: type[Exception], words: str) -> None:
    ctx = caller()
    with pytest.raises(error, match=words):
        _registrations(runtime).register(ctx, label, None, provisioning, function and lambda_arn(ctx, function),
                                         None)
    assert _registrations(runtime).all(ctx) == []


def test_a_client_token_replays_its_request_within_the_window(runtime: Runtime) -> None:
    ctx = caller()
    service = _registrations(runtime)
    first = service.register(ctx, "teams", "v1", None, lambda_arn(ctx, "roster"), "t-1")
    again = service.register(ctx, "teams", "v1", None, lambda_arn(ctx, "roster"), "t-1")
    assert again.record == first.record and again.plugin is not None
    for label, description in (("teams", "v2"), ("other", "v1")):
        with pytest.raises(Conflict, match="clientToken t-1 was used for a different request"):
            service.register(ctx, label, description, None, lambda_arn(ctx, "roster"), "t-1")
    later = caller(now=ctx.now + IDEMPOTENCY_WINDOW + timedelta(seconds=1), account_id=ctx.account_id)
    with pytest.raises(AlreadyExists):  # no longer a replay: a new request for a label that is taken
        service.register(later, "teams", "v1", None, lambda_arn(ctx, "roster"), "t-1")
    assert [g.record.label for g in service.all(ctx)] == ["teams"]


def test_update_changes_what_it_is_given_and_replays_a_token(runtime: Runtime) -> None:
    ctx = caller()
    service = _registrations(runtime)
    service.register(ctx, "teams", "v1", None, lambda_arn(ctx, "roster"), None)
    later = caller(now=ctx.now + timedelta(minutes=1), account_id=ctx.account_id)
    updated = service.update(later, "teams", "v2", None, "u-1").record
    assert (updated.description, updated.lambda_arn, updated.last_updated_at) == ("v2", lambda_arn(ctx, "roster"),
                                                                                   later.now)
    latest = caller(now=ctx.now + timedelta(minutes=2), account_id=ctx.account_id)
    assert service.update(latest, "teams", "v2", None, "u-1").record == updated  # replayed: nothing written
    with pytest.raises(Conflict, match="clientToken u-1"):
        service.update(latest, "teams", "v3", None, "u-1")

    moved = service.update(latest, "teams", None, lambda_arn(ctx, "roster:2"), None).record
    assert (moved.description, moved.lambda_arn, moved.entry_point) == ("v2", lambda_arn(ctx, "roster:2"), "roster")
    with pytest.raises(Invalid, match="--enable-plugin roster-off"):
        service.update(latest, "teams", None, lambda_arn(ctx, "roster-off"), None)
    with pytest.raises(NotFound, match="no-such-plugin"):
        service.update(latest, "teams", None, lambda_arn(ctx, "no-such-plugin"), None)
    with pytest.raises(Invalid, match="Lambda function ARN"):
        service.update(latest, "teams", None, "arn:aws:s3:::bucket", None)
    assert service.get(ctx, "teams").record == moved
    with pytest.raises(NotFound):
        service.update(latest, "gone", "v1", None, None)


def test_unregister_refuses_a_connector_profiles_use_unless_forced(runtime: Runtime, tmp_path: Path) -> None:
    ctx = caller()
    service = _registrations(runtime)
    service.register(ctx, "teams", None, None, lambda_arn(ctx, "roster"), None)
    runtime.connector_profiles.create(ctx, "crm", "CustomConnector", "teams", "Public",
                                      roster_config(roster_dir(tmp_path, [])), None)
    with pytest.raises(Conflict, match="used by connector profile"):
        service.unregister(ctx, "teams", force=False)
    assert service.connector_class(ctx.account_id, ctx.region, "teams").__name__ == "RosterConnector"
    service.unregister(ctx, "teams", force=True)
    with pytest.raises(Invalid, match="connectorLabel teams: no connector is registered"):
        service.connector_class(ctx.account_id, ctx.region, "teams")
    with pytest.raises(NotFound):
        service.unregister(ctx, "teams", force=True)


def test_a_registration_serves_only_while_its_plugin_is_enabled_and_installed(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = caller()
    _registrations(runtime).register(ctx, "teams", None, None, lambda_arn(ctx, "roster"), None)
    disabled = ConnectorRegistrationService(runtime.store, ConnectorRegistry(), Grants(plugins=frozenset()))
    with pytest.raises(Invalid, match="--enable-plugin roster"):
        disabled.connector_class(ctx.account_id, ctx.region, "teams")

    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(PLUGIN_DIR)])
    uninstalled = ConnectorRegistrationService(runtime.store, ConnectorRegistry(), runtime.grants)
    registration = uninstalled.get(ctx, "teams")
    assert registration.plugin is None and registration.record.entry_point == "roster"  # still described
    assert [r.plugin for r in uninstalled.all(ctx)] == [None]
    with pytest.raises(Invalid, match="entry point roster is no longer installed"):
        uninstalled.connector_class(ctx.account_id, ctx.region, "teams")
