"""services/appflow/handlers_connectors.py: the connector profile operations and the connector metadata
(DescribeConnectors, DescribeConnector, ListConnectors, ListConnectorEntities, DescribeConnectorEntity,
ResetConnectorMetadataCache) in wire names, called on the AppFlow provider as ApiApp calls them;
in-process on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from openprofiles.app import Runtime
from openprofiles.connectors.registry import BUILT_IN
from openprofiles.errors import NotFound
from openprofiles.services.appflow.connector_profiles import connector_profile_arn
from tests.conftest import BACKENDS
from tests.services.appflow.runtimes import (
    appflow_provider,
    as_operation,
    caller,
    files_config,
    files_dir,
    lambda_arn,
    roster_config,
    roster_dir,
    runtime_for,
)

MODEL = botocore.session.get_session().get_service_model("appflow")
CUSTOM_OPERATORS = sorted(MODEL.shape_for("ConnectorOperator").members["CustomConnector"].enum)


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    with runtime_for(request, tmp_path_factory.mktemp("handlers-connectors")) as rt:
        yield rt


@pytest.fixture
def provider(runtime: Runtime) -> Any:
    return appflow_provider(runtime)


def _files_profile(provider: Any, ctx: Any, name: str, path: Path) -> Any:
    return provider.create_connector_profile(ctx, {
        "connectorProfileName": name, "connectorType": "CustomConnector", "connectorLabel": "Files",
        "connectionMode": "Public", "connectorProfileConfig": files_config(path)})


def _register(provider: Any, ctx: Any, label: str) -> str:
    return str(provider.register_connector(ctx, {"connectorLabel": label, "connectorProvisioningConfig": {
        "lambda": {"lambdaArn": lambda_arn(ctx, "roster")}}})["connectorArn"])


def test_profiles_are_described_in_wire_names_without_credentials(runtime: Runtime, provider: Any,
                                                                  tmp_path: Path) -> None:
    ctx = caller("CreateConnectorProfile")
    source = files_dir(runtime)
    assert _files_profile(provider, ctx, "b-files", source) == {
        "connectorProfileArn": connector_profile_arn(ctx.region, ctx.account_id, "b-files")}
    _register(provider, ctx, "teams")
    directory = roster_dir(tmp_path, [], api_key="secret-key")
    provider.create_connector_profile(ctx, {
        "connectorProfileName": "a-teams", "connectorType": "CustomConnector", "connectorLabel": "teams",
        "connectionMode": "Private", "connectorProfileConfig": roster_config(directory, api_key="secret-key")})

    describing = as_operation(ctx, "DescribeConnectorProfiles")
    first = provider.describe_connector_profiles(describing, {"maxResults": 1})
    rest = provider.describe_connector_profiles(describing, {"maxResults": 1, "nextToken": first["nextToken"]})
    assert rest["nextToken"] is None
    teams, files = first["connectorProfileDetails"] + rest["connectorProfileDetails"]
    assert teams == {
        "connectorProfileArn": connector_profile_arn(ctx.region, ctx.account_id, "a-teams"),
        "connectorProfileName": "a-teams", "connectorType": "CustomConnector", "connectorLabel": "teams",
        "connectionMode": "Private",
        "connectorProfileProperties": {"CustomConnector": {"profileProperties": {"directory": str(directory)}}},
        "createdAt": ctx.now, "lastUpdatedAt": ctx.now,
    }
    assert files["connectorProfileProperties"] == {"CustomConnector": {"profileProperties": {"path": str(source)}}}
    assert "secret-key" not in repr(teams)
    only = provider.describe_connector_profiles(describing, {"connectorLabel": "Files"})
    assert [d["connectorProfileName"] for d in only["connectorProfileDetails"]] == ["b-files"]

    provider.update_connector_profile(ctx, {"connectorProfileName": "b-files", "connectionMode": "Private",
                                            "connectorProfileConfig": files_config(source)})
    named = provider.describe_connector_profiles(describing, {"connectorProfileNames": ["b-files"]})
    assert named["connectorProfileDetails"][0]["connectionMode"] == "Private"
    assert provider.delete_connector_profile(ctx, {"connectorProfileName": "b-files"}) == {}
    assert provider.describe_connector_profiles(describing, {"connectorProfileNames": ["b-files"]})[
        "connectorProfileDetails"] == []


def test_entities_and_fields(runtime: Runtime, provider: Any) -> None:
    ctx = caller()
    source = files_dir(runtime)
    (source / "people.csv").write_text("id,email\n1,a@x.com\n")
    (source / "nested").mkdir()
    (source / "nested" / "more.jsonl").write_text('{"n": 1}\n')
    _files_profile(provider, ctx, "files", source)

    top = provider.list_connector_entities(ctx, {"connectorProfileName": "files"})
    assert top == {"connectorEntityMap": {"Objects": [
        {"name": "nested", "label": "nested", "hasNestedEntities": True},
        {"name": "people.csv", "label": "people.csv", "hasNestedEntities": False}]}}
    inner = provider.list_connector_entities(ctx, {"connectorProfileName": "files", "entitiesPath": "nested"})
    assert [e["name"] for e in inner["connectorEntityMap"]["nested"]] == ["nested/more.jsonl"]

    fields = provider.describe_connector_entity(ctx, {"connectorProfileName": "files",
                                                      "connectorEntityName": "people.csv"})["connectorEntityFields"]
    assert [f["identifier"] for f in fields] == ["id", "email"]
    email = fields[1]
    assert email["label"] == "email" and email["sourceProperties"] == {"isRetrievable": True, "isQueryable": True}
    assert email["supportedFieldTypeDetails"]["v1"]["filterOperators"] == CUSTOM_OPERATORS

    for operation in ("list_connector_entities", "describe_connector_entity"):
        with pytest.raises(NotFound, match="connectorProfileName is needed"):
            getattr(provider, operation)(ctx, {"connectorEntityName": "people.csv"})
    with pytest.raises(NotFound):
        provider.list_connector_entities(ctx, {"connectorProfileName": "nope"})


def test_reset_connector_metadata_cache(runtime: Runtime, provider: Any) -> None:
    ctx = caller()
    source = files_dir(runtime)
    _files_profile(provider, ctx, "files", source)

    def names() -> list[str]:
        listed = provider.list_connector_entities(ctx, {"connectorProfileName": "files"})["connectorEntityMap"]
        return [e["name"] for e in listed["Objects"]]

    assert names() == []
    (source / "late.csv").write_text("id\n1\n")
    assert names() == []  # cached
    assert provider.reset_connector_metadata_cache(ctx, {}) == {}  # no profile named: nothing to reset
    assert names() == []
    assert provider.reset_connector_metadata_cache(ctx, {"connectorProfileName": "files"}) == {}
    assert names() == ["late.csv"]
    with pytest.raises(NotFound):
        provider.reset_connector_metadata_cache(ctx, {"connectorProfileName": "nope"})


def test_describe_connectors_configures_every_type_and_lists_the_connectors(provider: Any) -> None:
    ctx = caller()
    _register(provider, ctx, "teams")
    answer = provider.describe_connectors(ctx, {"connectorTypes": ["S3", "Singular", "CustomerProfiles",
                                                                   "CustomConnector"]})
    configs = answer["connectorConfigurations"]
    s3, singular, profiles = configs["S3"], configs["Singular"], configs["CustomerProfiles"]
    assert s3["canUseAsSource"] and not s3["canUseAsDestination"]
    assert s3["supportedDestinationConnectors"] == ["CustomerProfiles"]
    assert s3["supportedTriggerTypes"] == ["OnDemand", "Scheduled", "Event"]
    assert (s3["connectorName"], s3["connectorOwner"], s3["connectorModes"]) == ("S3", "OpenProfiles", ["SOURCE"])
    assert s3["connectorDescription"] and "\n" not in s3["connectorDescription"]
    assert not singular["canUseAsSource"] and singular["supportedTriggerTypes"] == []
    assert singular["supportedSchedulingFrequencies"] == [] and "connectorName" not in singular
    assert profiles["canUseAsDestination"] and not profiles["canUseAsSource"]
    assert profiles["supportedOperators"] is None  # no ConnectorOperator member
    connectors = {(c["connectorType"], c["connectorLabel"]) for c in answer["connectors"]}
    assert connectors == {("S3", None), ("CustomConnector", "Files"), ("CustomConnector", "SQL"),
                          ("CustomConnector", "Singer"), ("CustomConnector", "teams")}

    every = provider.describe_connectors(ctx, {})["connectorConfigurations"]
    assert set(every) == set(MODEL.shape_for("ConnectorType").enum)


def test_describe_connector_of_a_built_in_or_a_registration(provider: Any) -> None:
    ctx = caller()
    files = provider.describe_connector(ctx, {"connectorType": "CustomConnector", "connectorLabel": "Files"})
    config = files["connectorConfiguration"]
    assert config["connectorLabel"] == "Files" and config["canUseAsSource"] and "connectorArn" not in config
    assert config["supportedOperators"] == CUSTOM_OPERATORS
    assert provider.describe_connector(ctx, {"connectorType": "Servicenow"})["connectorConfiguration"][
        "connectorName"] == "Servicenow"

    arn = _register(provider, ctx, "teams")
    registered = provider.describe_connector(ctx, {"connectorType": "CustomConnector", "connectorLabel": "teams"})[
        "connectorConfiguration"]
    assert (registered["connectorArn"], registered["connectorLabel"], registered["connectorName"]) == (
        arn, "teams", "roster")
    assert registered["canUseAsSource"] and registered["supportedOperators"] == CUSTOM_OPERATORS
    with pytest.raises(NotFound, match="connectorLabel other"):
        provider.describe_connector(ctx, {"connectorType": "CustomConnector", "connectorLabel": "other"})


def test_list_connectors_pages_built_ins_and_the_callers_registrations_in_order(provider: Any) -> None:
    ctx, other = caller("ListConnectors"), caller("ListConnectors")
    _register(provider, ctx, "teams")
    whole = provider.list_connectors(ctx, {})
    assert whole["nextToken"] is None
    keys = [(c["connectorType"], c["connectorLabel"]) for c in whole["connectors"]]
    assert keys == sorted(keys, key=lambda k: f"{k[0]}/{k[1] or ''}")
    assert set(keys) == set(BUILT_IN) | {("CustomConnector", "teams")}
    assert ("CustomConnector", "teams") not in {(c["connectorType"], c["connectorLabel"])
                                                for c in provider.list_connectors(other, {})["connectors"]}

    paged: list[Any] = []
    params: dict[str, Any] = {"maxResults": 3}
    while True:
        page = provider.list_connectors(ctx, params)
        assert len(page["connectors"]) <= 3
        paged += page["connectors"]
        if page["nextToken"] is None:
            break
        params = {"maxResults": 3, "nextToken": page["nextToken"]}
    assert paged == whole["connectors"]
