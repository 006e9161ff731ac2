"""Which databases a tenant's SQL connector profile may reach, and how the connector opens them.

The operator allow-lists targets ([security](../../docs/security.md)): named connections
(`--sql-connection NAME=URL`, the URL with its credentials; a profile names it in `connection`) or
URL patterns (`--sql-url-pattern GLOB`, matched against the profile's `url` in a canonical form
without the password). Whatever the grant, the server's own database and any file in its data
directory are refused, SQLite files open read-only, and a PostgreSQL connection takes nothing from
the server's environment (`PG*` variables, `~/.pgpass`, its client certificate or Kerberos ticket).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import URL

from openprofiles.connectors.base import ConnectorError, NotGranted
from openprofiles.connectors.grants import Grants

SETTINGS = ("--sql-connection NAME=URL (OPENPROFILES_SQL_CONNECTIONS) or --sql-url-pattern GLOB "
            "(OPENPROFILES_SQL_URL_PATTERNS)")
#: The databases a tenant's own `url` may name (named connections may be of any installed dialect).
TENANT_BACKENDS = frozenset({"sqlite", "postgresql"})
#: URL query parameters a tenant's `url` may carry (others could redirect the connection or read host files).
TENANT_QUERY = {"postgresql": frozenset({"sslmode", "application_name", "connect_timeout"}),
                "sqlite": frozenset()}
#: libpq parameters given a fixed value when the URL does not set them (the rest get libpq's compiled default).
_LIBPQ_FIXED = {
    "password": "", "passfile": os.path.join(os.devnull, "none"),  # a path that cannot exist: no password file
    "sslcertmode": "disable", "gssencmode": "disable", "require_auth": "!gss,!sspi", "gssdelegation": "0",
    "connect_timeout": "10", "min_protocol_version": "3.0", "max_protocol_version": "3.0",
}
#: libpq parameters left alone: the service (a service file's values apply only to parameters not set),
#: and those without an environment variable that cannot be given empty (TCP keep-alive, SCRAM keys).
_LIBPQ_UNSET = frozenset({"service", "replication", "scram_client_key", "scram_server_key", "keepalives",
                          "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout"})


@dataclass(frozen=True)
class Target:
    """How the connector connects: an engine URL and its options, or for SQLite a read-only opener."""

    url: URL
    #: Secrets to redact from driver messages.
    secrets: tuple[str, ...] = ()
    connect_args: Mapping[str, Any] = field(default_factory=dict)
    creator: Callable[[], Any] | None = None


def _parse(raw: str, what: str) -> URL:
    try:
        return sa.make_url(raw)
    except (sa.exc.ArgumentError, ValueError):
        raise ConnectorError(f"{what} is not a SQLAlchemy URL (dialect+driver://user@host/database)") from None


def target(properties: Mapping[str, Any], credentials: Mapping[str, Any], grants: Grants) -> Target:
    """The database a profile names, if the operator granted it; NotGranted names the setting otherwise."""
    if not grants.sql_connections and not grants.sql_url_patterns:
        raise NotGranted(f"the SQL connector is off: the operator allow-lists databases with {SETTINGS}")
    name, raw = properties.get("connection"), properties.get("url")
    basic = credentials.get("basic") or {}
    if name is not None and raw is not None:
        raise ConnectorError("give the profile a 'connection' (a named connection) or a 'url', not both")
    if name is not None:
        if not isinstance(name, str) or name not in grants.sql_connections:
            raise NotGranted(f"no SQL connection named {name!r}: the operator defines named connections with "
                             "--sql-connection NAME=URL (OPENPROFILES_SQL_CONNECTIONS)")
        if basic.get("username") or basic.get("password"):
            raise ConnectorError(f"the named connection {name} brings its own credentials: give the profile none")
        url = _parse(grants.sql_connections[name], f"the named connection {name}")
    else:
        url = _tenant_url(raw, basic, grants)
    url = _not_the_servers_own(url, grants)
    secrets = tuple(str(s) for s in (url.password, basic.get("password")) if s)
    if url.get_backend_name() == "sqlite":
        if url.database not in (None, "", ":memory:") and not Path(url.database).is_file():
            raise ConnectorError(f"the SQLite database {url.database} does not exist")
        return Target(sa.make_url("sqlite://"), secrets, creator=_read_only_sqlite(url.database))
    if url.get_backend_name() == "postgresql":
        return Target(url, secrets, connect_args=_libpq_isolated(url))
    return Target(url, secrets)


def _tenant_url(raw: Any, basic: Mapping[str, Any], grants: Grants) -> URL:
    """The profile's `url` with the basic credentials, refused unless it matches a pattern."""
    if not raw or not isinstance(raw, str):
        raise ConnectorError("the connector profile needs a 'url' property (a SQLAlchemy database URL) "
                             "or a 'connection' property (a named connection the operator defined)")
    url = _parse(raw, "the 'url' property")
    if url.password is not None:
        raise ConnectorError("the 'url' property must not hold a password: give it in the profile's basic credentials")
    backend = url.get_backend_name()
    if backend not in TENANT_BACKENDS:
        raise NotGranted(f"a profile's 'url' may name a SQLite or PostgreSQL database, not {url.drivername}; "
                         "the operator gives other databases as named connections with --sql-connection NAME=URL "
                         "(OPENPROFILES_SQL_CONNECTIONS)")
    unknown = sorted(set(url.query) - TENANT_QUERY[backend])
    if unknown:
        raise NotGranted(f"the 'url' property may not set {', '.join(unknown)}"
                             + (f" (it may set {', '.join(sorted(TENANT_QUERY[backend]))})" if TENANT_QUERY[backend]
                                else " (a SQLite database opens read-only, without URL options)"))
    if basic.get("username"):
        url = url.set(username=str(basic["username"]))
    if basic.get("password") is not None:
        url = url.set(password=str(basic["password"]))
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        url = url.set(database=str(Path(url.database).resolve()))
    if backend == "postgresql" and (not url.host or not url.username):
        raise ConnectorError("a PostgreSQL 'url' names its host and user (postgresql://USER@HOST:PORT/DATABASE; "
                             "the user may come from the basic credentials)")
    form = canonical(url)
    if not any(fnmatchcase(form, pattern) for pattern in grants.sql_url_patterns):
        raise NotGranted(f"{form} matches no SQL URL pattern the operator allows: the operator allow-lists "
                         f"databases with {SETTINGS}")
    return url


