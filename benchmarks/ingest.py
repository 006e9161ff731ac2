#!/usr/bin/env python3
"""In-process batch ingest throughput, beside the reference loop, on the same records.

    python benchmarks/ingest.py [--records 1000000] [--batch 10000] [--database-url URL]

Records come from `records()` in ../shared/bench/reference.py (30% repeat customers). They are
mapped by an object type with a UNIQUE key and three PROFILE keys (_account, _email, _phone),
with encryption and history on, through the same IngestService that PutProfileObject uses.
Prints records/s overall and for the first and last 20%, peak memory, and the ratios to the
reference loop (target: ≥ 0.5× the reference, last 20% ≥ 0.6× the first 20%, peak < 1 GiB). The
reference runs before and after ours; the ratio is to the mean of the two. Ours runs in a process
of its own that reads the records from a file a batch at a time, so its peak memory is that of a
process ingesting, not of the harness that holds all the records for the reference loop.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "shared" / "bench"))

import reference  # noqa: E402  (the yardstick beside the project)

from openprofiles.app import build_runtime  # noqa: E402
from openprofiles.context import RequestContext  # noqa: E402
from openprofiles.settings import Settings  # noqa: E402

OBJECT_TYPE = {
    "Description": "CRM customers",
    "AllowProfileCreation": True,
    "Fields": {
        "seq": {"Source": "_source.Attributes.seq", "Target": "_profile.Attributes.seq"},
        "account": {"Source": "_source.AccountNumber", "Target": "_profile.AccountNumber"},
        "email": {"Source": "_source.EmailAddress", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
        "phone": {"Source": "_source.PhoneNumber", "Target": "_profile.PhoneNumber", "ContentType": "PHONE_NUMBER"},
        "first": {"Source": "_source.FirstName", "Target": "_profile.FirstName", "ContentType": "NAME"},
        "last": {"Source": "_source.LastName", "Target": "_profile.LastName", "ContentType": "NAME"},
        "city": {"Source": "_source.Address.City", "Target": "_profile.Address.City"},
        "postal": {"Source": "_source.Address.PostalCode", "Target": "_profile.Address.PostalCode"},
        "tier": {"Source": "_source.Attributes.tier", "Target": "_profile.Attributes.tier"},
    },
    "Keys": {
        "crmSeq": [{"StandardIdentifiers": ["UNIQUE"], "FieldNames": ["seq"]}],
        "_account": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["account"]}],
        "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}],
        "_phone": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["phone"]}],
    },
}


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Start the peak-RSS measurement afresh (Linux: writing 5 to clear_refs resets VmHWM)."""
    Path("/proc/self/clear_refs").write_text("5")


def batches_of(records: Sequence[str], batch: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(records), batch):
        yield records[i : i + batch]


def batches_from(path: Path, batch: int) -> Iterator[list[str]]:
    """The records of a file (one per line), `batch` at a time."""
    with path.open() as handle:
        while lines := [line.rstrip("\n") for line in itertools.islice(handle, batch)]:
            yield lines


def run_ours(batches: Iterable[Sequence[str]], database_url: str | None, data_dir: Path) -> list[tuple[int, float]]:
    """Ingest all batches; returns (records done, seconds spent ingesting) after each batch."""
    runtime = build_runtime(Settings(data_dir=data_dir, database_url=database_url))
    now = datetime.now(UTC)
    ctx = RequestContext("000000000000", "us-east-1", "bench", "bench", now)
    runtime.domains.create(ctx, "bench", default_expiration_days=365, default_encryption_key=None,
                           dead_letter_queue_url=None, settings={}, tags={})
    domain = runtime.domains.record(ctx, "bench")
    otype = runtime.object_types.put(domain, "crm", OBJECT_TYPE, now).object_type
    marks: list[tuple[int, float]] = []
    done, elapsed = 0, 0.0
    for chunk in batches:
        start = time.perf_counter()
        results = runtime.ingest.ingest(domain, otype, chunk, source="bench", performed_by="bench", now=now)
        elapsed += time.perf_counter() - start
        rejected = [r.rejected for r in results if r.rejected]
        if rejected:
            raise SystemExit(f"unexpected rejections: {rejected[:3]}")
        done += len(results)
        marks.append((done, elapsed))
    with runtime.store.read() as uow:
        profiles = uow.profiles.count(domain.id)
    print(f"  profiles created: {profiles:,}", file=sys.stderr)
    runtime.close()
    return marks


