"""GetDomain round trips through one boto3 client: OpenProfiles against a null HTTP server.

    python benchmarks/get_domain.py                     # SQLite in a temp data dir
    python benchmarks/get_domain.py --postgres          # a throwaway PostgreSQL cluster (tests/harness.py)
    python benchmarks/get_domain.py --database-url postgresql://user@127.0.0.1:5432/db
    python benchmarks/get_domain.py --profile           # also: where the server's time goes (cProfile)

Starts `openprofiles serve` on a free loopback port, creates an access key and a domain, then
times `--calls` sequential get_domain calls (after a warm-up) through one boto3 client. The
yardstick is a boto3 client built the same way against a null server (a separate process that
answers every request 200 with a fixed GetDomain body), so the ratio shows what the server adds
on top of what boto3 itself costs. Rounds alternate null / server to spread the machine's noise.
The ceiling in shared/reference/performance.md: one boto3 client does 1.0k-1.1k calls/s against
a null server; the target is >= 0.7x of that (>= 750 calls/s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CEILING = (1000.0, 1100.0)  # one boto3 client vs a null server, calls/s (performance.md)
TARGET = 750.0
DOMAIN = "bench"
REGION = "us-east-1"

# What a null server answers: a valid GetDomain body of the same shape as ours.
NULL_BODY = json.dumps(
    {
        "DomainName": DOMAIN,
        "DefaultExpirationDays": 366,
        "CreatedAt": 1764324000.123,
        "LastUpdatedAt": 1764324000.123,
        "Stats": {"ProfileCount": 0, "MeteringProfileCount": 0, "ObjectCount": 0, "TotalSize": 0},
    },
    separators=(",", ":"),
).encode()


# --------------------------------------------------------------------------- the null server


class _NullProtocol(asyncio.Protocol):
    """Answers each HTTP/1.1 request (keep-alive, pipelining) with 200 and a fixed body."""

    RESPONSE = b""  # set by run_null_server
    BUSY_S = 0.0  # CPU time spent on each request before answering (set by run_null_server)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            if self.BUSY_S:
                until = time.perf_counter() + self.BUSY_S
                while time.perf_counter() < until:  # computing, as a server would (not sleeping)
                    pass
            self.transport.write(self.RESPONSE)


def null_response(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"x-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def run_null_server(port: int, body: bytes = NULL_BODY, busy_us: float = 0.0) -> None:
    """The null server's process (this script with --null-server PORT [BODY_FILE|-] [BUSY_US])."""
    _NullProtocol.RESPONSE = null_response(body)
    _NullProtocol.BUSY_S = busy_us / 1e6
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_NullProtocol, "127.0.0.1", port)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    asyncio.run(main())


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def peak_rss_mib(pid: int) -> float | None:
    """VmHWM (peak resident set) of a live process, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class OpenProfiles:
    """`openprofiles serve` in a subprocess on a free loopback port."""

    def __init__(self, data_dir: Path, database_url: str | None, profile_to: Path | None) -> None:
        self.data_dir = data_dir
        self.storage = ["--data-dir", str(data_dir)] + (["--database-url", database_url] if database_url else [])
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.profile_to = profile_to
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "openprofiles", *args, *self.storage],
            check=True, capture_output=True, text=True, timeout=120, cwd=ROOT,
        )
        return out.stdout

    def start(self, timeout: float = 60) -> None:
        serve = ["serve", "--port", str(self.port), "--log-level", "warning", *self.storage]
        if self.profile_to:
            command = [sys.executable, str(Path(__file__).resolve()), "--profiled-server", str(self.profile_to), *serve]
        else:
            command = [sys.executable, "-m", "openprofiles", *serve]
        self.log = open(self.data_dir / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("server exited:\n" + (self.data_dir / "server.log").read_text())
            try:
                with urllib.request.urlopen(self.endpoint + "/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not become healthy:\n" + (self.data_dir / "server.log").read_text())

    def stop(self) -> None:
        if self.process:
            stop(self.process)
            self.log.close()


def start_null_server(body_file: Path | None = None, busy_us: float = 0.0) -> tuple[subprocess.Popen[str], str]:
    """The null server in its own process, answering NULL_BODY or the contents of `body_file`; with
    `busy_us`, after computing that long for each request (a server with that much work and no
    other cost)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--null-server", str(port),
         str(body_file) if body_file else "-", str(busy_us)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        stop(process)
        raise RuntimeError("null server did not start")
    return process, f"http://127.0.0.1:{port}"


