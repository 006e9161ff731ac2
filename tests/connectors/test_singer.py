"""The Singer connector with the tap the tests ship (tests/fakes/singer_tap.py): discovery, runs with
config, catalog and state, pages, STATE checkpoints, incremental bookmarks, failures; what the
operator's grants allow a tap (only allowed names run, a clean environment, time and output limits,
a scrubbed stderr excerpt, its processes stopped); and, through boto3 against a server started with
`--singer-tap`, a flow that lands profiles and then pulls only the changed records, and a tenant
that cannot make the server run anything else."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openprofiles.connectors.base import (
    Connection,
    ConnectorAuthError,
    ConnectorError,
    ExtractRequest,
    NotGranted,
    UnreadableRecord,
)
from openprofiles.connectors.grants import Grants
from openprofiles.connectors.singer import SingerConnector
from openprofiles.connectors.singer_process import SAFE_PATH, STDERR_EXCERPT
from tests.conftest import BACKENDS, FAKE_VENDOR_HOSTS, LiveServer, live_server
from tests.connectors.helpers import alive, assert_resumes, gone, peak_memory_of_extraction, records
from tests.harness import ROOT, Credentials, Server
from tests.live_flows import (
    PEOPLE,
    ScheduledFlow,
    create_domain,
    create_profile,
    entity_names,
    field_types,
    into_profiles,
    map_all,
    processed,
    wait_for_execution,
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


#: Variables the server has that a tap must never see.
SERVER_SECRET = "server-own-secret-0123456789"
SERVER_VARIABLES = {"OPENPROFILES_MASTER_KEY": base64.b64encode(b"k" * 32).decode(), "AWS_ACCESS_KEY_ID": "AKIASERVER",
                    "AWS_SECRET_ACCESS_KEY": SERVER_SECRET, "PGPASSWORD": SERVER_SECRET, "PGUSER": "server"}
#: All the environment a tap gets (the shell of the tests' wrapper adds PWD).
TAP_ENVIRONMENT = {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ", "PWD"}
#: Programs a tenant might name instead of an allowed tap; on the server's PATH in the tests, each
#: leaves a file named after it when it runs.
DECOYS = ("id", "env", "sh", "python3", "tap-evil")


def executable(path: Path, script: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def write_tap(path: Path) -> Path:
    """The test tap as an executable on disk (a wrapper running it with this Python)."""
    return executable(path, f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests" / "fakes" / "singer_tap.py"}" "$@"\n')


@pytest.fixture
def tap(tmp_path: Path) -> Path:
    return write_tap(tmp_path / "bin" / "tap-fake")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(dataset()))
    return path


def connector(tap: Path | None, data: Path | None = None, credentials: dict[str, Any] | None = TOKEN, *,
              name: str | None = "fake", timeout: float = 60, max_output: int = 1 << 30, **config: Any) -> SingerConnector:
    """The connector for a profile naming the tap `name`, on a server allowing `tap` as "fake"."""
    properties = {"config": json.dumps({"data": str(data), **config})} if data else {}
    if name is not None:
        properties["executable"] = name
    grants = Grants(singer_taps={"fake": tap} if tap else {}, singer_timeout=timeout, singer_max_output=max_output)
    return SingerConnector(Connection("tap", "CustomConnector", properties, credentials or {}, label="Singer",
                                      grants=grants))


def ids(pages: list[Any]) -> list[int]:
    return [r["id"] for r in records(pages)]


# --- discovery ---------------------------------------------------------------------------------------


def test_check_runs_discovery_with_the_config_and_secret_credentials(tap: Path, data: Path) -> None:
    connector(tap, data).check()
    with pytest.raises(ConnectorAuthError, match="401 Unauthorized"):
        connector(tap, data, credentials={}).check()


def test_a_missing_executable_or_bad_config_is_named(tap: Path, tmp_path: Path) -> None:
    with pytest.raises(NotGranted, match="needs an 'executable' property: the name of a Singer tap the operator "
                                         r"allowed \(fake\)"):
        connector(tap, tmp_path / "data.json", name=None).check()
    (tmp_path / "data.json").write_text("{}")
    with pytest.raises(ConnectorError, match="'fake' the operator allowed is not an executable file") as raised:
        connector(tmp_path / "data.json", tmp_path / "data.json").check()
    assert not isinstance(raised.value, (ConnectorAuthError, NotGranted))
    bad = SingerConnector(Connection("tap", "CustomConnector", {"executable": "fake", "config": "[1]"}, {},
                                     grants=Grants(singer_taps={"fake": tap})))
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


def test_a_record_too_deep_to_decode_is_a_dead_letter_and_nan_is_read(tap: Path, data: Path) -> None:
    got = records(list(connector(tap, data, deep=2000).extract(ExtractRequest(entity="users", page_size=50))))
    assert isinstance(got[0], UnreadableRecord) and "nested deeper than" in got[0].reason
    assert got[1]["score"] != got[1]["score"]  # NaN, as Python taps write it
    assert [r["id"] for r in got[2:]] == [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
    shallow = records(list(connector(tap, data, deep=5).extract(ExtractRequest(entity="users", page_size=50))))
    assert shallow[0]["nested"] == [[[[[]]]]]


def test_the_tap_and_its_children_are_stopped_when_the_consumer_stops(tap: Path, data: Path, tmp_path: Path) -> None:
    pid_file, child_file = tmp_path / "tap.pid", tmp_path / "child.pid"
    pages = connector(tap, data, synthetic=20_000, pid_file=str(pid_file), child_pid_file=str(child_file)).extract(
        ExtractRequest(entity="users", page_size=10))
    next(pages)
    assert alive(int(pid_file.read_text())) and alive(int(child_file.read_text()))  # blocked on a full pipe
    pages.close()
    assert gone(pid_file, child_file)


def test_a_child_the_tap_leaves_is_stopped_when_it_exits(tap: Path, data: Path, tmp_path: Path) -> None:
    child_file = tmp_path / "child.pid"
    connector(tap, data, child_pid_file=str(child_file)).check()
    assert gone(child_file)


# --- what the operator grants --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["id", "env", "sh", "python3", "/usr/bin/python3", "/bin/sh", "tap-fake", "FAKE",
                                  "fake ", "./fake", "fake --discover", "bin/tap-fake"])
def test_only_a_name_the_operator_allowed_runs(tap: Path, data: Path, name: str, monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", f"{tap.parent}{os.pathsep}{os.environ['PATH']}")
    pid_file = tmp_path / "tap.pid"
    with pytest.raises(NotGranted, match=r"is not a Singer tap the operator allowed \(a name among fake, not a "
                                         r"program or a path\): the operator allows taps with --singer-tap NAME=PATH / "
                                         "OPENPROFILES_SINGER_TAPS"):
        connector(tap, data, name=name, pid_file=str(pid_file)).check()
    assert not pid_file.exists()
    with pytest.raises(NotGranted, match="the Singer connector is off: the operator allows taps with --singer-tap"):
        connector(None, data, pid_file=str(pid_file)).check()
    assert not pid_file.exists()


def test_the_tap_gets_a_clean_environment_and_a_private_directory(tap: Path, data: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in SERVER_VARIABLES.items():
        monkeypatch.setenv(variable, value)
    report = tmp_path / "report.json"
    for use in (lambda c: c.check(), lambda c: list(c.extract(ExtractRequest(entity="groups")))):
        use(connector(tap, data, report=str(report)))
        seen = json.loads(report.read_text())
        assert set(seen["env"]) <= TAP_ENVIRONMENT, seen["env"]
        assert seen["env"]["PATH"] == SAFE_PATH and seen["env"]["TZ"] == "UTC"
        assert seen["env"]["HOME"] == seen["env"]["TMPDIR"] == seen["cwd"]
        assert seen["config_mode"] == 0o600
        assert not Path(seen["cwd"]).exists()  # removed after the run
        report.unlink()


def test_a_tap_that_hangs_is_stopped_at_the_time_limit(tap: Path, data: Path, tmp_path: Path) -> None:
    pid_file, child_file = tmp_path / "tap.pid", tmp_path / "child.pid"
    for hang in ({"discover": 60}, {"sync": 60}):
        started = time.monotonic()
        slow = connector(tap, data, timeout=1, hang=hang, pid_file=str(pid_file), child_pid_file=str(child_file))
        with pytest.raises(ConnectorError, match=r"ran longer than 1 s \(--singer-timeout / "
                                                 r"OPENPROFILES_SINGER_TIMEOUT\) and was stopped"):
            list(slow.extract(ExtractRequest(entity="users")))
        assert time.monotonic() - started < 8
        assert gone(pid_file, child_file)


def test_a_tap_that_writes_too_much_is_stopped(tap: Path, data: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "tap.pid"
    message = r"wrote more than 100000 bytes in one run \(--singer-max-output / OPENPROFILES_SINGER_MAX_OUTPUT\)"
    with pytest.raises(ConnectorError, match=message):
        connector(tap, data, max_output=100_000, flood=10_000_000, pid_file=str(pid_file)).check()
    assert gone(pid_file)
    pages = connector(tap, data, max_output=100_000, synthetic=5_000, pid_file=str(pid_file)).extract(
        ExtractRequest(entity="users", page_size=100))
    delivered = []
    with pytest.raises(ConnectorError, match=message):
        for page in pages:
            delivered += page.records
    assert 100 <= len(delivered) < 1000
    assert gone(pid_file)


@pytest.mark.parametrize("times", [1, 5_000], ids=["short", "long"])
def test_stderr_reaches_the_caller_bounded_and_scrubbed(tap: Path, data: Path, times: int) -> None:
    secrets = {"token": "let-me-in", "password": 'hunter2 "quoted"', "nested": {"key": "sk-live-777"}}
    complaint = "ERROR login with {token} / {quoted[password]} / {nested[key]} failed ({password})"
    with pytest.raises(ConnectorError) as raised:
        connector(tap, data, complain=complaint, complain_times=times, password=secrets["password"],
                  nested=secrets["nested"]).check()
    message = raised.value.message
    for secret in ("let-me-in", "hunter2", "sk-live-777"):
        assert secret not in message
    assert 'ERROR login with *** / "***" / *** failed (***)' in message
    assert len(message) < len("the Singer tap exited with code 1 in discovery: ") + STDERR_EXCERPT + 1


def test_a_long_stream_is_read_in_bounded_memory(tap: Path, data: Path) -> None:
    count, peak = peak_memory_of_extraction(connector(tap, data, synthetic=15_000, state_every=1000),
                                            ExtractRequest(entity="users", page_size=500))
    assert count == 15_019
    assert peak < 2_500_000, peak  # the whole stream as records would take over 10 MB


# --- end to end through boto3 --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's host: the allowed tap (bin/tap-fake), and programs a tenant might name instead
    (decoys/, first on the server's PATH), each leaving a file in marks/ when it runs."""
    root = tmp_path_factory.mktemp("singer-host")
    write_tap(root / "bin" / "tap-fake")
    (root / "marks").mkdir()
    for name in DECOYS:
        executable(root / "decoys" / name, f'#!/bin/sh\ntouch "{root / "marks" / name}"\n')
    return root


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, host: Path) -> Iterator[LiveServer]:
    """A server allowing the test tap as "fake" (OPENPROFILES_SINGER_TAPS), with the server's own
    secrets in its environment, short Singer limits and small flow batches."""
    if request.param == "postgresql":
        request.getfixturevalue("postgres")  # started before the decoys are on the PATH
    env = {**SERVER_VARIABLES, "OPENPROFILES_SINGER_TAPS": f"fake={host / 'bin' / 'tap-fake'}",
           "PATH": f"{host / 'decoys'}{os.pathsep}{os.environ['PATH']}"}
    args = (*FAKE_VENDOR_HOSTS, "--singer-timeout", "5", "--singer-max-output", "1000000", "--flow-batch-size", "10")
    with live_server(request, tmp_path_factory.mktemp(f"singer-{request.param}"), env=env, args=args) as server:
        yield server