def ingest_process(path: Path, database_url: str | None, data_dir: Path, batch: int) -> None:
    """The measured side, in a process of its own that streams the records from a file: its peak
    memory is the whole process's (interpreter, imports and ingest), without the harness's copy of
    the records. Prints its figures as one JSON line."""
    start_rss = _status_mib("VmRSS")
    cpu = time.process_time()
    marks = run_ours(batches_from(path, batch), database_url, data_dir)
    cpu = time.process_time() - cpu
    print(json.dumps({"marks": marks, "cpu": cpu, "start_rss": start_rss, "peak": _status_mib("VmHWM")}))


def run_ours_apart(path: Path, database_url: str | None, data_dir: Path, batch: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--ingest-from", str(path), "--data-dir", str(data_dir),
               "--batch", str(batch)] + (["--database-url", database_url] if database_url else [])
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def run_reference(records: list[str], path: Path, batch: int) -> tuple[float, float]:
    """The reference loop: its records/s and the CPU seconds it took."""
    cpu = time.process_time()
    rate = reference.ingest(records, str(path), batch=batch)
    return rate, time.process_time() - cpu


def rate_between(marks: list[tuple[int, float]], lo: float, hi: float) -> float:
    """records/s between the marks nearest to fractions lo and hi of the run."""
    total = marks[-1][0]
    a = min(marks, key=lambda m: abs(m[0] - lo * total)) if lo > 0 else (0, 0.0)
    b = min(marks, key=lambda m: abs(m[0] - hi * total))
    if b[0] == a[0]:
        raise SystemExit("too few batches to tell the first 20% from the last: use more records or a smaller --batch")
    return (b[0] - a[0]) / (b[1] - a[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="default: SQLite on disk in a temp dir")
    parser.add_argument("--ingest-from", type=Path, help=argparse.SUPPRESS)  # the measured process
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.pop("OPENPROFILES_MASTER_KEY", None)
    if args.ingest_from:
        ingest_process(args.ingest_from, args.database_url, args.data_dir, args.batch)
        return

    records, persons = reference.records(args.records)
    print(f"{args.records:,} records, {persons:,} distinct persons")
    with tempfile.TemporaryDirectory(prefix="openprofiles-bench-") as tmp:  # removed afterwards: GBs at 1M
        workdir = Path(tmp)
        source = workdir / "records.jsonl"
        source.write_text("".join(record + "\n" for record in records))
        # The reference runs before and after ours and the ratio uses the mean of the two: a shared
        # machine's speed drifts over the ~15 minutes of a run, and one run on each side cancels that.
        before, cpu_before = run_reference(records, workdir / "reference-before.db", args.batch)
        print(f"reference loop (before): {before:,.0f} records/s", flush=True)
        ours = run_ours_apart(source, args.database_url, workdir / "data", args.batch)
        marks = ours["marks"]
        after, cpu_after = run_reference(records, workdir / "reference-after.db", args.batch)
        ref_cpu = (cpu_before + cpu_after) / 2
        ref_rate = (before + after) / 2
        print(f"reference loop (after):  {after:,.0f} records/s; mean {ref_rate:,.0f} records/s")
        total = marks[-1][0] / marks[-1][1]
        first, last = rate_between(marks, 0, 0.2), rate_between(marks, 0.8, 1.0)
        print(f"openprofiles:   {total:,.0f} records/s  ({total / ref_rate:.2f}x the reference's mean; target >= 0.5x; "
              f"{total / before:.2f}x before, {total / after:.2f}x after)")
        # CPU time leaves out what a shared machine takes away from the process (its wall time does not).
        print(f"  CPU time of all threads: {ours['cpu'] / marks[-1][0] * 1e6:,.0f} us per record; the reference's "
              f"{ref_cpu / args.records * 1e6:,.0f} us (by CPU time {ref_cpu / args.records / (ours['cpu'] / marks[-1][0]):.2f}x)")
        print(f"  first 20%: {first:,.0f} records/s, last 20%: {last:,.0f} records/s "
              f"(last/first {last / first:.2f}; target >= 0.6)")
        print(f"  peak memory of the ingesting process (records streamed from a file): {ours['peak']:,.0f} MiB "
              f"(target < 1024); {ours['start_rss']:,.0f} MiB after start-up, so the ingest added "
              f"{ours['peak'] - ours['start_rss']:,.0f} MiB")


if __name__ == "__main__":
    main()