def canonical(url: URL) -> str:
    """What URL patterns match: DRIVER://USER@HOST:PORT/DATABASE?QUERY with each part percent-encoded, the
    port always given (5432 by default on PostgreSQL), no password; SQLite: DRIVER:///ABSOLUTE/PATH."""
    if url.get_backend_name() == "sqlite":
        return f"{url.drivername}:///{url.database}" if url.database else f"{url.drivername}://"
    user = f"{quote(url.username, safe='')}@" if url.username else ""
    port = url.port or (5432 if url.get_backend_name() == "postgresql" else None)
    form = f"{url.drivername}://{user}{quote(url.host or '', safe='')}{f':{port}' if port else ''}"
    form += f"/{quote(url.database or '', safe='')}"
    if url.query:
        form += "?" + "&".join(f"{quote(k, safe='')}={quote(str(v), safe='')}" for k, v in sorted(url.query.items()))
    return form


# --- never the server's own database ---------------------------------------------------------------


def _not_the_servers_own(url: URL, grants: Grants) -> URL:
    """`url`, unless it is the server's own database or a file in its data directory."""
    own = _parse(grants.database_url, "the server's database URL") if grants.database_url else None
    refusal = NotGranted("this is the OpenProfiles server's own database (or a file in its data directory), "
                         "which no connector profile may read")
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return url
        path = Path(url.database).resolve()
        if grants.data_dir is not None and path.is_relative_to(grants.data_dir.resolve()):
            raise refusal
        if own is not None and own.get_backend_name() == "sqlite" and own.database:
            mine = Path(own.database).resolve()
            if path == mine or (path.exists() and mine.exists() and os.path.samefile(path, mine)):
                raise refusal
        return url.set(database=str(path))
    both_postgresql = own is not None and url.get_backend_name() == own.get_backend_name() == "postgresql"
    if both_postgresql and own is not None and _database(url) == _database(own) and _port(url) == _port(own) and (
            _same_host(_host(url), _host(own))):
        raise refusal
    return url


def _query(url: URL, key: str) -> str | None:
    value = url.query.get(key)
    return value[-1] if isinstance(value, tuple) else value


def _host(url: URL) -> str | None:
    return url.host or _query(url, "host") or None


def _port(url: URL) -> int:
    return url.port or int(_query(url, "port") or 5432)


def _database(url: URL) -> str:
    return url.database or _query(url, "dbname") or url.username or ""


def _same_host(a: str | None, b: str | None) -> bool:
    """Whether two PostgreSQL hosts are one machine: an address in common, or both this machine (a
    socket directory or no host is this machine too)."""
    if a is not None and b is not None and a.lower() == b.lower():
        return True
    first, second = _addresses(a), _addresses(b)
    return bool(first & second) or (_local(first) and _local(second))


def _addresses(host: str | None) -> frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    if host is None or host.startswith("/"):
        return frozenset({ipaddress.ip_address("127.0.0.1")})
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return frozenset()
    return frozenset(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)


@cache
def _own_addresses() -> frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return _addresses(socket.gethostname())


def _local(addresses: frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    return any(a.is_loopback or a.is_unspecified or a in _own_addresses() for a in addresses)


# --- opening ----------------------------------------------------------------------------------------


def _read_only_sqlite(database: str | None) -> Callable[[], sqlite3.Connection]:
    """An opener of the SQLite file in read-only mode (it never creates or writes a file), refusing ATTACH."""
    uri = f"file:{quote(database)}?mode=ro" if database not in (None, "", ":memory:") else ":memory:"

    def open_read_only() -> sqlite3.Connection:
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
        connection.set_authorizer(_no_attach)
        return connection

    return open_read_only


def _no_attach(action: int, *_: Any) -> int:
    return sqlite3.SQLITE_DENY if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH) else sqlite3.SQLITE_OK


def _libpq_isolated(url: URL) -> dict[str, str]:
    """An explicit value for every libpq parameter the URL does not set, so that libpq takes none from the
    server's environment (PGPASSWORD, PGHOST, PGSSLKEY, …), ~/.pgpass or a service file."""
    given = {key for key, value in (("host", url.host), ("port", url.port), ("dbname", url.database),
                                    ("user", url.username), ("password", url.password)) if value is not None}
    return {key: value for key, value in _libpq_defaults().items() if key not in given and key not in url.query}


@cache
def _libpq_defaults() -> dict[str, str]:
    from psycopg import pq

    values: dict[str, str] = {}
    for option in pq.Conninfo.get_defaults():
        key = option.keyword.decode()
        if key not in _LIBPQ_UNSET:
            values[key] = _LIBPQ_FIXED.get(key, option.compiled.decode() if option.compiled else "")
    return values
