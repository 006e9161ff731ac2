"""Settings, from command-line flags or `OPENPROFILES_*` environment variables."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from openprofiles.storage.database import sqlite_url

AUTH_MODES = ("sigv4", "open")


class SettingsError(ValueError):
    """A setting the operator gave that cannot be used; the message names it."""


def pairs(setting: str, values: tuple[str, ...]) -> dict[str, str]:
    """`NAME=VALUE` entries of a repeatable setting as a dict; SettingsError names a malformed one."""
    out: dict[str, str] = {}
    for number, value in enumerate(values, 1):
        name, sep, rest = value.partition("=")
        if not sep or not name.strip() or not rest.strip():
            # The value is never echoed: a URL given without its NAME= may carry a password.
            named = f" ({name.strip()!r})" if sep and name.strip() else ""
            raise SettingsError(f"{setting}: entry {number}{named} is not NAME=VALUE")
        out[name.strip()] = rest.strip()
    return out


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".openprofiles")
    database_url: str | None = field(default=None, repr=False)
    auth: str = "sigv4"
    master_key: str | None = field(default=None, repr=False)
    expiry_interval: float = 3600.0
    dead_letter_interval: float = 60.0
    scheduler_interval: float = 10.0
    #: Flow runs: at most this many at once in this process, records per batch, lease and stuck-run seconds.
    flow_concurrency: int = 2
    flow_batch_size: int = 1000
    run_lease: float = 30.0
    stuck_run_timeout: float = 600.0
    #: The region whose domains and flows the web console shows.
    console_region: str = "us-east-1"
    #: Console sessions: seconds a session lasts after sign-in.
    session_ttl: float = 28800.0
    #: The HTTP edge: idle keep-alive, request-head and body read timeouts (seconds), open connections at most.
    keep_alive_timeout: float = 5.0
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 512
    #: What the operator enabled for tenants (docs/security.md); every one is off by default.
    files_roots: tuple[Path, ...] = ()
    #: "NAME=URL" SQL connections the operator defines; tenants name them.
    sql_connections: tuple[str, ...] = field(default=(), repr=False)
    sql_url_patterns: tuple[str, ...] = ()
    #: "NAME=/absolute/path" Singer tap executables; a tap's time and output limits.
    singer_taps: tuple[str, ...] = ()
    singer_timeout: float = 3600.0
    singer_max_output: int = 1 << 30
    plugins: tuple[str, ...] = ()
    connector_hosts: tuple[str, ...] = ()
    #: "ACCOUNT=ARN-GLOB" operator AWS resources mapped to an account; "ACCOUNT=ROLE-ARN" roles assumed for it.
    aws_resources: tuple[str, ...] = ()
    aws_roles: tuple[str, ...] = ()

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or SQLite in the data directory."""
        return self.database_url or sqlite_url(self.data_dir)

    @property
    def database_kind(self) -> str:
        return "postgresql" if self.resolved_database_url.startswith(("postgres", "postgresql")) else "sqlite"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
