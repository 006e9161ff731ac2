#!/usr/bin/env python3
"""Search by key at scale: in process and through boto3 SearchProfiles, beside the reference loop.

    python benchmarks/search.py [--profiles 1000000] [--lookups 20000] [--calls 2000]

Builds the profiles through the batch ingest service (three keys each: _email, _phone,
_account; encryption on), then times random key lookups that return the profile (95% hits):
in process (SearchService, the code behind SearchProfiles) and through one boto3 client
against `openprofiles serve` on the same database. Targets: in process p99 <= 100 us;
through boto3 p99 <= 3 ms. The reference loop (stdlib sqlite3, no decryption) runs on the
same number of profiles in the same run.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "shared" / "bench"))

import reference  # noqa: E402  (the yardstick beside the project)

from openprofiles.app import build_runtime  # noqa: E402
from openprofiles.services.context import RequestContext  # noqa: E402
from openprofiles.services.customer_profiles.search import SearchKey  # noqa: E402
from openprofiles.settings import Settings  # noqa: E402
from tests.harness import Credentials, Server  # noqa: E402

OBJECT_TYPE = {
    "Description": "people",
    "AllowProfileCreation": True,
    "Fields": {
        "n": {"Source": "_source.n"},
        "email": {"Source": "_source.email", "Target": "_profile.EmailAddress", "ContentType": "EMAIL_ADDRESS"},
        "phone": {"Source": "_source.phone", "Target": "_profile.PhoneNumber", "ContentType": "PHONE_NUMBER"},
        "account": {"Source": "_source.account", "Target": "_profile.AccountNumber"},
        "first": {"Source": "_source.first", "Target": "_profile.FirstName"},
        "note": {"Source": "_source.note", "Target": "_profile.Attributes.note"},
    },
    "Keys": {
        "n": [{"StandardIdentifiers": ["UNIQUE"], "FieldNames": ["n"]}],
        "_email": [{"StandardIdentifiers": ["PROFILE"], "FieldNames": ["email"]}],
    },
}


def identity(i: int) -> dict[str, str]:
    """The same identities the reference search loop uses."""
    return {"_email": f"{i * 2654435761 % 2**32:08x}.{i}@example.com",
            "_phone": f"+1{i * 7919 % 10**10:010d}", "_account": f"ACC{i * 104729 % 10**12:012d}"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def queries(n_profiles: int, lookups: int) -> list[tuple[str, str]]:
    rng = random.Random(99)
    out = []
    for _ in range(lookups):
        name = rng.choice(["_email", "_phone", "_account"])
        out.append((name, identity(rng.randrange(n_profiles))[name] if rng.random() < 0.95 else "missing"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=2_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="openprofiles-search-"))

    ref = reference.search(args.profiles, args.lookups, str(workdir / "reference.db"))
    print(f"reference loop at {args.profiles:,} profiles: {ref['lookups_per_s']:,.0f} lookups/s, "
          f"p50 {ref['p50_us']:.1f} us, p99 {ref['p99_us']:.1f} us")

    data = workdir / "data"
    runtime = build_runtime(Settings(data_dir=data))
    now = datetime.now(UTC)
    ctx = RequestContext("000000000000", "us-east-1", "bench", "bench", now)
    runtime.domains.create(ctx, "bench", default_expiration_days=365, default_encryption_key=None,
                           dead_letter_queue_url=None, settings={}, tags={})
    domain = runtime.domains.record(ctx, "bench")
    otype = runtime.object_types.put(domain, "people", OBJECT_TYPE, now).object_type
    start = time.perf_counter()
    for lo in range(0, args.profiles, 10_000):
        batch = [json.dumps({"n": str(i), **{k[1:]: v for k, v in identity(i).items()}, "first": "Jane",
                             "note": "x" * 120}) for i in range(lo, min(lo + 10_000, args.profiles))]
        runtime.ingest.ingest(domain, otype, batch, source="bench", performed_by="bench", now=now)
    print(f"built {args.profiles:,} profiles through the ingest service in {time.perf_counter() - start:,.0f} s")

    qs = queries(args.profiles, args.lookups)
    latencies = []
    hits = 0
    for name, value in qs:
        t = time.perf_counter_ns()
        found = runtime.search.search(domain, [SearchKey(name, (value,))], False, None, 20)
        latencies.append((time.perf_counter_ns() - t) / 1000)
        hits += bool(found)
    p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
    print(f"in process: {len(qs) / (sum(latencies) / 1e6):,.0f} lookups/s, p50 {p50:.1f} us, p99 {p99:.1f} us "
          f"(target p99 <= 100 us; {hits / len(qs):.0%} hits); ratio to reference: "
          f"{ref['p99_us'] / p99:.2f}x at p99")
    runtime.close()

    server = Server(data, None, auth="open")
    server.start()
    try:
        client = server.client("customer-profiles", Credentials("AKIABENCH", "bench", "000000000000"))  # open mode
        for name, value in qs[:50]:
            client.search_profiles(DomainName="bench", KeyName=name, Values=[value])
        calls = []
        for name, value in qs[: args.calls]:
            t = time.perf_counter_ns()
            client.search_profiles(DomainName="bench", KeyName=name, Values=[value])
            calls.append((time.perf_counter_ns() - t) / 1e6)
        print(f"through boto3: {len(calls) / (sum(calls) / 1e3):,.0f} calls/s, p50 {statistics.median(calls):.2f} ms, "
              f"p99 {percentile(calls, 0.99):.2f} ms (target p99 <= 3 ms)")
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", str(workdir)], check=False)


if __name__ == "__main__":
    main()
