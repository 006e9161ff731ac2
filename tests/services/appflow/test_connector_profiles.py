"""Connector profiles and connector metadata through boto3, with the Files connector (a local
directory) and a fake ServiceNow instance as sources, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.fakes.server import serving
from tests.fakes.servicenow import USER as SERVICENOW_USER
from tests.fakes.servicenow import FakeServiceNow
from tests.live_flows import create_profile


def _files_profile(appflow: Any, name: str, path: Path) -> str:
    return create_profile(appflow, name, "CustomConnector", {"path": str(path)}, label="Files")


def test_create_describe_entities_delete(appflow: Any, live: LiveServer, unique: str, files_dir: Path) -> None:
    (files_dir / "customers.csv").write_text("id,email,updated\n1,a@x.com,2026-01-01T00:00:00Z\n")
    arn = _files_profile(appflow, unique, files_dir)
    assert arn == f"arn:aws:appflow:us-east-1:{live.creds.account_id}:connectorprofile/{unique}"

    (detail,) = appflow.describe_connector_profiles(connectorProfileNames=[unique])["connectorProfileDetails"]
    assert detail["connectorType"] == "CustomConnector" and detail["connectorLabel"] == "Files"
    assert detail["connectorProfileProperties"]["CustomConnector"]["profileProperties"] == {"path": str(files_dir)}
    assert "connectorProfileCredentials" not in detail

    with pytest.raises(appflow.exceptions.ConflictException):
        _files_profile(appflow, unique, files_dir)

    entities = appflow.list_connector_entities(connectorProfileName=unique)["connectorEntityMap"]
    names = [e["name"] for group in entities.values() for e in group]
    assert any("customers.csv" in n for n in names)
    entity = next(n for n in names if "customers.csv" in n)
    fields = appflow.describe_connector_entity(connectorProfileName=unique, connectorEntityName=entity)
    identifiers = {f["identifier"]: f["supportedFieldTypeDetails"]["v1"]["fieldType"]
                   for f in fields["connectorEntityFields"]}
    assert set(identifiers) == {"id", "email", "updated"}

    # Cached until reset.
    (files_dir / "orders.jsonl").write_text('{"order": 1}\n')
    again = appflow.list_connector_entities(connectorProfileName=unique)["connectorEntityMap"]
    assert not any("orders" in e["name"] for group in again.values() for e in group)
    appflow.reset_connector_metadata_cache(connectorProfileName=unique)
    fresh = appflow.list_connector_entities(connectorProfileName=unique)["connectorEntityMap"]
    assert any("orders" in e["name"] for group in fresh.values() for e in group)

    appflow.tag_resource(resourceArn=arn, tags={"team": "crm"})
    assert appflow.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "crm"}
    appflow.delete_connector_profile(connectorProfileName=unique)
    assert appflow.describe_connector_profiles(connectorProfileNames=[unique])["connectorProfileDetails"] == []
    with pytest.raises(appflow.exceptions.ResourceNotFoundException):
        appflow.delete_connector_profile(connectorProfileName=unique)


def test_unreachable_source_is_refused(appflow: Any, unique: str, files_dir: Path) -> None:
    with pytest.raises(appflow.exceptions.ConnectorServerException) as error:
        _files_profile(appflow, unique, files_dir / "missing")
    assert "missing" in error.value.response["Error"]["Message"]


def test_connector_without_implementation_is_a_validation_error(appflow: Any, unique: str) -> None:
    with pytest.raises(appflow.exceptions.ValidationException) as error:
        appflow.create_connector_profile(
            connectorProfileName=unique, connectorType="Singular", connectionMode="Public",
            connectorProfileConfig={"connectorProfileProperties": {"Singular": {}},
                                    "connectorProfileCredentials": {"Singular": {"apiKey": "k"}}},
        )
    assert "Singular" in error.value.response["Error"]["Message"]


def test_connector_metadata(appflow: Any) -> None:
    config = appflow.describe_connector(connectorType="CustomConnector", connectorLabel="Files")["connectorConfiguration"]
    assert config["canUseAsSource"] and config["supportedDestinationConnectors"] == ["CustomerProfiles"]
    assert "PROJECTION" in config["supportedOperators"]
    s3 = appflow.describe_connectors(connectorTypes=["S3", "CustomerProfiles"])["connectorConfigurations"]
    assert s3["S3"]["canUseAsSource"] and s3["CustomerProfiles"]["canUseAsDestination"]
    labels = {(c["connectorType"], c.get("connectorLabel")) for c in appflow.list_connectors()["connectors"]}
    assert ("CustomConnector", "Files") in labels and ("S3", None) in labels


def test_servicenow_profiles_and_fields_use_the_model_member_names(appflow: Any, unique: str) -> None:
    """connectorType is "Servicenow", but the ConnectorProfileProperties and ConnectorOperator member is "ServiceNow"."""
    with serving(FakeServiceNow(users=3, incidents=0).app) as url:
        appflow.create_connector_profile(
            connectorProfileName=unique, connectorType="Servicenow", connectionMode="Public",
            connectorProfileConfig={"connectorProfileProperties": {"ServiceNow": {"instanceUrl": url}},
                                    "connectorProfileCredentials": {"ServiceNow": {"username": SERVICENOW_USER[0],
                                                                                   "password": SERVICENOW_USER[1]}}})
        fields = appflow.describe_connector_entity(connectorProfileName=unique, connectorType="Servicenow",
                                                   connectorEntityName="sys_user")["connectorEntityFields"]
    (detail,) = appflow.describe_connector_profiles(connectorProfileNames=[unique])["connectorProfileDetails"]
    assert detail["connectorType"] == "Servicenow"
    assert detail["connectorProfileProperties"] == {"ServiceNow": {"instanceUrl": url}}
    operators = {f["identifier"]: f["supportedFieldTypeDetails"]["v1"]["filterOperators"] for f in fields}
    assert {"EQUAL_TO", "CONTAINS", "BETWEEN", "PROJECTION"} <= set(operators["email"])
    config = appflow.describe_connector(connectorType="Servicenow")["connectorConfiguration"]
    assert set(operators["email"]) == set(config["supportedOperators"])
