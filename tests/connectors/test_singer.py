"""The Singer connector with the tap the tests ship (tests/fakes/singer_tap.py): discovery, runs with
config, catalog and state, pages, STATE checkpoints, incremental bookmarks, failures; and a flow
through boto3 that lands profiles and then pulls only the changed records."""

from __future__ import annotations

import json
import os
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openprofiles.connectors.base import Connection, ConnectorAuthError, ConnectorError, ExtractRequest
from openprofiles.connectors.singer import SingerConnector
from tests.connectors.helpers import assert_resumes, peak_memory_of_extraction, records
from tests.harness import ROOT
from tests.live_flows import (
    PEOPLE,
    ScheduledFlow,
    create_domain,
    create_profile,
    entity_names,
    field_types,
    processed,
)

T0 = datetime(2024, 5, 1, tzinfo=UTC)
TOKEN = {"authenticationType": "CUSTOM", "custom": {"customAuthenticationType": "token",
                                                    "credentialsMap": {"token": "let-me-in"}}}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def user(i: int, hours: int | None) -> dict[str, Any]:
    return {"id": i, "email": f"u{i}@example.com", "name": ["Ann", "Bob", "Cy"][i % 3], "score": i * 1.5,
            "vip": i % 2 == 0, "tags": ["a"] if i % 2 else [], "updated_at": None if hours is None else iso(T0 + timedelta(hours=hours))}


