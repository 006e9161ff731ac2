"""What the operator enabled for tenants' connectors ([security](../../docs/security.md)).

The operator (whoever runs `openprofiles serve`/`worker`) owns the host, its files, network and
cloud credentials. A tenant's connector profile reaches none of them unless a `Grants` field
names it; a `Grants()` built with no arguments enables nothing. Built once from the settings in
`app.build_runtime` and handed to every connector in its `Connection`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from openprofiles.aws_access import AwsAccess


@dataclass(frozen=True)
class Grants:
    #: Directories the Files connector may read (resolved); none: the Files connector is off.
    files_roots: tuple[Path, ...] = ()
    #: Named SQL connections the operator defined (name -> SQLAlchemy URL with its credentials).
    sql_connections: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: Glob patterns a tenant-supplied SQL URL (credentials removed) must match.
    sql_url_patterns: tuple[str, ...] = ()
    #: Singer tap executables a tenant may name (name -> absolute path).
    singer_taps: Mapping[str, Path] = field(default_factory=dict)
    #: Seconds a tap may run, and bytes of output it may write in one run.
    singer_timeout: float = 3600.0
    singer_max_output: int = 1 << 30
    #: Installed entry-point connector plugins tenants may register and use.
    plugins: frozenset[str] = frozenset()
    #: Host names, addresses or networks (CIDR) connectors may reach although they are private.
    connector_hosts: tuple[str, ...] = ()
    #: Operator AWS resources mapped to accounts: (account id, ARN glob) pairs.
    aws_resources: tuple[tuple[str, str], ...] = ()
    #: IAM roles the operator mapped to accounts (account id -> role ARN), assumed for that account.
    aws_roles: Mapping[str, str] = field(default_factory=dict)
    #: The server's own data directory and database: never reachable by a tenant's connector.
    data_dir: Path | None = None
    database_url: str | None = field(default=None, repr=False)

    @cached_property
    def aws(self) -> AwsAccess:
        """boto3 clients for tenants' AWS resources under these grants (one per Grants, shared by its users)."""
        return AwsAccess(self.aws_resources, self.aws_roles)
