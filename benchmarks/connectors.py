#!/usr/bin/env python3
"""Extraction throughput of each source connector, against its local fake or a local file.

    python benchmarks/connectors.py [--records 100000] [--page-size 1000] [--only NAME] [--tracemalloc]

Each connector pulls one entity completely (no window, no filters), page by page as a flow run
does, and the pages are counted and dropped. The sources:

- salesforce-rest, salesforce-bulk: Contacts of the fake org (tests/fakes/salesforce.py), through
  REST SOQL batches (dataTransferApi REST_SYNC) and through a Bulk API 2.0 query job (BULKV2; the
  job-status poll interval is cut to 10 ms, the fake finishes a job at its second poll);
- zendesk: users (tests/fakes/zendesk.py, cursor-paged list, at most 100 a page);
- servicenow: sys_user (tests/fakes/servicenow.py, Table API with keyset paging);
- slack: the messages of one channel (tests/fakes/slack.py, conversations.history);
- marketo: leads (tests/fakes/marketo.py: the lead-change feed, then leads.json by id, 300 a page);
- s3: one JSON Lines object in moto's server mode (tests/harness.py MotoServer, reached through
  AWS_ENDPOINT_URL_S3 as in tests/connectors/test_s3.py);
- files-csv, files-jsonl, files-parquet: one local file each (Parquet in row groups of 10,000);
- sql: a table of a SQLite file (ordered by its updated_at column);
- singer: the `users` stream of the test tap (tests/fakes/singer_tap.py, its synthetic users,
  a STATE message every page), run as a subprocess.

The fake vendor servers run in the connector's process, on a uvicorn thread (tests/fakes/server.py),
so each vendor figure includes the fake's own work (routing, its query engine, JSON encoding)
competing with the connector for the same interpreter lock: read them as lower bounds of the
connector's speed and as a yardstick between versions, not as what a real vendor would give. moto and the
Singer tap are separate processes: their CPU is not in this process, but their speed still bounds
the rate. Fakes are built, files written and `check()` called (clients loaded, tokens fetched)
before the clock starts. `--records` is capped at 100,000 for Zendesk, whose fake slows down with
the square of its size (the output says so).

Each connector runs in a fresh process of its own. Printed per connector: records, seconds,
records/s, peak MiB and pages. Peak MiB is, by default, that process's peak resident memory during
the extraction (VmHWM, reset just before it) minus its resident memory at that moment (VmRSS, with
the fake's data already in memory): what the extraction, and the fake's answering, added, C
allocations (pyarrow, SQLite) included; memory freed during the setup and reused goes uncounted.
With --tracemalloc it is instead the peak of the Python allocations traced during the extraction
(all threads, so the fake's too; not pyarrow's or SQLite's own), and the rate includes
tracemalloc's overhead.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from openprofiles.connectors.base import Connection, Connector, ExtractRequest  # noqa: E402
from openprofiles.connectors.files import FilesConnector  # noqa: E402
from openprofiles.connectors.grants import Grants  # noqa: E402
from openprofiles.connectors.marketo import MarketoConnector  # noqa: E402
from openprofiles.connectors.s3 import S3Connector  # noqa: E402
from openprofiles.connectors.salesforce import SalesforceConnector  # noqa: E402
from openprofiles.connectors.servicenow import ServiceNowConnector  # noqa: E402
from openprofiles.connectors.singer import SingerConnector  # noqa: E402
from openprofiles.connectors.slack import SlackConnector  # noqa: E402
from openprofiles.connectors.sql import SqlConnector  # noqa: E402
from openprofiles.connectors.zendesk import ZendeskConnector  # noqa: E402
from tests.fakes import marketo, salesforce, servicenow, slack, zendesk  # noqa: E402
from tests.fakes.server import serving  # noqa: E402
from tests.harness import MotoServer  # noqa: E402

T0 = datetime(2024, 1, 1, tzinfo=UTC)
FIELDS = ("id", "email", "first_name", "last_name", "phone", "city", "score", "vip", "updated_at")


def customer(i: int) -> dict[str, Any]:
    """Record i of the file, S3 and SQL sources (two records per updated_at second)."""
    return {"id": i, "email": f"user{i}@example.com", "first_name": ("Ann", "Bob", "Cy")[i % 3],
            "last_name": f"Last{i}", "phone": f"+1415555{i % 10000:04d}", "city": ("Paris", "Oslo", "Lima")[i % 3],
            "score": i % 100 / 4, "vip": i % 4 == 0,
            "updated_at": (T0 + timedelta(seconds=i // 2)).isoformat().replace("+00:00", "Z")}


def jsonl(n: int) -> bytes:
    return b"".join(orjson.dumps(customer(i)) + b"\n" for i in range(n))


# --- the sources: each yields a checked connector and its request, its source running --------------


@contextmanager
def salesforce_source(n: int, api: str, page_size: int) -> Iterator[tuple[Connector, ExtractRequest]]:
    with serving(salesforce.make_app(records=n)) as url:
        connector = SalesforceConnector(Connection("sf", "Salesforce", {"instanceUrl": url},
                                                   {"accessToken": salesforce.TOKEN}))
        connector.poll_interval = 0.01
        connector.check()
        yield connector, ExtractRequest(entity="Contact", source_properties={"object": "Contact",
                                                                              "dataTransferApi": api},
                                        page_size=page_size)


@contextmanager
def zendesk_source(n: int, page_size: int) -> Iterator[tuple[Connector, ExtractRequest]]:
    with serving(zendesk.FakeZendesk(users=n, tickets=0, organizations=0).app) as url:
        connector = ZendeskConnector(Connection("zd", "Zendesk", {"instanceUrl": url},
                                                {"clientId": "c", "clientSecret": "s", "accessToken": zendesk.TOKEN}))
        connector.check()
        yield connector, ExtractRequest(entity="users", page_size=page_size)


@contextmanager
def servicenow_source(n: int, page_size: int) -> Iterator[tuple[Connector, ExtractRequest]]:
    with serving(servicenow.FakeServiceNow(users=n, incidents=0).app) as url:
        username, password = servicenow.USER
        connector = ServiceNowConnector(Connection("sn", "Servicenow", {"instanceUrl": url},
                                                   {"username": username, "password": password}))
        connector.check()
        yield connector, ExtractRequest(entity="sys_user", page_size=page_size)


@contextmanager
def slack_source(n: int, page_size: int) -> Iterator[tuple[Connector, ExtractRequest]]:
    _, app = slack.make_app({"C0000GENERAL": [slack.make_message(i) for i in range(n)]})
    with serving(app) as url:
        connector = SlackConnector(Connection("slack", "Slack", {"instanceUrl": url},
                                              {"clientId": "c", "clientSecret": "s", "accessToken": slack.TOKEN}))
        connector.check()
        yield connector, ExtractRequest(entity="conversations/C0000GENERAL", page_size=page_size)


@contextmanager
def marketo_source(n: int, page_size: int) -> Iterator[tuple[Connector, ExtractRequest]]:
    _, app = marketo.make_app(n)
    with serving(app) as url:
        connector = MarketoConnector(Connection("mkto", "Marketo", {"instanceUrl": url},
                                                {"clientId": marketo.CLIENT_ID, "clientSecret": marketo.CLIENT_SECRET}))
        connector.check()
        yield connector, ExtractRequest(entity="leads", page_size=page_size)


@contextmanager
def s3_source(n: int, page_size: int) -> Iterator[tuple[Connector, ExtractRequest]]:
    moto = MotoServer()
    moto.start()
    saved = {name: os.environ.get(name) for name in moto.env()}
    os.environ.update(moto.env())
    try:
        bucket = "bench-" + uuid.uuid4().hex[:8]
        client = moto.client("s3")
        client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key="bench/customers.jsonl", Body=jsonl(n))
        # The operator maps the benchmark's bucket to the account (the server's own credentials read it).
        connector = S3Connector(Connection("s3", "S3", {}, {}, account_id="000000000000", grants=Grants(
            aws_resources=(("000000000000", f"arn:aws:s3:::{bucket}"),))))
        connector.check()
        yield connector, ExtractRequest(entity="", page_size=page_size, source_properties={
            "bucketName": bucket, "bucketPrefix": "bench", "s3InputFormatConfig": {"s3InputFileType": "JSON"}})
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        moto.stop()


def write_file(n: int, workdir: Path, kind: str) -> Path:
    path = workdir / "files" / f"customers.{kind}"
    path.parent.mkdir(exist_ok=True)
    if kind == "csv":
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, FIELDS)
            writer.writeheader()
            writer.writerows(customer(i) for i in range(n))
    elif kind == "jsonl":
        path.write_bytes(jsonl(n))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        with pq.ParquetWriter(path, pa.Table.from_pylist([customer(0)]).schema) as writer:
            for start in range(0, n, 10_000):
                writer.write_table(pa.Table.from_pylist([customer(i) for i in range(start, min(n, start + 10_000))]))
    return path


@contextmanager
def files_source(n: int, workdir: Path, kind: str, page_size: int) -> Iterator[tuple[Connector, ExtractRequest]]:
    path = write_file(n, workdir, kind)
    connector = FilesConnector(Connection("files", "CustomConnector", {"path": str(path.parent)}, {}, label="Files",
                                          grants=Grants(files_roots=(path.parent.resolve(),))))
    connector.check()
    yield connector, ExtractRequest(entity=path.name, page_size=page_size)


@contextmanager
def sql_source(n: int, workdir: Path, page_size: int) -> Iterator[tuple[Connector, ExtractRequest]]:
    import sqlalchemy as sa

    url = f"sqlite:///{workdir / 'crm.db'}"
    table = sa.Table("customers", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                     sa.Column("email", sa.String(100)), sa.Column("first_name", sa.String(50)),
                     sa.Column("last_name", sa.String(50)), sa.Column("phone", sa.String(20)),
                     sa.Column("city", sa.String(50)), sa.Column("score", sa.Float), sa.Column("vip", sa.Boolean),
                     sa.Column("updated_at", sa.DateTime, index=True))
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as connection:
        table.create(connection)
        for start in range(0, n, 10_000):
            connection.execute(table.insert(), [
                {**row, "updated_at": datetime.fromisoformat(row["updated_at"]).replace(tzinfo=None)}
                for row in map(customer, range(start, min(n, start + 10_000)))])
    engine.dispose()
    connector = SqlConnector(Connection("crm", "CustomConnector", {"url": url}, {}, label="SQL",
                                        grants=Grants(sql_url_patterns=(f"sqlite:///{workdir.resolve()}/*",))))
    connector.check()
    yield connector, ExtractRequest(entity="customers", modified_field="updated_at", page_size=page_size)


@contextmanager
def singer_source(n: int, workdir: Path, page_size: int) -> Iterator[tuple[Connector, ExtractRequest]]:
    tap = workdir / "bin" / "tap-bench"
    tap.parent.mkdir(exist_ok=True)
    tap.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests" / "fakes" / "singer_tap.py"}" "$@"\n')
    tap.chmod(tap.stat().st_mode | stat.S_IXUSR)
    data = workdir / "singer.json"
    data.write_text(json.dumps({"users": [], "groups": []}))
    config = {"data": str(data), "synthetic": n, "state_every": page_size}
    credentials = {"authenticationType": "CUSTOM", "custom": {"customAuthenticationType": "token",
                                                              "credentialsMap": {"token": "let-me-in"}}}
    connector = SingerConnector(Connection("tap", "CustomConnector",
                                           {"executable": str(tap), "config": json.dumps(config)}, credentials,
                                           label="Singer"))
    connector.check()
    yield connector, ExtractRequest(entity="users", page_size=page_size)


@dataclass(frozen=True)
class Source:
    name: str
    setup: Callable[[int, Path, int], AbstractContextManager[tuple[Connector, ExtractRequest]]]
    #: The most records this source is run with, when its fake gets slow at size.
    cap: int | None = None
    cap_reason: str = ""


SOURCES = [
    Source("salesforce-rest", lambda n, _, size: salesforce_source(n, "REST_SYNC", size)),
    Source("salesforce-bulk", lambda n, _, size: salesforce_source(n, "BULKV2", size)),
    Source("zendesk", lambda n, _, size: zendesk_source(n, size), cap=100_000,
           cap_reason="the fake sorts all its users for each page of 100, so its time grows with the square"),
    Source("servicenow", lambda n, _, size: servicenow_source(n, size)),
    Source("slack", lambda n, _, size: slack_source(n, size)),
    Source("marketo", lambda n, _, size: marketo_source(n, size)),
    Source("s3", lambda n, _, size: s3_source(n, size)),
    Source("files-csv", lambda n, workdir, size: files_source(n, workdir, "csv", size)),
    Source("files-jsonl", lambda n, workdir, size: files_source(n, workdir, "jsonl", size)),
    Source("files-parquet", lambda n, workdir, size: files_source(n, workdir, "parquet", size)),
    Source("sql", sql_source),
    Source("singer", singer_source),
]


# --- measuring ------------------------------------------------------------------------------------


def status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"/proc/self/status has no {field} (VmHWM needs Linux; use --tracemalloc)")


@dataclass(frozen=True)
class Result:
    records: int
    seconds: float
    pages: int
    peak_mib: float


def extract(connector: Connector, request: ExtractRequest, traced: bool) -> Result:
    """Pull every page, keeping none; the peak as the module docstring says."""
    records = pages = 0
    if traced:
        tracemalloc.start()
    else:
        Path("/proc/self/clear_refs").write_text("5")  # Linux: resets VmHWM to the current RSS
        before = status_mib("VmRSS")
    start = time.perf_counter()
    try:
        for page in connector.extract(request):
            records += len(page.records)
            pages += 1
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else status_mib("VmHWM") - before
    finally:
        if traced:
            tracemalloc.stop()
    return Result(records, seconds, pages, peak)


def run_one(source: Source, count: int, page_size: int, traced: bool) -> None:
    """In the child process: set the source up, extract, print the Result as JSON."""
    with tempfile.TemporaryDirectory(prefix="openprofiles-bench-") as workdir, \
            source.setup(count, Path(workdir), page_size) as (connector, request):
        result = extract(connector, request, traced)
    print(json.dumps(result.__dict__))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1000, help="ExtractRequest.page_size (vendors cap it)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run this source (or those starting with it: salesforce); repeatable")
    parser.add_argument("--tracemalloc", action="store_true", help="peak of traced Python allocations, not VmHWM")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one source, in the process the parent started
    args = parser.parse_args()
    if args.child:
        run_one(next(s for s in SOURCES if s.name == args.child), args.records, args.page_size, args.tracemalloc)
        return

    chosen = [s for s in SOURCES if not args.only or any(s.name.startswith(name) for name in args.only)]
    if not chosen:
        raise SystemExit(f"--only: no source among {', '.join(s.name for s in SOURCES)}")
    peak_kind = "traced Python allocations" if args.tracemalloc else "VmHWM over VmRSS at the start"
    print(f"page size {args.page_size:,}; peak MiB: {peak_kind}; vendor fakes run in the measured process")
    print(f"{'connector':<16}{'records':>10}{'seconds':>9}{'records/s':>11}{'peak MiB':>10}{'pages':>7}")
    failed = []
    for source in chosen:
        count = min(args.records, source.cap) if source.cap else args.records
        command = [sys.executable, __file__, "--child", source.name, "--records", str(count),
                   "--page-size", str(args.page_size), *(["--tracemalloc"] if args.tracemalloc else [])]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            failed.append(source.name)
            print(f"{source.name:<16} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}", flush=True)
            continue
        result = Result(**json.loads(done.stdout.strip().splitlines()[-1]))
        if result.records != count:
            failed.append(source.name)
        note = f"  (capped at {source.cap:,}: {source.cap_reason})" if count < args.records else ""
        note += f"  (expected {count:,} records)" if result.records != count else ""
        print(f"{source.name:<16}{result.records:>10,}{result.seconds:>9.2f}{result.records / result.seconds:>11,.0f}"
              f"{result.peak_mib:>10.1f}{result.pages:>7,}{note}", flush=True)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