def dataset(count: int = 20) -> dict[str, Any]:
    """Users 1..count updated in pairs (ties) every hour, user 7 without a time; two groups."""
    return {"users": [user(i, None if i == 7 else i // 2) for i in range(1, count + 1)],
            "groups": [{"id": 1, "title": "Gold", "founded": "2001-02-03"}, {"id": 2, "title": "Silver", "founded": "2002-03-04"}]}


@pytest.fixture
def tap(tmp_path: Path) -> Path:
    """The test tap as an executable on disk (a wrapper running it with this Python)."""
    path = tmp_path / "bin" / "tap-fake"
    path.parent.mkdir()
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests" / "fakes" / "singer_tap.py"}" "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(dataset()))
    return path


def connector(executable: Path | str | None, data: Path | None = None, credentials: dict[str, Any] | None = TOKEN,
              **config: Any) -> SingerConnector:
    properties = {"config": json.dumps({"data": str(data), **config})} if data else {}
    if executable is not None:
        properties["executable"] = str(executable)
    return SingerConnector(Connection("tap", "CustomConnector", properties, credentials or {}, label="Singer"))


def ids(pages: list[Any]) -> list[int]:
    return [r["id"] for r in records(pages)]


# --- discovery ---------------------------------------------------------------------------------------


def test_check_runs_discovery_with_the_config_and_secret_credentials(tap: Path, data: Path) -> None:
    connector(tap, data).check()
    with pytest.raises(ConnectorAuthError, match="401 Unauthorized"):
        connector(tap, data, credentials={}).check()


def test_the_executable_is_found_on_the_path(tap: Path, data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{tap.parent}{os.pathsep}{os.environ['PATH']}")
    assert [e.name for e in connector("tap-fake", data).entities()] == ["users", "groups"]


def test_a_missing_executable_or_bad_config_is_named(tap: Path, tmp_path: Path) -> None:
    for executable, message in [(None, "'executable' property"), ("tap-nowhere-to-be-found", "not an executable"),
                                (tmp_path / "data.json", "not an executable")]:
        with pytest.raises(ConnectorError, match=message) as raised:
            connector(executable, tmp_path / "data.json").check()
        assert not isinstance(raised.value, ConnectorAuthError)
    bad = SingerConnector(Connection("tap", "CustomConnector", {"executable": str(tap), "config": "[1]"}, {}))
    with pytest.raises(ConnectorError, match="'config' property must be a JSON object"):
        bad.check()


def test_streams_and_their_fields(tap: Path, data: Path) -> None:
    assert [(e.name, e.label) for e in connector(tap, data).entities()] == [("users", "users"), ("groups", "groups")]
    fields = connector(tap, data).describe("users")
    assert [(f.name, f.data_type, f.nullable) for f in fields] == [
        ("id", "integer", False), ("email", "string", True), ("name", "string", True), ("score", "double", True),
        ("vip", "boolean", True), ("tags", "list", True), ("updated_at", "datetime", True),
    ]
    assert [(f.name, f.data_type) for f in connector(tap, data).describe("groups")][2] == ("founded", "date")
    with pytest.raises(ConnectorError, match="no stream 'nope'"):
        connector(tap, data).describe("nope")


# --- runs --------------------------------------------------------------------------------------------


def test_pages_of_the_selected_stream_to_the_end(tap: Path, data: Path) -> None:
    pages = list(connector(tap, data).extract(ExtractRequest(entity="users", page_size=6)))
    assert [len(p.records) for p in pages] == [6, 6, 6, 1]
    # by (updated_at, id); user 7 has no time and is not part of an incremental stream
    assert ids(pages) == [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
    assert records(pages)[0] == user(1, 0)
    assert pages[0].high_water == T0 + timedelta(hours=3)
    assert pages[0].checkpoint == {"state": {"bookmarks": {"users": {"updated_at": iso(T0 + timedelta(hours=1))}}},
                                   "after": (T0 + timedelta(hours=3)).isoformat(), "ties": 1}
    groups = records(list(connector(tap, data).extract(ExtractRequest(entity="groups"))))
    assert groups == [{"id": 1, "title": "Gold", "founded": "2001-02-03"}, {"id": 2, "title": "Silver", "founded": "2002-03-04"}]


def test_projection_selects_fields_in_the_catalog(tap: Path, data: Path) -> None:
    got = records(list(connector(tap, data).extract(ExtractRequest(entity="users", fields=["email"]))))
    assert got[0] == {"id": 1, "email": "u1@example.com", "updated_at": iso(T0)}  # key and replication key come along


def test_incremental_runs_start_from_a_bookmark_at_since(tap: Path, data: Path) -> None:
    request = ExtractRequest(entity="users", since=T0 + timedelta(hours=5), until=T0 + timedelta(hours=8), page_size=4)
    pages = list(connector(tap, data).extract(request))
    assert ids(pages) == [10, 11, 12, 13, 14, 15]
    assert [p.high_water for p in pages] == [T0 + timedelta(hours=6), T0 + timedelta(hours=7)]


@pytest.mark.parametrize(("page_size", "stop_after"), [(1, 4), (2, 3), (4, 2), (7, 2)])
def test_resume_from_a_state_checkpoint_delivers_exactly_the_rest(tap: Path, data: Path, page_size: int,
                                                                  stop_after: int) -> None:
    assert_resumes(connector(tap, data), ExtractRequest(entity="users", page_size=page_size), stop_after)
    assert_resumes(connector(tap, data, state_every=1), ExtractRequest(entity="users", page_size=page_size), stop_after)
    request = ExtractRequest(entity="users", page_size=page_size, since=T0 + timedelta(hours=2))
    assert_resumes(connector(tap, data, state_every=4), request, stop_after)


def test_resume_a_stream_without_replication_key(tap: Path, data: Path) -> None:
    assert_resumes(connector(tap, data), ExtractRequest(entity="groups", page_size=1), 1)


def test_a_bad_checkpoint_is_refused(tap: Path, data: Path) -> None:
    with pytest.raises(ConnectorError, match="invalid checkpoint"):
        list(connector(tap, data).extract(ExtractRequest(entity="users", checkpoint={"line": 1})))


def test_a_failing_tap_ends_the_run_with_its_stderr(tap: Path, data: Path) -> None:
    pages = connector(tap, data, fail_after=5).extract(ExtractRequest(entity="users", page_size=2))
    delivered = []
    with pytest.raises(ConnectorError, match=r"exited with code 2 during the run: CRITICAL the source API answered 500"):
        for page in pages:
            delivered += page.records
    assert [r["id"] for r in delivered] == [1, 2, 3, 4]  # the page in progress is not delivered


def test_output_that_is_not_singer_is_an_error(tmp_path: Path) -> None:
    noisy = tmp_path / "tap-noisy"
    noisy.write_text('#!/bin/sh\nif [ "$3" = "--discover" ]; then echo \'{"streams": [{"tap_stream_id": "s", '
                     '"schema": {"properties": {}}}]}\'; else echo "hello"; fi\n')
    noisy.chmod(0o755)
    with pytest.raises(ConnectorError, match="line 1 of the Singer tap's output is not a Singer message: 'hello"):
        list(connector(noisy, tmp_path / "x.json").extract(ExtractRequest(entity="s")))


def test_the_tap_is_stopped_when_the_consumer_stops(tap: Path, data: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "tap.pid"
    pages = connector(tap, data, synthetic=20_000, pid_file=str(pid_file)).extract(
        ExtractRequest(entity="users", page_size=10))
    next(pages)
    pid = int(pid_file.read_text())
    os.kill(pid, 0)  # still running, blocked on a full pipe
    pages.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_long_stream_is_read_in_bounded_memory(tap: Path, data: Path) -> None:
    count, peak = peak_memory_of_extraction(connector(tap, data, synthetic=15_000, state_every=1000),
                                            ExtractRequest(entity="users", page_size=500))
    assert count == 15_019
    assert peak < 2_500_000, peak  # the whole stream as records would take over 10 MB


# --- end to end through boto3 --------------------------------------------------------------------------

def test_a_flow_lands_records_then_pulls_only_changed_ones(appflow: Any, cp: Any, unique: str, tap: Path,
                                                           tmp_path: Path) -> None:
    source = tmp_path / "source.json"
    source.write_text(json.dumps({"users": [user(1, 1), user(2, 2), user(3, 3)]}))

    def profile(credentials: dict[str, Any]) -> str:
        return create_profile(appflow, unique, "CustomConnector", {
            "executable": str(tap), "config": json.dumps({"data": str(source)})}, credentials, label="Singer")

    wrong = {"authenticationType": "CUSTOM", "custom": {"customAuthenticationType": "token",
                                                        "credentialsMap": {"token": "guess"}}}
    with pytest.raises(appflow.exceptions.ConnectorAuthenticationException, match="401"):
        profile(wrong)
    profile(TOKEN)
    described = appflow.describe_connector_profiles(connectorProfileNames=[unique])["connectorProfileDetails"][0]
    assert "let-me-in" not in json.dumps(described, default=str)
    assert entity_names(appflow, unique) == ["users", "groups"]
    assert field_types(appflow, unique, "users")["updated_at"] == "datetime"

    create_domain(cp, unique, "users", **PEOPLE)
    flow = ScheduledFlow(appflow, unique, into=(unique, "users"), source={
        "connectorType": "CustomConnector", "connectorProfileName": unique,
        "sourceConnectorProperties": {"CustomConnector": {"entityName": "users"}}})
    assert processed(flow.run()) == 3
    found = cp.search_profiles(DomainName=unique, KeyName="_email", Values=["u1@example.com"])["Items"]
    assert [p["FirstName"] for p in found] == ["Bob"]

    changed = dict(user(1, 30), name="Bobby")
    source.write_text(json.dumps({"users": [changed, user(2, 2), user(3, 3), user(4, 31)]}))
    # The tap starts at the bookmark of the first run's high-water mark: users 1 and 4, and user 3, updated
    # at the mark itself: the runner pulls from the mark inclusively, so records stamped at it are read again.
    assert processed(flow.run()) == 2 + 1
    found = cp.search_profiles(DomainName=unique, KeyName="_email", Values=["u1@example.com"])["Items"]
    assert [p["FirstName"] for p in found] == ["Bobby"]
    assert cp.get_domain(DomainName=unique)["Stats"]["ProfileCount"] == 4
