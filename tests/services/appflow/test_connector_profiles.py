"""services/appflow/connector_profiles.py: connector profiles and connector metadata through boto3
(contract tests: the Files connector, a local directory, and a fake ServiceNow instance as sources),
and the service in-process (credentials sealed, checks, the metadata cache, paging); on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openprofiles.app import Runtime
from openprofiles.connectors.files import FilesConnector
from openprofiles.errors import AlreadyExists, Conflict, Invalid, NotFound
from openprofiles.services.appflow.connector_profiles import (
    ConnectorAuthenticationFailed,
    ConnectorServerFailed,
    connector_profile_arn,
    connector_profile_exists,
    property_key,
)
from openprofiles.services.arns import parse_arn
from tests.conftest import BACKENDS, LiveServer
from tests.fakes.server import serving
from tests.fakes.servicenow import USER as SERVICENOW_USER
from tests.fakes.servicenow import FakeServiceNow
from tests.live_flows import create_profile
from tests.services.appflow.runtimes import (
    caller,
    destination,
    files_config,
    files_dir,
    flow_params,
    lambda_arn,
    roster_config,
    roster_dir,
    runtime_for,
)


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


# In-process: the service itself, wired by the composition root.


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    with runtime_for(request, tmp_path_factory.mktemp("profiles")) as rt:
        yield rt


def _roster_profile(runtime: Runtime, ctx: Any, name: str, directory: Path, api_key: str = "k-123") -> Any:
    """A CustomConnector profile of the roster plugin (registered in the caller's account first)."""
    registrations = runtime.connector_profiles.registrations
    if not any(r.record.label == "roster" for r in registrations.all(ctx)):
        registrations.register(ctx, "roster", None, "LAMBDA", lambda_arn(ctx, "roster"), None)
    return runtime.connector_profiles.create(ctx, name, "CustomConnector", "roster", "Public",
                                             roster_config(directory, api_key), None)


def test_property_key_is_the_model_member_of_a_connector_type() -> None:
    assert [property_key(t) for t in ("Servicenow", "Googleanalytics", "Infornexus", "Salesforce",
                                      "CustomConnector")] == [
        "ServiceNow", "GoogleAnalytics", "InforNexus", "Salesforce", "CustomConnector"]


def test_credentials_are_sealed_at_rest_and_opened_for_the_connector(runtime: Runtime, tmp_path: Path) -> None:
    ctx = caller()
    directory = roster_dir(tmp_path, [{"id": 1}], api_key="secret-key-123")
    profile = _roster_profile(runtime, ctx, "crm", directory, api_key="secret-key-123")
    record = profile.record
    assert profile.arn == connector_profile_arn(ctx.region, ctx.account_id, "crm")
    assert profile.arn == f"arn:aws:appflow:us-east-1:{ctx.account_id}:connectorprofile/crm"
    assert record.properties == {"directory": str(directory)}  # CustomConnector's profileProperties, unwrapped
    assert record.credentials is not None and b"secret-key-123" not in record.credentials
    stored = runtime.connector_profiles.get(ctx, "crm")
    assert stored.credentials == record.credentials
    connection = runtime.connector_profiles.connection(stored)
    assert connection.credentials == {"authenticationType": "APIKEY", "apiKey": {"apiKey": "secret-key-123"}}
    assert (connection.account_id, connection.label) == (ctx.account_id, "roster")
    assert type(runtime.connector_profiles.connector(stored)).__name__ == "RosterConnector"

    with runtime.store.read() as uow:
        arn = parse_arn(profile.arn)
        assert arn is not None and connector_profile_exists(uow, arn)
        for other in (profile.arn + "x", profile.arn.replace("/crm", "/"),
                      connector_profile_arn(ctx.region, "999999999999", "crm")):
            parsed = parse_arn(other)
            assert parsed is not None and not connector_profile_exists(uow, parsed), other


def test_a_profile_without_credentials_stores_none(runtime: Runtime) -> None:
    ctx = caller()
    profile = runtime.connector_profiles.create(ctx, "files", "CustomConnector", "Files", "Public",
                                                files_config(files_dir(runtime)), None)
    assert profile.record.credentials is None
    assert runtime.connector_profiles.connection(profile.record).credentials == {}
    assert isinstance(runtime.connector_profiles.connector(profile.record), FilesConnector)


def test_create_checks_the_source_and_stores_nothing_it_refuses(runtime: Runtime, tmp_path: Path) -> None:
    ctx = caller()
    directory = roster_dir(tmp_path, [])
    service = runtime.connector_profiles
    with pytest.raises(ConnectorAuthenticationFailed, match="refused the credentials"):
        _roster_profile(runtime, ctx, "p", directory, api_key="wrong")
    with pytest.raises(ConnectorServerFailed, match="could not be reached"):
        _roster_profile(runtime, ctx, "p", tmp_path / "missing")
    with pytest.raises(Invalid, match="connectorLabel unregistered"):
        service.create(ctx, "p", "CustomConnector", "unregistered", "Public", roster_config(directory), None)
    with pytest.raises(Invalid, match="connectorType Singular: no connector"):
        service.create(ctx, "p", "Singular", None, "Public", {}, None)
    with pytest.raises(Invalid, match="--files-root"):  # NotGranted: outside every Files root
        service.create(ctx, "p", "CustomConnector", "Files", "Public", files_config(tmp_path), None)
    with pytest.raises(NotFound, match="Connector profile p does not exist"):
        service.get(ctx, "p")

    _roster_profile(runtime, ctx, "p", directory)
    with pytest.raises(AlreadyExists, match="Connector profile p already exists"):
        _roster_profile(runtime, ctx, "p", directory)


def test_connector_class_resolves_built_ins_and_the_owners_registrations(runtime: Runtime) -> None:
    ctx, other = caller(), caller()
    service = runtime.connector_profiles
    assert service.connector_class("CustomConnector", "Files") is FilesConnector
    assert service.connector_class("Servicenow", None).__name__ == "ServiceNowConnector"
    service.registrations.register(ctx, "mine", None, None, lambda_arn(ctx, "roster"), None)
    assert service.connector_class("CustomConnector", "mine", (ctx.account_id, ctx.region)).__name__ == (
        "RosterConnector")
    with pytest.raises(Invalid, match="connectorLabel mine: no connector is registered"):
        service.connector_class("CustomConnector", "mine", (other.account_id, other.region))
    with pytest.raises(Invalid, match=r"CustomConnector \(mine\): no connector"):
        service.connector_class("CustomConnector", "mine")  # no owner: built-ins only


def test_update_checks_again_replaces_the_profile_and_resets_its_metadata(runtime: Runtime, tmp_path: Path) -> None:
    ctx = caller()
    first = roster_dir(tmp_path, [{"id": 1}], api_key="one")
    second = roster_dir(tmp_path, [{"id": 2}], api_key="two")
    (second / "teams.json").write_text("[]")
    service = runtime.connector_profiles
    _roster_profile(runtime, ctx, "p", first, api_key="one")
    assert [e.name for e in service.entities(ctx, "p", None)] == ["members"]

    with pytest.raises(ConnectorAuthenticationFailed):
        service.update(ctx, "p", "Private", roster_config(second, api_key="one"))
    kept = service.get(ctx, "p")
    assert kept.properties == {"directory": str(first)} and kept.connection_mode == "Public"
    assert [e.name for e in service.entities(ctx, "p", None)] == ["members"]  # still cached

    updated = service.update(ctx, "p", "Private", roster_config(second, api_key="two"))
    assert updated.record.properties == {"directory": str(second)} and updated.record.connection_mode == "Private"
    assert service.connection(service.get(ctx, "p")).credentials["apiKey"] == {"apiKey": "two"}
    assert [e.name for e in service.entities(ctx, "p", None)] == ["members", "teams"]
    with pytest.raises(NotFound):
        service.update(ctx, "nope", "Public", roster_config(second, api_key="two"))


def test_metadata_is_cached_per_profile_and_entity_until_reset(runtime: Runtime) -> None:
    ctx = caller()
    source = files_dir(runtime)
    (source / "a.csv").write_text("id,email\n1,a@x.com\n")
    service = runtime.connector_profiles
    for name in ("one", "two"):
        service.create(ctx, name, "CustomConnector", "Files", "Public", files_config(source), None)
    assert [e.name for e in service.entities(ctx, "one", None)] == ["a.csv"]
    assert [f.name for f in service.describe_entity(ctx, "one", "a.csv")] == ["id", "email"]

    (source / "b.csv").write_text("id\n2\n")
    (source / "a.csv").write_text("id,email,phone\n1,a@x.com,1\n")
    assert [e.name for e in service.entities(ctx, "one", None)] == ["a.csv"]
    assert [f.name for f in service.describe_entity(ctx, "one", "a.csv")] == ["id", "email"]
    assert [e.name for e in service.entities(ctx, "two", None)] == ["a.csv", "b.csv"]  # its own cache
    assert [f.name for f in service.describe_entity(ctx, "one", "b.csv")] == ["id"]  # a slot per entity

    with pytest.raises(ConnectorServerFailed, match="does not exist"):
        service.describe_entity(ctx, "one", "c.csv")
    (source / "c.csv").write_text("id\n3\n")
    assert [f.name for f in service.describe_entity(ctx, "one", "c.csv")] == ["id"]  # a failure is not cached

    service.reset_metadata(ctx, "one")
    assert [e.name for e in service.entities(ctx, "one", None)] == ["a.csv", "b.csv", "c.csv"]
    assert [f.name for f in service.describe_entity(ctx, "one", "a.csv")] == ["id", "email", "phone"]
    with pytest.raises(NotFound):
        service.entities(ctx, "three", None)


def test_delete_refuses_a_profile_flows_use_unless_forced(runtime: Runtime) -> None:
    ctx = caller()
    service = runtime.connector_profiles
    old, new = files_dir(runtime), files_dir(runtime)
    (old / "old.csv").write_text("id\n1\n")
    (new / "new.csv").write_text("id\n1\n")
    profile = service.create(ctx, "p", "CustomConnector", "Files", "Public", files_config(old), None)
    runtime.tags.tag(ctx, "appflow", profile.arn, {"team": "crm"})
    destination(runtime, ctx)
    runtime.flows.create(ctx, flow_params("uses-p", "p", "old.csv"))
    assert [e.name for e in service.entities(ctx, "p", None)] == ["old.csv"]

    with pytest.raises(Conflict, match="used by flow"):
        service.delete(ctx, "p", force=False)
    service.delete(ctx, "p", force=True)
    with pytest.raises(NotFound):
        service.get(ctx, "p")
    with pytest.raises(NotFound):
        service.delete(ctx, "p", force=True)

    # The same name again: no tags and no metadata of the deleted profile.
    again = service.create(ctx, "p", "CustomConnector", "Files", "Public", files_config(new), None)
    assert runtime.tags.list(ctx, "appflow", again.arn) == {}
    assert [e.name for e in service.entities(ctx, "p", None)] == ["new.csv"]


def test_page_is_in_name_order_and_filtered(runtime: Runtime, tmp_path: Path) -> None:
    ctx = caller()
    source = files_dir(runtime)
    service = runtime.connector_profiles
    for name in ("c", "a", "b"):
        service.create(ctx, name, "CustomConnector", "Files", "Public", files_config(source), None)
    _roster_profile(runtime, ctx, "d", roster_dir(tmp_path, []))
    caller_page = caller(account_id=ctx.account_id)

    def names(after: str | None = None, limit: int = 10, **filters: Any) -> list[str]:
        found = service.page(caller_page, after, limit, filters.get("names"), filters.get("connector_type"),
                             filters.get("label"))
        return [p.record.name for p in found]

    assert names() == ["a", "b", "c", "d"]
    assert names(limit=2) == ["a", "b"] and names(after="b") == ["c", "d"]
    assert names(names=["d", "b", "x"]) == ["b", "d"]
    assert names(label="Files") == ["a", "b", "c"] and names(label="roster") == ["d"]
    assert names(connector_type="CustomConnector", after="a", limit=1) == ["b"]
    assert names(connector_type="Servicenow") == []
    assert service.page(caller(), None, 10, None, None, None) == []  # another account's
