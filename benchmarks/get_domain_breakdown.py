"""Where a GetDomain call spends its time inside the server, without HTTP or boto3.

    python benchmarks/get_domain_breakdown.py [--calls 3000] [--postgres | --database-url postgresql://…]

Builds the runtime and the ASGI app in this process on a temp data dir (SQLite unless a URL is
given), creates a domain through the API, then times, per call:
  - ApiApp.handle for a signed GetDomain (what runs in the worker thread for each request),
  - its parts: the signature check with its key lookup, and the provider's get_domain,
  - the SQL statements it issues and the time spent inside the database driver
    (SQLAlchemy cursor events), so the rest is Python overhead around them,
  - one anyio.to_thread hop (the event loop hands each request to a worker thread).
Medians of --repeat runs; the machine is shared and noisy, so compare figures from one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from sqlalchemy import event  # noqa: E402

from openprofiles.api.auth import parse_authorization  # noqa: E402
from openprofiles.api.dispatch import ApiApp, HttpRequest  # noqa: E402
from openprofiles.app import build_runtime, create_app  # noqa: E402
from openprofiles.context import RequestContext  # noqa: E402
from openprofiles.settings import Settings  # noqa: E402

DOMAIN = "bench"
HOST = "127.0.0.1:8000"


def signed(key: Any, method: str, path: str, body: bytes = b"") -> HttpRequest:
    request = AWSRequest(method=method, url=f"http://{HOST}{path}", data=body, headers={"Host": HOST})
    if body:
        request.headers["Content-Type"] = "application/json"
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "profile", "us-east-1").add_auth(request)
    return HttpRequest(method, path, "", [(k.lower(), v) for k, v in request.headers.items()], body)


def per_call_us(fn: Callable[[], object], calls: int, repeat: int) -> float:
    for _ in range(min(calls, 200)):
        fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL cluster for the run")
    args = parser.parse_args()

    cluster = None
    database_url = args.database_url
    if args.postgres:
        from tests.harness import PostgresCluster

        cluster = PostgresCluster()
        cluster.start()
        database_url = cluster.new_database()
    try:
        with tempfile.TemporaryDirectory(prefix="openprofiles-breakdown-") as tmp:
            runtime = build_runtime(Settings(data_dir=Path(tmp), database_url=database_url))
            try:
                run(runtime, args.calls, args.repeat)
            finally:
                runtime.close()
    finally:
        if cluster:
            cluster.stop()


def find_api(app: Any) -> ApiApp:
    """The ApiApp inside whatever create_app returns (an attribute or a mounted route)."""
    candidates = [getattr(app, "api", None)] + [getattr(r, "app", None) for r in getattr(app, "routes", [])]
    for candidate in candidates:
        if isinstance(candidate, ApiApp):
            return candidate
    raise RuntimeError(f"no ApiApp found in {app!r}")


def run(runtime: Any, calls: int, repeat: int) -> None:
    app = create_app(runtime)
    api = find_api(app)
    key = runtime.access_keys.create("000000000000")
    created = api.handle(signed(key, "POST", f"/domains/{DOMAIN}", b'{"DefaultExpirationDays": 366}'))
    assert created.status == 200, created.body
    request = signed(key, "GET", f"/domains/{DOMAIN}")
    assert api.handle(request).status == 200

    stats = {"statements": 0, "driver": 0.0}

    @event.listens_for(runtime.db.engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info["bench_started"] = time.perf_counter()

    @event.listens_for(runtime.db.engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        stats["statements"] += 1
        stats["driver"] += time.perf_counter() - conn.info.pop("bench_started")

    handle_us = per_call_us(lambda: api.handle(request), calls, repeat)
    stats["statements"], stats["driver"] = 0, 0.0
    api.handle(request)
    statements = stats["statements"]
    stats["statements"], stats["driver"] = 0, 0.0
    for _ in range(calls):
        api.handle(request)
    driver_us = stats["driver"] / calls * 1e6
    print(f"database: {runtime.db.dialect}; {calls} calls x {repeat} runs, median per call")
    print(f"ApiApp.handle, signed GetDomain              {handle_us:8.1f} us")
    print(f"  SQL statements per call                    {statements:8d}   (cursor executes, BEGIN included)")
    print(f"  time inside the database driver            {driver_us:8.1f} us")

    scope = parse_authorization(dict(request.headers)["authorization"])
    auth = api.authenticator
    auth_us = per_call_us(
        lambda: auth.authenticate(scope, "GET", request.raw_path, "", request.headers, b""), calls, repeat
    )
    lookup_us = per_call_us(lambda: auth.lookup(key.access_key_id), calls, repeat)
    print(f"  signature check (incl. key lookup)         {auth_us:8.1f} us")
    print(f"    access key lookup (read txn + decrypt)   {lookup_us:8.1f} us")

    provider = api.providers["customer-profiles"]
    ctx_args = {
        "account_id": "000000000000",
        "region": "us-east-1",
        "operation": "GetDomain",
        "request_id": "bench",
        "now": datetime.now(UTC),
    }
    try:
        ctx = RequestContext(**ctx_args)
    except TypeError as error:  # the context grew fields since this was written
        print(f"  (provider timing skipped: {error})")
    else:
        provider_us = per_call_us(lambda: provider.get_domain(ctx, {"DomainName": DOMAIN}), calls, repeat)
        print(f"  provider.get_domain                        {provider_us:8.1f} us")

    def empty_read() -> None:
        with runtime.db.read():
            pass

    print(f"  an empty read transaction                  {per_call_us(empty_read, calls, repeat):8.1f} us")

    import anyio
    import anyio.to_thread

    async def hops() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            await anyio.to_thread.run_sync(lambda: None)
        return (time.perf_counter() - start) / calls * 1e6

    print(f"anyio.to_thread.run_sync hop                 {anyio.run(hops):8.1f} us")


if __name__ == "__main__":
    main()
