"""The Files connector: a local directory of CSV and JSON record files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from openprofiles.connectors.base import Connection, ConnectorAuthError, ConnectorError, ExtractRequest
from openprofiles.connectors.files import FilesConnector
from openprofiles.connectors.grants import Grants
from tests.conftest import BACKENDS, FAKE_VENDOR_HOSTS, LiveServer, live_server
from tests.connectors.helpers import assert_resumes, peak_memory_of_extraction, records
from tests.harness import Server, free_port
from tests.live_flows import (
    PEOPLE,
    ScheduledFlow,
    create_domain,
    create_profile,
    entity_names,
    field_types,
    processed,
)

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def connector(path: Path | str | None, grants: Grants | None = None) -> FilesConnector:
    """The connector for `path`, with the operator's grants (by default: `path` is a Files root)."""
    properties = {} if path is None else {"path": str(path)}
    grants = grants or Grants(files_roots=(Path(path or "/nonexistent").resolve(),))
    return FilesConnector(Connection("files", "CustomConnector", properties, {}, label="Files", grants=grants))


def write(path: Path, text: str, modified: datetime | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if modified:
        os.utime(path, (modified.timestamp(), modified.timestamp()))
    return path


def csv_lines(start: int, count: int) -> str:
    return "id,email,updated\n" + "".join(
        f"{i},u{i}@example.com,{(T0 + timedelta(hours=i)).isoformat()}\n" for i in range(start, start + count)
    )


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    """customers/a.csv (5 rows, T0), customers/b.jsonl (3, T0+1d), customers/old/c.json (2-record array,
    T0-1d), plus a hidden file, a text file and a hidden directory that are not entities."""
    root = tmp_path / "exports"
    write(root / "customers" / "a.csv", csv_lines(0, 5), T0)
    write(root / "customers" / "b.jsonl", "".join(json.dumps({"id": 10 + i, "vip": i % 2 == 0}) + "\n" for i in range(3)), T0 + timedelta(days=1))
    write(root / "customers" / "old" / "c.json", json.dumps([{"id": 20}, {"id": 21}]), T0 - timedelta(days=1))
    write(root / "customers" / ".partial.csv", "id\n99\n")
    write(root / "customers" / "notes.txt", "not records")
    write(root / ".cache" / "x.csv", "id\n98\n")
    write(root / "top.ndjson", '{"id": 30}\n')
    return root


def test_check_accepts_a_readable_directory(exports: Path) -> None:
    connector(exports).check()


@pytest.mark.parametrize("where", ["missing", "a-file", None], ids=["missing", "not-a-directory", "no-path"])
def test_check_names_a_bad_path_without_claiming_an_auth_failure(tmp_path: Path, where: str | None) -> None:
    write(tmp_path / "a-file", "x")
    with pytest.raises(ConnectorError) as raised:
        connector(tmp_path / where if where else None).check()
    assert not isinstance(raised.value, ConnectorAuthError)
    assert not raised.value.transient
    assert (where or "'path' property") in raised.value.message


def test_entities_are_folders_then_record_files(exports: Path) -> None:
    top = connector(exports).entities()
    assert [(e.name, e.label, e.has_nested_entities) for e in top] == [
        ("customers", "customers", True), ("top.ndjson", "top.ndjson", False),
    ]
    nested = connector(exports).entities("customers")
    assert [(e.name, e.has_nested_entities) for e in nested] == [
        ("customers/old", True), ("customers/a.csv", False), ("customers/b.jsonl", False),
    ]
    assert [e.name for e in connector(exports).entities("customers/old/")] == ["customers/old/c.json"]


@pytest.mark.parametrize("entity", ["../", "customers/../../exports-elsewhere", "/etc"])
def test_entities_outside_the_directory_are_refused(exports: Path, entity: str) -> None:
    with pytest.raises(ConnectorError, match=r"outside|does not exist"):
        connector(exports).entities(entity)


def test_links_out_of_the_directory_are_not_followed(exports: Path, tmp_path: Path) -> None:
    secret = write(tmp_path / "secret.csv", "id\nsecret\n")
    (exports / "customers" / "leak.csv").symlink_to(secret)
    (exports / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    assert "customers/leak.csv" not in [e.name for e in connector(exports).entities("customers")]
    assert "elsewhere" not in [e.name for e in connector(exports).entities()]
    assert "secret" not in [r["id"] for r in records(list(connector(exports).extract(ExtractRequest(entity=""))))]
    for entity in ("customers/leak.csv", "elsewhere/secret.csv"):
        with pytest.raises(ConnectorError, match="is outside"):
            list(connector(exports).extract(ExtractRequest(entity=entity)))


def test_describe_infers_types_from_a_file_or_a_directory_first_file(exports: Path) -> None:
    expected = [("id", "integer"), ("email", "string"), ("updated", "datetime")]
    assert [(f.name, f.data_type) for f in connector(exports).describe("customers/a.csv")] == expected
    assert [(f.name, f.data_type) for f in connector(exports).describe("customers")] == expected
    assert [(f.name, f.data_type) for f in connector(exports).describe("customers/b.jsonl")] == [
        ("id", "integer"), ("vip", "boolean"),
    ]
    (exports / "empty").mkdir()
    with pytest.raises(ConnectorError, match="'empty' holds no"):
        connector(exports).describe("empty")

def test_extract_reads_every_file_below_in_name_order(exports: Path) -> None:
    pages = list(connector(exports).extract(ExtractRequest(entity="customers", page_size=4)))
    assert [len(p.records) for p in pages] == [4, 4, 2]
    got = records(pages)
    assert [r["id"] for r in got] == ["0", "1", "2", "3", "4", 10, 11, 12, 20, 21]
    assert got[0] == {"id": "0", "email": "u0@example.com", "updated": T0.isoformat()}
    assert pages[0].checkpoint == {"key": "customers/a.csv", "line": 4}
    assert pages[-1].checkpoint == {"key": "customers/old/c.json", "line": 2}
    assert [p.high_water for p in pages] == [T0, T0 + timedelta(days=1), T0 - timedelta(days=1)]


def test_extract_a_single_file(exports: Path) -> None:
    got = records(list(connector(exports).extract(ExtractRequest(entity="top.ndjson"))))
    assert got == [{"id": 30}]
    with pytest.raises(ConnectorError, match=r"notes\.txt: not one of"):
        list(connector(exports).extract(ExtractRequest(entity="customers/notes.txt")))


def test_incremental_by_file_modification_time(exports: Path) -> None:
    def ids(since: datetime | None, until: datetime | None) -> list[object]:
        request = ExtractRequest(entity="customers", since=since, until=until)
        return [r["id"] for r in records(list(connector(exports).extract(request)))]

    assert ids(T0, None) == ["0", "1", "2", "3", "4", 10, 11, 12]
    assert ids(T0, T0 + timedelta(days=1)) == ["0", "1", "2", "3", "4"]
    assert ids(None, T0) == [20, 21]
    assert ids(T0 + timedelta(days=2), None) == []
    [page] = connector(exports).extract(ExtractRequest(entity="customers", since=T0 + timedelta(hours=1)))
    assert page.high_water == T0 + timedelta(days=1)


def test_incremental_by_a_record_field(tmp_path: Path) -> None:
    old = T0 - timedelta(days=30)
    write(tmp_path / "a.csv", csv_lines(0, 6), old)  # updated = T0 + i hours, whatever the file's mtime
    epoch = int((T0 + timedelta(hours=3)).timestamp())
    write(tmp_path / "b.jsonl", f'{{"id": 7, "updated": {epoch * 1000}}}\n{{"id": 8, "updated": null}}\n', old)
    request = ExtractRequest(entity="", modified_field="updated", since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=5))
    pages = list(connector(tmp_path).extract(request))
    assert [r["id"] for r in records(pages)] == ["2", "3", "4", 7]
    assert pages[0].high_water == T0 + timedelta(hours=4)
    # without `since`, a record with no modification time is delivered too
    full = records(list(connector(tmp_path).extract(ExtractRequest(entity="b.jsonl", modified_field="updated"))))
    assert [r["id"] for r in full] == [7, 8]


def test_an_unreadable_modification_field_fails_the_run(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "id,updated\n1,2024-01-01\n2,last tuesday\n")
    with pytest.raises(ConnectorError, match=r"a.csv: record 2 has updated='last tuesday'"):
        list(connector(tmp_path).extract(ExtractRequest(entity="a.csv", modified_field="updated", since=T0)))


@pytest.mark.parametrize(("page_size", "stop_after"), [(3, 1), (4, 2), (5, 1), (1, 9), (2, 3)])
def test_resume_from_a_checkpoint_delivers_exactly_the_rest(exports: Path, page_size: int, stop_after: int) -> None:
    assert_resumes(connector(exports), ExtractRequest(entity="", page_size=page_size), stop_after)


def test_resume_with_a_record_field_window(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", csv_lines(0, 40))
    write(tmp_path / "b.csv", csv_lines(40, 40))
    request = ExtractRequest(entity="", modified_field="updated", since=T0 + timedelta(hours=10), page_size=7)
    for stop_after in (1, 4, 5, 9):
        assert_resumes(connector(tmp_path), request, stop_after)


def test_a_bad_checkpoint_is_refused(exports: Path) -> None:
    with pytest.raises(ConnectorError, match="invalid checkpoint"):
        list(connector(exports).extract(ExtractRequest(entity="", checkpoint={"offset": 3})))


def test_a_large_file_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = write(tmp_path / "big.csv", csv_lines(0, 200_000))
    count, peak = peak_memory_of_extraction(connector(tmp_path), ExtractRequest(entity="big.csv", page_size=1000))
    assert count == 200_000
    assert peak < path.stat().st_size / 10, (peak, path.stat().st_size)


# --- Parquet -------------------------------------------------------------------------------------------


def write_parquet(path: Path, start: int, count: int, row_group_size: int = 4, modified: datetime | None = None) -> Path:
    """Customers start..start+count-1 with typed columns, in row groups of `row_group_size`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = range(start, start + count)
    table = pa.table({
        "id": pa.array(list(rows), pa.int64()),
        "email": pa.array([f"u{i}@example.com" for i in rows]),
        "balance": pa.array([Decimal(i) / 4 for i in rows], pa.decimal128(10, 2)),
        "vip": pa.array([i % 2 == 0 for i in rows]),
        "born": pa.array([date(1990, 1, 1) + timedelta(days=i) for i in rows], pa.date32()),
        "updated": pa.array([(T0 + timedelta(hours=i)).replace(tzinfo=None) for i in rows], pa.timestamp("ns")),
        "tags": pa.array([["a", "b"][: i % 3] for i in rows], pa.list_(pa.string())),
        "address": pa.array([{"city": "Oslo", "zip": str(i)} for i in rows]),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group_size)
    if modified:
        os.utime(path, (modified.timestamp(), modified.timestamp()))
    return path


def test_parquet_files_are_entities_with_their_schema_types(tmp_path: Path) -> None:
    write_parquet(tmp_path / "crm" / "customers.parquet", 0, 3)
    assert [e.name for e in connector(tmp_path).entities("crm")] == ["crm/customers.parquet"]
    fields = connector(tmp_path).describe("crm/customers.parquet")
    assert [(f.name, f.data_type) for f in fields] == [
        ("id", "integer"), ("email", "string"), ("balance", "decimal"), ("vip", "boolean"), ("born", "date"),
        ("updated", "datetime"), ("tags", "list"), ("address", "struct"),
    ]
    assert [f.name for f in connector(tmp_path).describe("crm")] == [f.name for f in fields]


def test_parquet_records_page_through_row_groups_as_json_values(tmp_path: Path) -> None:
    write_parquet(tmp_path / "customers.parquet", 0, 10)
    pages = list(connector(tmp_path).extract(ExtractRequest(entity="customers.parquet", page_size=3)))
    assert [len(p.records) for p in pages] == [3, 3, 3, 1]
    got = records(pages)
    assert [r["id"] for r in got] == list(range(10))
    assert got[5] == {"id": 5, "email": "u5@example.com", "balance": "1.25", "vip": False, "born": "1990-01-06",
                      "updated": "2024-03-01T05:00:00", "tags": ["a", "b"], "address": {"city": "Oslo", "zip": "5"}}
    assert json.loads(json.dumps(got)) == got
    assert pages[-1].checkpoint == {"key": "customers.parquet", "line": 10}


def test_parquet_incremental_by_a_timestamp_column_and_by_file_time(tmp_path: Path) -> None:
    write_parquet(tmp_path / "a.parquet", 0, 10, modified=T0)
    write_parquet(tmp_path / "b.parquet", 10, 5, modified=T0 + timedelta(days=1))
    request = ExtractRequest(entity="", modified_field="updated", since=T0 + timedelta(hours=8),
                             until=T0 + timedelta(hours=12))
    pages = list(connector(tmp_path).extract(request))
    assert [r["id"] for r in records(pages)] == [8, 9, 10, 11]
    assert pages[-1].high_water == T0 + timedelta(hours=11)
    by_file = records(list(connector(tmp_path).extract(ExtractRequest(entity="", since=T0 + timedelta(hours=1)))))
    assert [r["id"] for r in by_file] == [10, 11, 12, 13, 14]


@pytest.mark.parametrize(("page_size", "stop_after"), [(3, 1), (4, 3), (1, 7)])
def test_parquet_resumes_from_a_checkpoint(tmp_path: Path, page_size: int, stop_after: int) -> None:
    write_parquet(tmp_path / "a.parquet", 0, 9)
    write(tmp_path / "b.csv", csv_lines(100, 4))
    write_parquet(tmp_path / "c.parquet", 200, 6, row_group_size=5)
    assert_resumes(connector(tmp_path), ExtractRequest(entity="", page_size=page_size), stop_after)


def test_a_large_parquet_file_streams_in_bounded_memory(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = write_parquet(tmp_path / "big.parquet", 0, 40_000, row_group_size=2_000)
    whole = pq.read_table(path).nbytes
    arrow_peak, count = 0, 0
    tracemalloc.start()
    try:
        for page in connector(tmp_path).extract(ExtractRequest(entity="big.parquet", page_size=1000)):
            count += len(page.records)
            arrow_peak = max(arrow_peak, pa.total_allocated_bytes())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 40_000
    assert arrow_peak < whole / 5, (arrow_peak, whole)  # one row group's columns at a time
    assert peak < 10_000_000, peak  # a batch and a page of records at a time (all 40,000 take tens of MB)


def test_parquet_errors_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "broken.parquet", "not parquet at all")
    with pytest.raises(ConnectorError, match=r"broken.parquet: not a readable Parquet file"):
        list(connector(tmp_path).extract(ExtractRequest(entity="broken.parquet")))
    write_parquet(tmp_path / "fine.parquet", 0, 1)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if the 'parquet' extra were not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ConnectorError, match=r"needs pyarrow: install OpenProfiles with the 'parquet' extra"):
        list(connector(tmp_path).extract(ExtractRequest(entity="fine.parquet")))


# --- End to end: boto3 against the live server, a local directory as the source -------------------


@pytest.fixture(scope="module")
def files_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory the operator lets the Files connector read (--files-root)."""
    return tmp_path_factory.mktemp("files-root").resolve()


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         files_root: Path) -> Iterator[LiveServer]:
    with live_server(request, tmp_path_factory.mktemp(f"files-{request.param}"),
                     args=(*FAKE_VENDOR_HOSTS, "--files-root", str(files_root))) as server:
        yield server


@pytest.fixture
def shared(files_root: Path, unique: str) -> Path:
    """A fresh directory inside the Files root."""
    directory = files_root / unique
    directory.mkdir()
    return directory


def test_a_files_flow_lands_profiles_then_pulls_only_changed_records(appflow: Any, cp: Any, unique: str,
                                                                     shared: Path) -> None:
    tmp_path = shared
    people = write(tmp_path / "crm" / "people.csv", "id,email,name,updated\n"
                   "1,a@example.com,Ann,2026-01-01T00:00:00Z\n2,b@example.com,Bo,2026-01-02T00:00:00Z\n"
                   "3,c@example.com,Cy,2026-01-03T00:00:00Z\n")
    with pytest.raises(appflow.exceptions.ConnectorServerException, match="missing"):
        create_profile(appflow, unique, "CustomConnector", {"path": str(tmp_path / "missing")}, label="Files")
    create_profile(appflow, unique, "CustomConnector", {"path": str(tmp_path)}, label="Files")
    assert entity_names(appflow, unique, "crm") == ["crm/people.csv"]
    assert field_types(appflow, unique, "crm/people.csv")["updated"] == "datetime"

    create_domain(cp, unique, "people", **PEOPLE)
    flow = ScheduledFlow(appflow, unique, into=(unique, "people"), source={
        "connectorType": "CustomConnector", "connectorProfileName": unique,
        "sourceConnectorProperties": {"CustomConnector": {"entityName": "crm/people.csv"}},
        "incrementalPullConfig": {"datetimeTypeFieldName": "updated"}})
    assert processed(flow.run()) == 3

    with people.open("a") as handle:
        handle.write("1,ann@example.org,Ann,2026-02-01T00:00:00Z\n4,d@example.com,Di,2026-02-01T00:00:00Z\n")
    # Ann's new row and Di, and Cy, updated at the first run's high-water mark (2026-01-03): the runner
    # pulls from the mark inclusively, so records stamped at it are read again by design.
    assert processed(flow.run()) == 2 + 1
    found = cp.search_profiles(DomainName=unique, KeyName="crmId", Values=["1"])["Items"]
    assert [p["EmailAddress"] for p in found] == ["ann@example.org"]
    assert cp.get_domain(DomainName=unique)["Stats"]["ProfileCount"] == 4


def refused(appflow: Any, name: str, path: str) -> str:
    """The ValidationException message of CreateConnectorProfile for a Files profile on `path`."""
    with pytest.raises(appflow.exceptions.ValidationException) as error:
        create_profile(appflow, name, "CustomConnector", {"path": path}, label="Files")
    return str(error.value.response["Error"]["Message"])


def test_paths_outside_the_roots_are_refused(appflow: Any, live: LiveServer, unique: str, shared: Path,
                                             tmp_path: Path) -> None:
    (shared / "out").symlink_to(tmp_path, target_is_directory=True)
    for path in ("/", "/etc", str(shared / ".." / ".."), str(shared / "out"), str(live.server.data_dir),
                 str(tmp_path)):
        message = refused(appflow, unique, path)
        assert "--files-root" in message and "OPENPROFILES_FILES_ROOTS" in message, (path, message)
    assert unique not in str(appflow.describe_connector_profiles())


def test_a_key_file_outside_the_roots_is_not_readable(appflow: Any, cp: Any, unique: str, shared: Path,
                                                      tmp_path: Path) -> None:
    secret = write(tmp_path / "keys" / "service-account.json", json.dumps(
        [{"id": "1", "private_key": "-----BEGIN PRIVATE KEY-----planted"}]))
    (shared / "service-account.json").symlink_to(secret)
    (shared / "keys").symlink_to(secret.parent, target_is_directory=True)
    write(shared / "people.json", json.dumps([{"id": "2", "email": "ann@example.com"}]))
    for directory in (secret.parent, secret.parent.parent, shared / "keys"):  # the key's own directory, or via a link
        assert "--files-root" in refused(appflow, unique, str(directory))
    create_profile(appflow, unique, "CustomConnector", {"path": str(shared)}, label="Files")
    assert entity_names(appflow, unique) == ["people.json"]
    for entity in ("service-account.json", "keys/service-account.json", "../../keys/service-account.json",
                   str(secret)):
        with pytest.raises(appflow.exceptions.ConnectorServerException, match=r"outside|does not exist"):
            appflow.describe_connector_entity(connectorProfileName=unique, connectorEntityName=entity)

    create_domain(cp, unique, "people", **PEOPLE)
    for entity in ("", "service-account.json"):
        flow = ScheduledFlow(appflow, unique + str(len(entity)), into=(unique, "people"), source={
            "connectorType": "CustomConnector", "connectorProfileName": unique,
            "sourceConnectorProperties": {"CustomConnector": {"entityName": entity or "/"}}})
        record = flow.run()
        assert "planted" not in str(record)
    found = cp.list_profile_objects(DomainName=unique, ObjectTypeName="people",
                                    ProfileId=cp.search_profiles(DomainName=unique, KeyName="crmId",
                                                                 Values=["2"])["Items"][0]["ProfileId"])
    assert "planted" not in str(found)
    assert not cp.search_profiles(DomainName=unique, KeyName="crmId", Values=["1"])["Items"]


def test_without_a_root_the_files_connector_is_off(tmp_path: Path, unique: str) -> None:
    server = Server(tmp_path / "data", None)  # no --files-root
    creds = server.create_key()
    server.start()
    try:
        message = refused(server.client("appflow", creds), unique, str(tmp_path))
        assert "the Files connector is off" in message and "--files-root" in message
    finally:
        server.stop()


@pytest.mark.parametrize("where", ["parent", "data-dir", "inside"])
def test_a_root_holding_the_data_directory_is_refused_at_startup(tmp_path: Path, where: str) -> None:
    data = tmp_path / "data"
    root = {"parent": tmp_path, "data-dir": data, "inside": data / "exports"}[where]
    root.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "openprofiles", "serve", "--port", str(free_port()),
                           "--data-dir", str(data), "--files-root", str(root)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"--files-root {root.resolve()}" in done.stderr and "data directory" in done.stderr
