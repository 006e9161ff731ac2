"""`openprofiles flows run|push`: a run waited for and reported (exit 1 unless it succeeded), a
scheduled or event flow made Active, records pushed from a file or stdin, the grants a run needs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from openprofiles import logs
from tests.cli.invoke import command
from tests.cli.sources import Site, caller, domain, files_profile, flow, profile_count

PEOPLE = [{"id": "1", "email": "a@x.com"}, {"id": "2", "email": "b@x.com"}]


@pytest.fixture
def site(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    """Flows `now` (OnDemand), `broken` (its file is missing), `hourly` (Scheduled) and `events` (Event)."""
    monkeypatch.setattr(logs, "configure", lambda level: None)  # the command's logging is not pytest's
    site = Site(tmp_path, database_url)
    scheduled = {"scheduleExpression": "rate(1hours)", "dataPullMode": "Complete",
                 "scheduleStartTime": datetime.now(UTC) + timedelta(days=1)}
    with site.runtime() as runtime:
        ctx = caller()
        domain(runtime, ctx)
        files_profile(runtime, ctx, site, PEOPLE)
        flow(runtime, ctx, "now", {"triggerType": "OnDemand"})
        flow(runtime, ctx, "broken", {"triggerType": "OnDemand"}, entity="missing.jsonl")
        flow(runtime, ctx, "hourly", {"triggerType": "Scheduled", "triggerProperties": {"Scheduled": scheduled}})
        flow(runtime, ctx, "events", {"triggerType": "Event"})
    return site


def test_run_waits_for_the_run_and_reports_it(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    levels: list[str] = []
    monkeypatch.setattr(logs, "configure", levels.append)
    done = command("flows", "run", "now", *site.storage(), *site.grants(), "--flow-batch-size", "1")
    assert done.exit_code == 0, done.output
    assert done.stdout.endswith("Successful: 2 records processed, 0 failed\n")
    assert levels == ["warning"]
    with site.runtime() as runtime:
        ctx = caller()
        assert profile_count(runtime, ctx) == 2
        (record,) = runtime.runner.records(ctx, "now", None, 10)
        assert (record.status, record.records_processed) == ("Successful", 2)


def test_a_failed_run_exits_1_with_its_message(site: Site) -> None:
    failed = command("flows", "run", "broken", *site.storage(), *site.grants())
    assert failed.exit_code == 1
    assert failed.stdout.splitlines()[-1].startswith("Error: 0 records processed, 0 failed (")
    assert "missing.jsonl" in failed.stdout


def test_run_needs_the_operator_grant(site: Site) -> None:
    refused = command("flows", "run", "now", *site.storage())
    assert refused.exit_code == 1
    assert refused.stdout.splitlines()[-1] == ("Error: 0 records processed, 0 failed (the Files connector is off: the "
                                               "operator enables it with --files-root DIR (or OPENPROFILES_FILES_ROOTS))")


def test_run_of_a_flow_that_does_not_exist(site: Site) -> None:
    missing = command("flows", "run", "nope", *site.storage(), *site.grants())
    assert missing.exit_code == 1 and "Flow nope does not exist" in missing.stderr
    other = command("flows", "run", "now", "--account-id", "111111111111", *site.storage(), *site.grants())
    assert other.exit_code == 1 and "Flow now does not exist" in other.stderr  # another account's flows


def test_run_of_a_scheduled_or_event_flow_activates_it(site: Site) -> None:
    for name in ("hourly", "events"):
        started = command("flows", "run", name, *site.storage(), *site.grants())
        assert started.exit_code == 0, started.output
        assert started.stdout == f"Flow {name} is scheduled or event-triggered: it is now Active\n"
        with site.runtime() as runtime:
            assert runtime.flows.get(caller(), name).record.status == "Active"
            assert runtime.runner.records(caller(), name, None, 10) == []


def test_push_runs_the_records_of_a_file_or_stdin(site: Site, tmp_path: Path) -> None:
    refused = command("flows", "push", "events", "-", *site.storage(), *site.grants())
    assert refused.exit_code == 1 and "StartFlow" in refused.stderr  # a Draft flow takes no events
    command("flows", "run", "events", *site.storage(), *site.grants())
    pushed = tmp_path / "pushed.json"
    pushed.write_text(json.dumps([{"id": "7", "email": "g@x.com"}, {"id": "8", "email": "h@x.com"}]))
    done = command("flows", "push", "events", str(pushed), *site.storage(), *site.grants())
    assert done.exit_code == 0, done.output
    first, last = done.stdout.splitlines()[0], done.stdout.splitlines()[-1]
    assert first.startswith("Pushed 2 records as execution ")
    assert last == "Successful: 2 records processed, 0 failed"

    lines = command("flows", "push", "events", "-", *site.storage(), *site.grants(),
                    input='{"id": "9", "email": "i@x.com"}\n')
    assert lines.exit_code == 0, lines.output
    assert lines.stdout.startswith("Pushed 1 records as execution ")
    with site.runtime() as runtime:
        ctx = caller()
        assert profile_count(runtime, ctx) == 3
        executions = runtime.runner.records(ctx, "events", None, 10)
        assert {e.execution_id for e in executions} == {first.split()[-1], lines.stdout.splitlines()[0].split()[-1]}


def test_push_of_what_is_not_json(site: Site) -> None:
    command("flows", "run", "events", *site.storage(), *site.grants())
    broken = command("flows", "push", "events", "-", *site.storage(), *site.grants(), input="{not json")
    assert broken.exit_code == 1 and "Traceback" not in broken.output and broken.stderr.startswith("Error: ")
