"""services/appflow/handlers_registrations.py: RegisterConnector, UpdateConnectorRegistration and
UnregisterConnector in wire names, called on the AppFlow provider as ApiApp calls them, and how a
registered connector is described (ConnectorDetail, ConnectorConfiguration); in-process on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openprofiles.app import Runtime
from openprofiles.errors import Conflict, Invalid, NotFound
from openprofiles.services.appflow.connector_registrations import Registration, connector_arn
from openprofiles.services.appflow.handlers_registrations import registration_configuration, registration_detail
from tests.conftest import BACKENDS
from tests.services.appflow.runtimes import (
    appflow_provider,
    caller,
    lambda_arn,
    roster_config,
    roster_dir,
    runtime_for,
)


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    with runtime_for(request, tmp_path_factory.mktemp("handlers-registrations")) as rt:
        yield rt


@pytest.fixture
def provider(runtime: Runtime) -> Any:
    return appflow_provider(runtime)


def _provisioning(ctx: Any, function: str) -> dict[str, Any]:
    return {"lambda": {"lambdaArn": lambda_arn(ctx, function)}}


def test_register_update_unregister(runtime: Runtime, provider: Any, tmp_path: Path) -> None:
    ctx = caller()
    registered = provider.register_connector(ctx, {
        "connectorLabel": "teams", "description": "Team rosters", "connectorProvisioningType": "LAMBDA",
        "connectorProvisioningConfig": _provisioning(ctx, "roster"), "clientToken": "t-1"})
    assert registered == {"connectorArn": connector_arn(ctx.region, ctx.account_id, "teams")}
    record = runtime.connector_profiles.registrations.get(ctx, "teams").record
    assert (record.description, record.lambda_arn, record.client_token) == (
        "Team rosters", lambda_arn(ctx, "roster"), "t-1")
    assert provider.register_connector(ctx, {"connectorProvisioningConfig": _provisioning(ctx, "roster")}) == {
        "connectorArn": connector_arn(ctx.region, ctx.account_id, "roster")}  # the label defaults to the function

    missing: dict[str, Any]
    for missing in ({}, {"connectorProvisioningConfig": {}}, {"connectorProvisioningConfig": {"lambda": {}}}):
        with pytest.raises(Invalid, match="lambdaArn is required"):
            provider.register_connector(ctx, {"connectorLabel": "x", **missing})

    assert provider.update_connector_registration(ctx, {
        "connectorLabel": "teams", "description": "v2", "connectorProvisioningConfig": _provisioning(ctx, "roster:3"),
    }) == registered
    record = runtime.connector_profiles.registrations.get(ctx, "teams").record
    assert (record.description, record.lambda_arn) == ("v2", lambda_arn(ctx, "roster:3"))
    provider.update_connector_registration(ctx, {"connectorLabel": "teams", "description": "v3"})
    assert runtime.connector_profiles.registrations.get(ctx, "teams").record.lambda_arn == lambda_arn(ctx, "roster:3")

    runtime.connector_profiles.create(ctx, "crm", "CustomConnector", "teams", "Public",
                                      roster_config(roster_dir(tmp_path, [])), None)
    with pytest.raises(Conflict, match="crm"):
        provider.unregister_connector(ctx, {"connectorLabel": "teams"})
    assert provider.unregister_connector(ctx, {"connectorLabel": "teams", "forceDelete": True}) == {}
    with pytest.raises(NotFound):
        provider.update_connector_registration(ctx, {"connectorLabel": "teams", "description": "v4"})


def test_a_registered_connector_is_described_from_its_record_and_plugin(runtime: Runtime) -> None:
    ctx = caller()
    registrations = runtime.connector_profiles.registrations
    plain = registrations.register(ctx, "teams", None, None, lambda_arn(ctx, "roster"), None)
    detail = registration_detail(plain)
    assert detail == {
        "connectorDescription": "Roster, team lists kept as JSON files",  # the plugin class's first doc line
        "connectorName": "roster",
        "connectorOwner": "openprofiles-roster",
        "connectorVersion": "1.2.0",
        "connectorType": "CustomConnector",
        "connectorLabel": "teams",
        "registeredAt": plain.record.registered_at,
        "registeredBy": ctx.account_id,
        "connectorProvisioningType": "LAMBDA",
        "connectorModes": ["SOURCE"],
        "supportedDataTransferTypes": ["RECORD"],
    }
    described = registrations.register(ctx, "rosters", "Our rosters", None, lambda_arn(ctx, "roster"), None)
    assert registration_detail(described)["connectorDescription"] == "Our rosters"

    uninstalled = registration_detail(Registration(plain.record, None))
    assert (uninstalled["connectorOwner"], uninstalled["connectorVersion"], uninstalled["connectorDescription"]) == (
        None, None, None)
    assert uninstalled["connectorName"] == "roster"

    base = {"canUseAsSource": True, "connectorName": "from the class", "supportedOperators": ["PROJECTION"]}
    config = registration_configuration(base, plain)
    assert config["canUseAsSource"] and config["supportedOperators"] == ["PROJECTION"]  # the class's, kept
    assert config["connectorName"] == "roster"  # the registration's, over the class's
    assert config["connectorArn"] == connector_arn(ctx.region, ctx.account_id, "teams")
    assert config["connectorProvisioningConfig"] == {"lambda": {"lambdaArn": lambda_arn(ctx, "roster")}}
    assert config["registeredBy"] == ctx.account_id