# --------------------------------------------------------------------------- the measurement


def make_client(endpoint: str, key_id: str, secret: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "customer-profiles",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def timed_calls(client: Any, calls: int) -> list[float]:
    """Latency of each of `calls` sequential get_domain calls, in seconds."""
    latencies = []
    clock = time.perf_counter
    for _ in range(calls):
        start = clock()
        client.get_domain(DomainName=DOMAIN)
        latencies.append(clock() - start)
    return latencies


def summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "rate": len(ordered) / elapsed,
        "p50": ordered[len(ordered) // 2] * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


def measure(client: Any, calls: int) -> dict[str, float]:
    start = time.perf_counter()
    latencies = timed_calls(client, calls)
    return summary(latencies, time.perf_counter() - start)


def run(args: argparse.Namespace) -> None:
    cluster = None
    database_url = args.database_url
    if args.postgres:
        sys.path.insert(0, str(ROOT))
        from tests.harness import PostgresCluster

        cluster = PostgresCluster()
        cluster.start()
        database_url = cluster.new_database()
    with tempfile.TemporaryDirectory(prefix="openprofiles-bench-") as tmp:
        server = OpenProfiles(Path(tmp), database_url, Path(args.profile_out) if args.profile else None)
        null_process = None
        try:
            key = json.loads(server.cli("keys", "create", "--json"))
            server.start()
            null_process, null_endpoint = start_null_server()
            ours = make_client(server.endpoint, key["AccessKeyId"], key["SecretAccessKey"])
            null = make_client(null_endpoint, key["AccessKeyId"], key["SecretAccessKey"])
            ours.create_domain(DomainName=DOMAIN, DefaultExpirationDays=366)
            rss_idle = peak_rss_mib(server.process.pid)  # type: ignore[union-attr]
            timed_calls(ours, args.warmup)
            timed_calls(null, args.warmup)

            results: dict[str, list[dict[str, float]]] = {"null": [], "ours": []}
            for _ in range(args.rounds):
                results["null"].append(measure(null, args.calls))
                results["ours"].append(measure(ours, args.calls))
            rss_peak = peak_rss_mib(server.process.pid)  # type: ignore[union-attr]
        except Exception:
            log = Path(tmp) / "server.log"
            if log.exists():
                print("server log (last 3000 characters):\n" + log.read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            if null_process:
                stop(null_process)
            server.stop()
            if cluster:
                cluster.stop()

    backend = "PostgreSQL" if database_url else "SQLite"
    print(f"GetDomain, one boto3 client, {args.calls} calls x {args.rounds} rounds ({backend}), after {args.warmup} warm-up calls")
    for name, label in (("ours", "openprofiles"), ("null", "null server ")):
        for i, r in enumerate(results[name], 1):
            print(f"  {label} round {i}: {r['rate']:7.0f} calls/s   p50 {r['p50']:.3f} ms   p99 {r['p99']:.3f} ms")
    med = {name: {k: statistics.median(r[k] for r in rs) for k in ("rate", "p50", "p99")} for name, rs in results.items()}
    ratio = med["ours"]["rate"] / med["null"]["rate"]
    print(
        f"median       openprofiles {med['ours']['rate']:.0f} calls/s, p50 {med['ours']['p50']:.3f} ms, "
        f"p99 {med['ours']['p99']:.3f} ms"
    )
    print(
        f"median       null server   {med['null']['rate']:.0f} calls/s, p50 {med['null']['p50']:.3f} ms, "
        f"p99 {med['null']['p99']:.3f} ms"
    )
    print(f"ratio to the null server (same machine, same run): {ratio:.2f}x")
    added = (1 / med["ours"]["rate"] - 1 / med["null"]["rate"]) * 1000
    print(f"time the server adds per call: {added:.3f} ms")
    low, high = CEILING
    print(
        f"ratio to the performance.md ceiling ({low:.0f}-{high:.0f} calls/s): "
        f"{med['ours']['rate'] / high:.2f}-{med['ours']['rate'] / low:.2f}x "
        f"(target >= 0.7x, {TARGET:.0f} calls/s: {'met' if med['ours']['rate'] >= TARGET else 'NOT met'})"
    )
    print(f"server peak RSS (VmHWM): {rss_peak:.1f} MiB (after start-up and one create_domain: {rss_idle:.1f} MiB)")
    if args.profile:
        report_profile(Path(args.profile_out))


# --------------------------------------------------------------------------- profiling


def run_profiled_server(out: Path, argv: list[str]) -> None:
    """Run `openprofiles serve` under cProfile: one profiler for the event-loop thread and one per
    worker thread around `ApiApp.handle` (cProfile sees only the thread that enabled it); both
    are written when the server stops. Only this benchmark patches the class, in its own process."""
    import cProfile
    import threading

    from openprofiles.api.dispatch import ApiApp
    from openprofiles.cli import main

    handler_profiles: list[cProfile.Profile] = []
    local = threading.local()
    original = ApiApp.handle

    def handle(self: ApiApp, *args: Any, **kwargs: Any) -> Any:
        profiler = getattr(local, "profiler", None)
        if profiler is None:
            profiler = local.profiler = cProfile.Profile()
            handler_profiles.append(profiler)
        profiler.enable()
        try:
            return original(self, *args, **kwargs)
        finally:
            profiler.disable()

    ApiApp.handle = handle  # type: ignore[method-assign]
    # uvicorn re-raises SIGTERM after its graceful shutdown; let that unwind to the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    loop_profile = cProfile.Profile()
    loop_profile.enable()
    try:
        main(argv, standalone_mode=False)
    finally:
        loop_profile.disable()
        loop_profile.dump_stats(str(out) + ".loop")
        if handler_profiles:
            import pstats

            stats = pstats.Stats(handler_profiles[0])
            for p in handler_profiles[1:]:
                stats.add(p)
            stats.dump_stats(str(out) + ".handler")


def report_profile(out: Path) -> None:
    import pstats

    for suffix, title in ((".handler", "worker threads: ApiApp.handle"), (".loop", "event-loop thread")):
        path = Path(str(out) + suffix)
        if not path.exists():
            print(f"\n(no profile written at {path})")
            continue
        print(f"\n=== {title} (cProfile, cumulative; {path})")
        pstats.Stats(str(path)).sort_stats("cumulative").print_stats(35)
        print(f"=== {title} (cProfile, own time)")
        pstats.Stats(str(path)).sort_stats("tottime").print_stats(20)


# --------------------------------------------------------------------------- entry point


def main() -> None:
    if len(sys.argv) >= 3 and sys.argv[1] == "--null-server":
        rest = sys.argv[3:]
        body = Path(rest[0]).read_bytes() if rest and rest[0] != "-" else NULL_BODY
        run_null_server(int(sys.argv[2]), body, float(rest[1]) if len(rest) > 1 else 0.0)
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--profiled-server":
        run_profiled_server(Path(sys.argv[2]), sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000, help="timed calls per round and target (default 3000)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating null/server rounds (default 3)")
    parser.add_argument("--warmup", type=int, default=300, help="untimed calls first (default 300)")
    parser.add_argument("--database-url", default=os.environ.get("OPENPROFILES_DATABASE_URL"), help="PostgreSQL URL")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL cluster for the run")
    parser.add_argument("--profile", action="store_true", help="run the server under cProfile and print where time goes")
    parser.add_argument("--profile-out", default=str(Path(tempfile.gettempdir()) / "openprofiles-get-domain.prof"))
    args = parser.parse_args()
    if args.calls < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--calls and --rounds must be positive, --warmup not negative")
    if args.postgres and args.database_url:
        parser.error("--postgres and --database-url exclude each other")
    run(args)


if __name__ == "__main__":
    main()