def singer_profile(appflow: Any, name: str, executable: str = "fake", **config: Any) -> str:
    return create_profile(appflow, name, "CustomConnector", {"executable": executable, "config": json.dumps(config)},
                          TOKEN, label="Singer")


def test_naming_a_program_or_a_path_runs_nothing(appflow: Any, host: Path, unique: str, tmp_path: Path) -> None:
    names = [*DECOYS, str(host / "decoys" / "tap-evil"), str(host / "bin" / "tap-fake"), "/usr/bin/python3", "/bin/sh",
             "tap-fake", "fake --discover", "../fake", "fake\n"]
    for name in names:
        with pytest.raises(appflow.exceptions.ValidationException, match="--singer-tap NAME=PATH"):
            singer_profile(appflow, unique, name, data=str(tmp_path / "x.json"))
    singer_profile(appflow, unique, data=str(tmp_path / "x.json"))
    for name in ("id", "/bin/sh"):
        with pytest.raises(appflow.exceptions.ValidationException, match="--singer-tap NAME=PATH"):
            appflow.update_connector_profile(connectorProfileName=unique, connectionMode="Public", connectorProfileConfig={
                "connectorProfileProperties": {"CustomConnector": {"profileProperties": {"executable": name}}}})
    assert list((host / "marks").iterdir()) == []


