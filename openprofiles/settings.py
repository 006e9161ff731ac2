"""Settings, from command-line flags or `OPENPROFILES_*` environment variables."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from openprofiles.storage.database import sqlite_url

AUTH_MODES = ("sigv4", "open")


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
