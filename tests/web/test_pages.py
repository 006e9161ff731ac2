"""web/pages.py in process, on SQLite and PostgreSQL: the console's lists read through the real
services (build_runtime): every domain and flow page by page, a flow's row (trigger, source label,
destination domain, last run), a domain's integrations going from PENDING to ACTIVE."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from openprofiles import errors
from openprofiles.app import Runtime, build_runtime
from openprofiles.context import RequestContext
from openprofiles.services.customer_profiles.integrations import IntegrationRequest
from openprofiles.settings import Settings
from openprofiles.web import pages
from openprofiles.web.pages import LastRun, Pages

CTX = RequestContext("000000000000", "us-east-1", "Console", "r", datetime(2026, 3, 1, tzinfo=UTC))


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """Services on a fresh database, with a domain `d` (object type `people`) and a Files profile
    `files` labelled 'Files' over tmp_path/source holding one record."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "people.jsonl").write_text(json.dumps({"id": "1", "email": "ann@example.com"}) + "\n")
    runtime = build_runtime(Settings(data_dir=tmp_path / "data", database_url=database_url, files_roots=(source,)))
    runtime.domains.create(CTX, "d", default_expiration_days=30, default_encryption_key=None,
                           dead_letter_queue_url=None, settings={}, tags={})
    runtime.object_types.put(runtime.domains.record(CTX, "d"), "people", {
        "Description": "people", "AllowProfileCreation": True,
        "Fields": {"id": {"Source": "_source.id", "Target": "_profile.AccountNumber"}},
        "Keys": {"personId": [{"StandardIdentifiers": ["UNIQUE", "PROFILE"], "FieldNames": ["id"]}]}}, CTX.now)
    runtime.connector_profiles.create(CTX, "files", "CustomConnector", "Files", "Public", {
        "connectorProfileProperties": {"CustomConnector": {"profileProperties": {"path": str(source)}}}}, None)
    yield runtime
    runtime.close()


@pytest.fixture
def console_pages(runtime: Runtime) -> Pages:
    return Pages(runtime.domains, runtime.integrations, runtime.flows)


def _flow(runtime: Runtime, name: str, trigger: str = "OnDemand") -> str:
    return runtime.flows.create(CTX, {
        "flowName": name,
        "triggerConfig": {"triggerType": trigger},
        "sourceFlowConfig": {"connectorType": "CustomConnector", "connectorProfileName": "files",
                             "sourceConnectorProperties": {"CustomConnector": {"entityName": "people.jsonl"}}},
        "destinationFlowConfigList": [{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": "d", "objectTypeName": "people"}}}],
        "tasks": [{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"CustomConnector": "NO_OP"}}],
    }).arn


def test_every_domain_page_by_page(runtime: Runtime, console_pages: Pages, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "_PAGE", 2)
    for name in ("b", "c", "e", "f"):
        runtime.domains.create(CTX, name, default_expiration_days=1, default_encryption_key=None,
                               dead_letter_queue_url=None, settings={}, tags={})
    assert [d.name for d in console_pages.domain_list(CTX)] == ["b", "c", "d", "e", "f"]
    other = RequestContext("111111111111", CTX.region, CTX.operation, CTX.request_id, CTX.now)
    assert console_pages.domain_list(other) == []  # another account's console sees none of them


def test_a_flows_row_and_its_last_run(runtime: Runtime, console_pages: Pages,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "_PAGE", 1)
    _flow(runtime, "a-flow")
    _flow(runtime, "b-flow", trigger="Event")
    first, second = console_pages.flow_list(CTX)
    assert (first.name, first.trigger_type, first.status, first.source, first.domain, first.last_run) == (
        "a-flow", "OnDemand", "Active", "Files", "d", None)
    assert (second.name, second.trigger_type, second.status) == ("b-flow", "Event", "Draft")

    _, execution_id = runtime.runner.start(CTX, "a-flow")
    assert execution_id is not None
    outcome = runtime.runner.wait(execution_id, timeout=60)
    assert outcome is not None and outcome.status == "Successful", outcome
    run = console_pages.flow_list(CTX)[0].last_run
    assert isinstance(run, LastRun) and run.status == "Successful" and run.message is None


def test_a_domains_integrations_from_pending_to_active(runtime: Runtime, console_pages: Pages) -> None:
    arn = _flow(runtime, "people-flow")
    runtime.integrations.put(CTX, "d", IntegrationRequest(uri=arn, object_type_name="people"))
    (row,) = console_pages.integration_list(CTX, "d")
    assert (row.uri, row.flow_name, row.object_types, row.status) == (arn, "people-flow", ["people"], "PENDING")
    assert row.flow is not None and row.flow.name == "people-flow"

    _, execution_id = runtime.runner.start(CTX, "people-flow")
    assert execution_id is not None and runtime.runner.wait(execution_id, timeout=60) is not None
    (row,) = console_pages.integration_list(CTX, "d")
    assert row.status == "ACTIVE" and row.flow is not None and row.flow.last_run is not None

    runtime.flows.delete(CTX, "people-flow", force=True)
    (row,) = console_pages.integration_list(CTX, "d")
    assert row.flow is None  # the flow is gone, the integration stays


def test_an_unknown_domain_has_no_integrations_page(console_pages: Pages) -> None:
    with pytest.raises(errors.NotFound):
        console_pages.integration_list(CTX, "nope")
    assert console_pages.flow_list(CTX) == []
