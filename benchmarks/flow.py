#!/usr/bin/env python3
"""A flow run end to end, in process, beside the raw batch ingest of the same records.

    python benchmarks/flow.py [--records 1000000] [--batch 10000] [--database-url URL]

The records of benchmarks/ingest.py (`records()` in ../shared/bench/reference.py) are written to a
JSON Lines file; an OnDemand flow reads it with the Files connector, applies six tasks (projection,
two DropRecord validations, Truncate, Merge, Map_all) and loads it into the same object type as the
ingest benchmark (a UNIQUE key and three PROFILE keys, encryption and history on), one batch per
page of `--batch` records, on SQLite on disk. The same records then go through
`IngestService.ingest` directly (benchmarks/ingest.py's `run_ours`) in the same run.
Prints both rates, the ratio (target: the flow >= 0.7x the raw ingest) and the flow's peak memory.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest as raw  # benchmarks/ingest.py: the records, the object type and the raw ingest loop

from openprofiles.app import build_runtime
from openprofiles.context import RequestContext
from openprofiles.settings import Settings

OP = {"CustomConnector": "NO_OP"}
TASKS = [
    {"taskType": "Filter", "connectorOperator": {"CustomConnector": "PROJECTION"},
     "sourceFields": ["AccountNumber", "EmailAddress", "PhoneNumber", "FirstName", "LastName", "Address",
                      "Attributes"]},
    {"taskType": "Validate", "sourceFields": ["AccountNumber"], "connectorOperator": {
        "CustomConnector": "VALIDATE_NON_NULL"}, "taskProperties": {"VALIDATION_ACTION": "DropRecord"}},
    {"taskType": "Validate", "sourceFields": ["EmailAddress"], "connectorOperator": {
        "CustomConnector": "VALIDATE_NON_NULL"}, "taskProperties": {"VALIDATION_ACTION": "DropRecord"}},
    {"taskType": "Truncate", "sourceFields": ["LastName"], "connectorOperator": OP,
     "taskProperties": {"TRUNCATE_LENGTH": "64"}},
    {"taskType": "Merge", "sourceFields": ["FirstName", "LastName"], "destinationField": "FullName",
     "connectorOperator": OP, "taskProperties": {"CONCAT_FORMAT": "${FirstName} ${LastName}"}},
    {"taskType": "Map_all", "sourceFields": [], "connectorOperator": OP},
]


def run_flow(source: Path, database_url: str | None, data_dir: Path, batch: int) -> tuple[int, float]:
    """Run the flow over `source` to its end; (records processed, seconds)."""
    runtime = build_runtime(Settings(data_dir=data_dir, database_url=database_url, flow_batch_size=batch,
                                     files_roots=(source.parent,)))
    now = datetime.now(UTC)
    ctx = RequestContext("000000000000", "us-east-1", "bench", "bench", now)
    runtime.domains.create(ctx, "bench", default_expiration_days=365, default_encryption_key=None,
                           dead_letter_queue_url=None, settings={}, tags={})
    runtime.object_types.put(runtime.domains.record(ctx, "bench"), "crm", raw.OBJECT_TYPE, now)
    runtime.connector_profiles.create(ctx, "files", "CustomConnector", "Files", "Public", {
        "connectorProfileProperties": {"CustomConnector": {"profileProperties": {"path": str(source.parent)}}}}, None)
    runtime.flows.create(ctx, {
        "flowName": "bench",
        "triggerConfig": {"triggerType": "OnDemand"},
        "sourceFlowConfig": {"connectorType": "CustomConnector", "connectorProfileName": "files",
                             "sourceConnectorProperties": {"CustomConnector": {"entityName": source.name}}},
        "destinationFlowConfigList": [{"connectorType": "CustomerProfiles", "destinationConnectorProperties": {
            "CustomerProfiles": {"domainName": "bench", "objectTypeName": "crm"}}}],
        "tasks": TASKS,
    })
    start = time.perf_counter()
    _, execution_id = runtime.runner.start(ctx, "bench")
    assert execution_id is not None
    outcome = runtime.runner.wait(execution_id)
    elapsed = time.perf_counter() - start
    (record,) = runtime.runner.records(ctx, "bench", None, 1)
    if outcome is None or outcome.status != "Successful" or record.put_failures:
        raise SystemExit(f"the flow run did not succeed: {outcome}, {record.put_failures} failures")
    with runtime.store.read() as uow:
        profiles = uow.profiles.count(runtime.domains.record(ctx, "bench").id)
    print(f"  profiles created: {profiles:,}")
    runtime.close()
    return record.records_processed, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000, help="records per flow page and per ingest batch")
    parser.add_argument("--database-url", default=None, help="default: SQLite on disk in a temp dir")
    args = parser.parse_args()

    records, persons = raw.reference.records(args.records)
    print(f"{args.records:,} records, {persons:,} distinct persons")
    with tempfile.TemporaryDirectory(prefix="openprofiles-bench-") as tmp:  # removed afterwards: GBs at 1M
        workdir = Path(tmp)
        source = workdir / "source" / "customers.jsonl"
        source.parent.mkdir()
        with source.open("w") as handle:
            for record in records:
                handle.write(record + "\n")
        os.environ.pop("OPENPROFILES_MASTER_KEY", None)

        marks = raw.run_ours(raw.batches_of(records, args.batch), args.database_url, workdir / "raw")
        raw_rate = marks[-1][0] / marks[-1][1]
        print(f"raw ingest:     {raw_rate:,.0f} records/s (IngestService.ingest, batches of {args.batch:,})")
        del records, marks

        raw.reset_peak()
        baseline = raw._status_mib("VmRSS")
        processed, elapsed = run_flow(source, args.database_url, workdir / "flow", args.batch)
        peak = raw._status_mib("VmHWM")
        if processed != args.records:
            raise SystemExit(f"the flow processed {processed:,} records, not {args.records:,}")
        rate = processed / elapsed
        print(f"flow run:       {rate:,.0f} records/s (Files connector, 6 tasks, pages of {args.batch:,})")
        print(f"  ratio to the raw ingest: {rate / raw_rate:.2f}x (target >= 0.7x)")
        print(f"  peak memory during the flow run: {peak:,.0f} MiB, of which {baseline:,.0f} MiB were the process "
              f"before it; the run itself added {peak - baseline:,.0f} MiB")


if __name__ == "__main__":
    main()
