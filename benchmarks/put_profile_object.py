"""PutProfileObject through one boto3 client: objects/s, and where a call's time goes.

    python benchmarks/put_profile_object.py [--calls 3000] [--rounds 3]

Starts `openprofiles serve` (SQLite, temp data dir), defines an object type (UNIQUE + PROFILE
keys, like benchmarks/ingest.py), then times sequential put_profile_object calls with records
from ../shared/bench/reference.py. The same client against a null server (benchmarks/get_domain.py
starts one) measures what botocore itself costs per call; the rest is the server (our code,
HTTP and SQLite). Rounds alternate null / server. With --profile the server runs under cProfile
(benchmarks/get_domain.py's profiled server) and the profile of its worker threads and event loop
is printed after the figures (profiling slows the server: take the objects/s from a run without it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "shared" / "bench"))

import reference
from get_domain import OpenProfiles, make_client, report_profile, start_null_server, stop
from ingest import OBJECT_TYPE

DOMAIN = "bench"


def timed_puts(client: Any, records: list[str]) -> list[float]:
    latencies = []
    for record in records:
        start = time.perf_counter()
        client.put_profile_object(DomainName=DOMAIN, ObjectTypeName="crm", Object=record)
        latencies.append(time.perf_counter() - start)
    return latencies


def report(args: argparse.Namespace, results: dict[str, list[float]], p50s: dict[str, list[float]]) -> None:
    ours_rate, null_rate = statistics.median(results["ours"]), statistics.median(results["null"])
    per_call, client_part = 1 / ours_rate, 1 / null_rate
    print(f"PutProfileObject, one boto3 client, {args.calls} calls x {args.rounds} rounds (SQLite)")
    print(f"  openprofiles: {ours_rate:,.0f} objects/s (p50 {statistics.median(p50s['ours']):.2f} ms)")
    print(f"  null server:  {null_rate:,.0f} calls/s (p50 {statistics.median(p50s['null']):.2f} ms): botocore's own cost")
    print(f"  of {per_call * 1000:.2f} ms per call, botocore's client takes {client_part * 1000:.2f} ms "
          f"({client_part / per_call:.0%}) and the server {(per_call - client_part) * 1000:.2f} ms "
          f"({1 - client_part / per_call:.0%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="run the server under cProfile and print its profile")
    args = parser.parse_args()
    records, _ = reference.records(args.calls * args.rounds * 2 + 200)
    with tempfile.TemporaryDirectory(prefix="openprofiles-bench-") as tmp:
        profile_to = Path(tmp) / "server.prof" if args.profile else None
        server = OpenProfiles(Path(tmp), None, profile_to)
        null_process = None
        try:
            key = json.loads(server.cli("keys", "create", "--json"))
            server.start()
            null_process, null_endpoint = start_null_server()
            ours = make_client(server.endpoint, key["AccessKeyId"], key["SecretAccessKey"])
            null = make_client(null_endpoint, key["AccessKeyId"], key["SecretAccessKey"])
            ours.create_domain(DomainName=DOMAIN, DefaultExpirationDays=365)
            ours.put_profile_object_type(DomainName=DOMAIN, ObjectTypeName="crm", **OBJECT_TYPE)
            timed_puts(ours, records[:100])
            timed_puts(null, records[100:200])
            results: dict[str, list[float]] = {"ours": [], "null": []}
            p50s: dict[str, list[float]] = {"ours": [], "null": []}
            position = 200
            for _ in range(args.rounds):
                for name, client in (("null", null), ("ours", ours)):
                    batch = records[position : position + args.calls]
                    position += args.calls
                    start = time.perf_counter()
                    latencies = timed_puts(client, batch)
                    results[name].append(len(batch) / (time.perf_counter() - start))
                    p50s[name].append(statistics.median(latencies) * 1000)
        finally:
            if null_process:
                stop(null_process)
            server.stop()
        report(args, results, p50s)
        if profile_to:
            report_profile(profile_to)


if __name__ == "__main__":
    main()