def test_a_server_allowing_no_tap_runs_none(open_server: Server, unique: str, tmp_path: Path) -> None:
    appflow = open_server.client("appflow", Credentials("AKIAWHATEVER", "whatever", ""))
    pid_file = tmp_path / "tap.pid"
    with pytest.raises(appflow.exceptions.ValidationException, match="the Singer connector is off: the operator allows "
                                                                    "taps with --singer-tap NAME=PATH"):
        singer_profile(appflow, unique, "id", pid_file=str(pid_file))
    assert not pid_file.exists()


def test_the_tap_sees_none_of_the_servers_environment(appflow: Any, unique: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    singer_profile(appflow, unique, data=str(tmp_path / "x.json"), report=str(report))
    seen = json.loads(report.read_text())
    assert set(seen["env"]) <= TAP_ENVIRONMENT, seen["env"]
    assert SERVER_SECRET not in report.read_text() and seen["env"]["PATH"] == SAFE_PATH
    assert seen["config_mode"] == 0o600 and not Path(seen["cwd"]).exists()


def test_a_hanging_tap_is_stopped_after_the_time_limit(appflow: Any, unique: str, tmp_path: Path) -> None:
    pid_file, child_file = tmp_path / "tap.pid", tmp_path / "child.pid"
    started = time.monotonic()
    with pytest.raises(appflow.exceptions.ConnectorServerException, match=r"ran longer than 5 s \(--singer-timeout"):
        singer_profile(appflow, unique, hang={"discover": 120}, pid_file=str(pid_file), child_pid_file=str(child_file))
    assert time.monotonic() - started < 15
    assert gone(pid_file, child_file)


def test_a_tap_that_writes_too_much_is_stopped_through_the_api(appflow: Any, unique: str, tmp_path: Path) -> None:
    pid_file = tmp_path / "tap.pid"
    with pytest.raises(appflow.exceptions.ConnectorServerException, match="wrote more than 1000000 bytes"):
        singer_profile(appflow, unique, flood=50_000_000, pid_file=str(pid_file))
    assert gone(pid_file)


def test_the_error_quotes_stderr_scrubbed_and_short(appflow: Any, unique: str) -> None:
    with pytest.raises(appflow.exceptions.ConnectorServerException) as raised:
        singer_profile(appflow, unique, api_key="sk-live-4242", complain="request with {api_key} and {token} "
                       "refused by the source", complain_times=2000)
    message = raised.value.response["Error"]["Message"]
    assert "sk-live-4242" not in message and "let-me-in" not in message
    assert message.endswith("request with *** and *** refused by the source") and len(message) < 650


def test_a_cancelled_run_stops_its_tap(appflow: Any, cp: Any, unique: str, tmp_path: Path) -> None:
    pid_file, child_file = tmp_path / "tap.pid", tmp_path / "child.pid"
    source = tmp_path / "source.json"
    source.write_text(json.dumps({"users": []}))
    singer_profile(appflow, unique, data=str(source), synthetic=100_000, slow=0.01, pid_file=str(pid_file),
                   child_pid_file=str(child_file))
    create_domain(cp, unique, "users", **PEOPLE)
    appflow.create_flow(flowName=unique, triggerConfig={"triggerType": "OnDemand"}, destinationFlowConfigList=into_profiles(
        unique, "users"), tasks=map_all("CustomConnector"), sourceFlowConfig={
        "connectorType": "CustomConnector", "connectorProfileName": unique,
        "sourceConnectorProperties": {"CustomConnector": {"entityName": "users"}}})
    pid_file.unlink()
    execution = appflow.start_flow(flowName=unique)["executionId"]
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and child_file.exists()) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)
    assert alive(int(pid_file.read_text()))
    appflow.cancel_flow_executions(flowName=unique, executionIds=[execution])
    assert wait_for_execution(appflow, unique, execution)["executionStatus"] == "Canceled"
    assert gone(pid_file, child_file)

def test_a_flow_lands_records_then_pulls_only_changed_ones(appflow: Any, cp: Any, unique: str, tmp_path: Path) -> None:
    source = tmp_path / "source.json"
    source.write_text(json.dumps({"users": [user(1, 1), user(2, 2), user(3, 3)]}))

    def profile(credentials: dict[str, Any]) -> str:
        return create_profile(appflow, unique, "CustomConnector", {
            "executable": "fake", "config": json.dumps({"data": str(source)})}, credentials, label="Singer")

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
