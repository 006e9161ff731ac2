"""Real parts for tests: a throwaway PostgreSQL cluster and `openprofiles serve` processes."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI") == "true"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PostgresCluster:
    """A cluster in a temp directory on a loopback port, run as `postgres` when we are root
    (PostgreSQL refuses to run as root), stopped and removed at the end of the test run."""

    def __init__(self) -> None:
        bindir = _pg_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="openprofiles-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
            os.chmod(self.root, 0o700)
        self._databases = 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True)

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        pidfile = self.data / "postmaster.pid"
        if pidfile.exists():
            pid = int(pidfile.read_text().split()[0])
            try:
                os.kill(pid, signal.SIGINT)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.05)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        self._databases += 1
        name = f"t{os.getpid()}_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@dataclass
class Credentials:
    access_key_id: str
    secret_access_key: str
    account_id: str


def cli(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the `openprofiles` command line."""
    return subprocess.run(
        [sys.executable, "-m", "openprofiles", *args],
        check=check,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


class Server:
    """`openprofiles serve` in a subprocess on a free loopback port."""

    def __init__(self, data_dir: Path, database_url: str | None, auth: str = "sigv4",
                 args: tuple[str, ...] = ()) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.auth = auth
        self.args = args  # more `serve` options
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None
        self.output = ""

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def storage_args(self) -> list[str]:
        args = ["--data-dir", str(self.data_dir)]
        if self.database_url:
            args += ["--database-url", self.database_url]
        return args

    def create_key(self, account_id: str = "000000000000") -> Credentials:
        out = cli("keys", "create", "--account-id", account_id, "--json", *self.storage_args())
        data = json.loads(out.stdout)
        return Credentials(data["AccessKeyId"], data["SecretAccessKey"], data["AccountId"])

    def start(self, timeout: float = 30) -> None:
        log = self.data_dir / f"server-{self.port}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "openprofiles", "serve", "--port", str(self.port), "--auth", self.auth,
             "--log-level", "warning", *self.storage_args(), *self.args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()}")
            try:
                if httpx.get(self.endpoint + "/health", timeout=1).status_code == 200:
                    self.output = log.read_text()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not become healthy: {log.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            self._log.close()
            self.output = (self.data_dir / f"server-{self.port}.log").read_text()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def client(self, service: str, creds: Credentials | None, region: str = "us-east-1", **config: Any) -> Any:
        kwargs: dict[str, Any] = {}
        if creds is not None:
            kwargs = {"aws_access_key_id": creds.access_key_id, "aws_secret_access_key": creds.secret_access_key}
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            config=Config(retries={"max_attempts": 1}, **config),
            **kwargs,
        )


# --- Signing requests by hand (clock skew, malformed headers, routing by scope) ---------------


class SigV4At(SigV4Auth):  # type: ignore[misc]
    """botocore's own SigV4 signer, with the signing time chosen by the caller instead of now."""

    def __init__(self, credentials: BotoCredentials, service: str, region: str, when: datetime) -> None:
        super().__init__(credentials, service, region)
        self.when = when

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self.when.astimezone(UTC).strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical)
        self._inject_signature_to_request(request, self.signature(string_to_sign, request))


def sign_request(
    creds: Credentials,
    method: str,
    url: str,
    *,
    service: str = "profile",
    region: str = "us-east-1",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    when: datetime | None = None,
) -> AWSPreparedRequest:
    """The request as botocore signs and sends it (signed at `when`, default now)."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {}, params=params or {})
    signer = SigV4At(
        BotoCredentials(creds.access_key_id, creds.secret_access_key), service, region, when or datetime.now(UTC)
    )
    signer.add_auth(request)
    return request.prepare()


def send(prepared: AWSPreparedRequest) -> httpx.Response:
    """Send a prepared request unchanged (httpx keeps percent-escapes in the URL as given)."""
    return httpx.request(
        prepared.method,
        prepared.url,
        headers=list(prepared.headers.items()),
        content=prepared.body or b"",
        timeout=10,
    )


def cli_in_process(*args: str, env: dict[str, str | None] | None = None) -> Any:
    """Run the `openprofiles` command line in this process (no interpreter start-up): a
    `click.testing.Result` with exit_code, stdout and stderr. A None in `env` unsets a variable."""
    from click.testing import CliRunner

    from openprofiles.cli import main

    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


class MotoServer:
    """moto's server mode on a loopback port: S3, SQS and KMS for tests, reached through boto3."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                httpx.get(self.endpoint + "/moto-api/", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("moto server did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)

    def env(self) -> dict[str, str]:
        """Environment that points boto3 (in this or a child process) at this server."""
        return {
            "AWS_ENDPOINT_URL_SQS": self.endpoint,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ENDPOINT_URL_KMS": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self, service: str, region: str = "us-east-1") -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region,
                            aws_access_key_id="testing", aws_secret_access_key="testing")


class Worker:
    """`openprofiles worker` in a subprocess, on the storage of a server (`args`: more options)."""

    def __init__(self, server: Server, *args: str) -> None:
        self.server = server
        self.args = args
        self.process: subprocess.Popen[str] | None = None
        self.log = server.data_dir / f"worker-{uuid.uuid4().hex[:8]}.log"

    def start(self, timeout: float = 30) -> None:
        self._log = open(self.log, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "openprofiles", "worker", *self.server.storage_args(), *self.args],
            stdout=self._log, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.output}")
            if "started" in self.output:
                return
            time.sleep(0.1)
        raise RuntimeError(f"worker did not start: {self.output}")

    @property
    def output(self) -> str:
        return self.log.read_text()

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            self._log.close()
        self.process = None


class EnvServer(Server):
    """A server given its storage only through OPENPROFILES_DATA_DIR / OPENPROFILES_DATABASE_URL
    in the environment it inherits (set them, e.g. with monkeypatch.setenv, before start())."""

    def storage_args(self) -> list[str]:
        return []
