"""`openprofiles workflows list|show`: a domain's integration workflows, newest first, filtered by
status, and one workflow with its metrics and steps, as JSON or text."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openprofiles.services.customer_profiles.workflows import WorkflowRequest
from tests.cli.invoke import command
from tests.cli.sources import FIELDS, Site, caller, domain, files_profile

NOW = datetime.now(UTC)
PEOPLE = [{"id": "1", "email": "a@x.com", "updated": (NOW - timedelta(days=3)).isoformat()},
          {"id": "2", "email": "b@x.com", "updated": (NOW - timedelta(days=1)).isoformat()}]
BATCHES = [{"StartTime": NOW - timedelta(days=4), "EndTime": NOW - timedelta(days=2)},
           {"StartTime": NOW - timedelta(days=2), "EndTime": NOW}]


def _definition(name: str) -> dict[str, Any]:
    """A FlowDefinition reading the `files` profile's people.jsonl, incrementally by `updated`."""
    return {
        "FlowName": name,
        "SourceFlowConfig": {"ConnectorType": "CustomConnector", "ConnectorProfileName": "files",
                             "IncrementalPullConfig": {"DatetimeTypeFieldName": "updated"},
                             "SourceConnectorProperties": {"CustomConnector": {"EntityName": "people.jsonl"}}},
        "Tasks": [{"TaskType": "Map", "SourceFields": [f], "DestinationField": f,
                   "ConnectorOperator": {"CustomConnector": "NO_OP"}} for f in FIELDS],
        "TriggerConfig": {"TriggerType": "OnDemand"},
    }


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Site:
    return Site(tmp_path, database_url)


def test_list_and_show(site: Site) -> None:
    with site.runtime() as runtime:
        ctx = caller()
        domain(runtime, ctx)
        files_profile(runtime, ctx, site, PEOPLE)
        first = runtime.workflows.create(ctx, "d", WorkflowRequest(_definition("backfill"), "crm", batches=BATCHES))
        deadline = time.monotonic() + 60
        while runtime.workflows.get(ctx, "d", first).record.status not in ("COMPLETE", "FAILED"):
            assert time.monotonic() < deadline, "the workflow did not end"
            runtime.workflows.tick()  # the next step once the last one's run has ended
            for run in runtime.runner.records(ctx, "backfill", None, 10):
                runtime.runner.wait(run.execution_id, timeout=60)
        second = runtime.workflows.create(ctx, "d", WorkflowRequest(_definition("later"), "crm"))

    listed = command("workflows", "list", "--domain", "d", "--json", *site.storage())
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [r["WorkflowId"] for r in rows] == [second, first]  # newest first
    assert set(rows[1]) == {"WorkflowId", "Status", "StatusDescription", "FlowName", "ObjectTypeName", "CreatedAt",
                            "LastUpdatedAt"}
    assert (rows[1]["Status"], rows[1]["FlowName"], rows[1]["ObjectTypeName"]) == ("COMPLETE", "backfill", "crm")
    complete = command("workflows", "list", "--domain", "d", "--status", "COMPLETE", "--json", *site.storage())
    assert [r["WorkflowId"] for r in json.loads(complete.stdout)] == [first]
    table = command("workflows", "list", "--domain", "d", *site.storage())
    assert table.exit_code == 0 and first in table.stdout and second in table.stdout  # whole ids

    shown = command("workflows", "show", first, "--domain", "d", "--json", *site.storage())
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    assert (document["WorkflowId"], document["Status"], document["ErrorDescription"]) == (first, "COMPLETE", None)
    assert (document["RecordsProcessed"], document["StepsCompleted"], document["TotalSteps"]) == (2, 2, 2)
    assert [(s["Position"], s["RecordsProcessed"]) for s in document["Steps"]] == [(1, 1), (2, 1)]
    assert document["Steps"][0]["BatchStart"] == BATCHES[0]["StartTime"].isoformat()
    text = command("workflows", "show", first, "--domain", "d", *site.storage())
    assert text.stdout.splitlines()[0] == (f"Workflow {first} (COMPLETE), flow backfill → crm: 2/2 steps, 2 records")


def test_show_and_list_refuse_what_does_not_exist(site: Site) -> None:
    with site.runtime() as runtime:
        domain(runtime, caller())
    missing = command("workflows", "show", "f" * 32, "--domain", "d", *site.storage())
    assert missing.exit_code == 1 and f"Workflow {'f' * 32} does not exist in domain d" in missing.stderr
    nowhere = command("workflows", "list", "--domain", "nope", *site.storage())
    assert nowhere.exit_code == 1 and "does not exist" in nowhere.stderr
    required = command("workflows", "list", *site.storage())
    assert required.exit_code == 2 and "--domain" in required.stderr
